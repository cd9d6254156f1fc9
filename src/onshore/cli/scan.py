"""``onshore scan``: classify files and say what they hold."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import click

from onshore.cli._arrow import skip_pandas_probe

skip_pandas_probe()  # before anything below converts a value (issue 21)

from onshore import app  # noqa: E402
from onshore.cli._common import engine_options, err_console, out_console, print_json, progress  # noqa: E402
from onshore.cli.summary import print_assessment  # noqa: E402
from onshore.errors import BadInput  # noqa: E402
from onshore.geo import AreaIndex  # noqa: E402
from onshore.io import QuarantineWriter, TableWriter, open_source, quarantine_path  # noqa: E402
from onshore.io.chunks import chunks_of  # noqa: E402
from onshore.model import Assessment  # noqa: E402
from onshore.packs import Pack, load_pack  # noqa: E402


def load_index(areas: str | None, pack: Pack) -> AreaIndex | None:
    """Load a sensitive-area catalogue with the pack's kinds and build its index (or None)."""
    if areas is None:
        return None
    from onshore.geo import load_areas

    # adaptive: a small job never pays for loading numba; a large one moves to it (issue 21)
    return AreaIndex.build(load_areas(areas, kinds=pack.area_buffers()), engine="adaptive")


@click.command("scan")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--areas", type=click.Path(dir_okay=False), help="Sensitive-area GeoJSON.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write the input rows plus onshore_level, onshore_reasons, onshore_area "
    "(.parquet, .csv or .jsonl; with several inputs, a folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the assessment as JSON.")
@click.option(
    "--subject", metavar="COLUMN", help="Column naming the data subject when it is not a VIN."
)
@click.option(
    "--pack", "pack_name", default="cn-auto", show_default=True, help="Policy pack name or folder."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    help="Input format (default: from the extension).",
)
@click.option(
    "--quarantine",
    type=click.Path(path_type=Path),
    help="Where bad rows go (default: beside --out, else ./INPUT.quarantine.jsonl).",
)
@click.option(
    "--encoding",
    metavar="NAME",
    help="Text encoding of CSV input: utf-8, gb18030, gbk … (default: detected, UTF-8 with or "
    "without BOM, else GB18030, which contains GBK).",
)
@click.option(
    "--crs",
    type=click.Choice(["wgs84", "gcj02"]),
    default="wgs84",
    show_default=True,
    help="Coordinate system of positions without a crs column.",
)
@click.option("--batch-rows", default=131_072, show_default=True, help="Rows per batch.")
@engine_options
def scan(
    inputs: tuple[Path, ...],
    areas: str | None,
    out: Path | None,
    as_json: bool,
    subject: str | None,
    pack_name: str,
    fmt: str | None,
    quarantine: Path | None,
    encoding: str | None,
    crs: str,
    batch_rows: int,
    engine: str,
    master: str | None,
) -> None:
    """Classify INPUT files (Parquet, CSV, JSON lines) and summarize what they hold.

    Every row gets a level (general < personal < sensitive_personal < important), the ids of
    the rules behind it and, where it lies in or near a sensitive area, the area's id. Bad rows
    (unparseable, NaN or out-of-range coordinates, wrong types) are counted, written to a
    quarantine file with their row numbers, and never stop the scan.

    \b
    Examples:
      onshore scan sample/telemetry.parquet --areas sample/areas.geojson
      onshore scan trips.csv --subject user_id --out labelled.parquet --json
      onshore scan lake/telemetry/ --engine spark --out labelled/ --json
    """
    pack = load_pack(pack_name, profiles=False)
    index = load_index(areas, pack)
    if len(inputs) > 1 and out is not None and out.suffix:
        raise BadInput("with several inputs, --out must be a folder", file=str(out))
    if len(inputs) > 1 and quarantine is not None:
        raise BadInput("--quarantine takes one input; omit it to write one file per input")
    if master is not None and engine != "spark":
        raise BadInput("--master needs --engine spark")
    run = partial(scan_file, encoding=encoding)
    if engine == "spark" and encoding is not None:
        raise BadInput("--encoding is for CSV input; --engine spark reads Parquet")
    if engine == "spark":
        from onshore.spark.scan import scan_path

        run = partial(scan_path, master=master)
    results = []
    for path in inputs:
        target = out
        if out is not None and len(inputs) > 1:
            out.mkdir(parents=True, exist_ok=True)
            target = out / (path.stem + ".labelled.parquet")
        assessment, qpath = run(
            path,
            pack,
            index,
            out=target,
            subject=subject,
            fmt=fmt,
            quarantine=quarantine,
            batch_rows=batch_rows,
            crs=crs,
        )
        results.append((assessment, qpath))
        if not as_json:
            print_assessment(out_console, assessment, pack, quarantine=qpath)
    if as_json:
        payload = [a.to_dict() | {"quarantine": q} for a, q in results]
        print_json(payload[0] if len(payload) == 1 else payload)
    _fail_if_nothing_classified(inputs, results)


def _fail_if_nothing_classified(
    inputs: Sequence[Path], results: list[tuple[Assessment, str | None]]
) -> None:
    """A scan whose every row was quarantined is not a success: exit 2 with the count and the
    first reasons (the first such input). An input with no rows at all is said to be empty."""
    from onshore.io.quarantine import nothing_stored

    for path, (assessment, _) in zip(inputs, results, strict=True):
        if assessment.rows == 0 and assessment.rows_quarantined == 0:
            say = f"{path}: the input holds no rows; nothing to classify"
            err_console.print(say, markup=False, soft_wrap=True)
    for path, (assessment, qpath) in zip(inputs, results, strict=True):
        if assessment.rows == 0 and assessment.rows_quarantined:
            message = nothing_stored(assessment.rows_quarantined, qpath, verb="classified")
            raise BadInput(message, file=str(path))


def scan_file(
    path: Path,
    pack: Pack,
    index: AreaIndex | None,
    *,
    out: Path | None = None,
    subject: str | None = None,
    fmt: str | None = None,
    quarantine: Path | None = None,
    batch_rows: int = 131_072,
    crs: str = "wgs84",
    encoding: str | None = None,
) -> tuple[Assessment, str | None]:
    """Stream one file through the classifier; write labelled rows and quarantined rows."""
    source = open_source(path, fmt=fmt, batch_rows=batch_rows, encoding=encoding)
    qpath = quarantine or quarantine_path(path, out)
    qwriter = QuarantineWriter(qpath, source=str(path))
    with progress(f"scan {path.name}", source) as advance:
        result = app.scan(
            chunks_of(source),
            pack,
            index,
            out=TableWriter(out) if out is not None else None,
            quarantine=qwriter,
            subject=subject,
            crs=crs,
            label=str(path),
            on_chunk=advance,
        )
    return result.assessment, (str(qpath) if result.quarantined else None)
