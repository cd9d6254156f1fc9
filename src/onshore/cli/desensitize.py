"""``onshore desensitize``: apply a profile, measure the risk left, check the profile's promise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from onshore import app
from onshore.cli._common import engine_options, err_console, out_console, print_json, progress
from onshore.desensitize import RiskReport, pseudonym_key
from onshore.errors import BadInput, PolicyRefusal
from onshore.io import QuarantineWriter, TableWriter, open_source, quarantine_path
from onshore.io.chunks import chunks_of
from onshore.jsonenc import dumps
from onshore.keystore import Keystore, onshore_home
from onshore.packs import load_pack
from onshore.packs.profiles import Profile


def sidecar_path(out: Path) -> Path:
    """Where the run's sidecar JSON goes: beside the output."""
    return out.with_name(out.name + ".desensitize.json")


@click.command("desensitize")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--profile",
    "profile_name",
    required=True,
    metavar="NAME|FILE",
    help="A profile of the pack (internal-analytics, export-default, "
    "export-aggregate) or a profile YAML file.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The desensitized output (.parquet, .csv or .jsonl; with --engine spark, a Parquet "
    "folder).",
)
@click.option(
    "--areas",
    type=click.Path(dir_okay=False),
    help="Sensitive-area GeoJSON (default: HOME/areas.geojson when present).",
)
@click.option(
    "--boundaries",
    type=click.Path(dir_okay=False),
    help="Administrative boundaries GeoJSON (for admin_level generalization).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the risk report as JSON.")
@click.option(
    "--subject", metavar="COLUMN", help="Column naming the data subject when it is not a VIN."
)
@click.option(
    "--pack", "pack_name", default="cn-auto", show_default=True, help="Policy pack name or folder."
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data home (default: $ONSHORE_HOME or ./onshore-data): keys and areas.",
)
@click.option("--key-id", metavar="ID", help="Pseudonymize with this older key (default: current).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    help="Input format (default: from the extension).",
)
@click.option("--quarantine", type=click.Path(path_type=Path), help="Where bad input rows go.")
@click.option(
    "--encoding",
    metavar="NAME",
    help="Text encoding of a CSV INPUT: utf-8, gb18030, gbk … (default: detected, UTF-8 with "
    "or without BOM, else GB18030, which contains GBK).",
)
@click.option("--batch-rows", default=65_536, show_default=True, help="Rows per batch.")
@engine_options
def desensitize(
    input_path: Path,
    profile_name: str,
    out: Path,
    areas: str | None,
    boundaries: str | None,
    as_json: bool,
    subject: str | None,
    pack_name: str,
    home: Path | None,
    key_id: str | None,
    fmt: str | None,
    quarantine: Path | None,
    encoding: str | None,
    batch_rows: int,
    engine: str,
    master: str | None,
) -> None:
    """Desensitize INPUT with a profile, write OUT and a sidecar OUT.desensitize.json.

    The input is streamed (larger than memory is fine when it is sorted by vehicle or by
    time). The output is re-classified: when it breaks the profile's promise (a level above
    the promised one, or a forbidden category or rule) nothing is written and the exit status
    is 4. The risk report (re-classification, trajectory unicity at p = 2 and 4, k-anonymity of
    the profile's quasi-identifiers, before and after) is printed, and with --json as JSON.
    Pseudonymization keys come from HOME/keys (created on first use, 0600) or from
    ONSHORE_KEY_HMAC_SHA256; the sidecar names the key ids, never the keys.

    \b
    Examples:
      onshore desensitize sample/telemetry.parquet --profile export-default \\
          --areas sample/areas.geojson --out export/telemetry.parquet
      onshore desensitize trips.csv --subject user_id --profile mine.yaml --out safe.csv --json
      onshore desensitize lake/telemetry/ --engine spark --profile export-default \\
          --areas areas.geojson --out export/telemetry/
    """
    pack = load_pack(pack_name)
    profile = pack.profile(profile_name)
    home = home or onshore_home()
    if areas is None and (home / "areas.geojson").is_file():
        areas = str(home / "areas.geojson")
    catalogue = boundary_cat = None
    if areas is not None:
        from onshore.geo import load_areas

        catalogue = load_areas(areas, kinds=pack.area_buffers())
    if boundaries is not None:
        from onshore.desensitize.boundaries import load_boundaries

        boundary_cat = load_boundaries(boundaries)
    key = None
    if any(s.op == "pseudonymize" for s in profile.steps):
        key = pseudonym_key(Keystore(home / "keys"), key_id)
    if out.resolve() == input_path.resolve():
        raise BadInput("--out must not be the input", file=str(out))
    if master is not None and engine != "spark":
        raise BadInput("--master needs --engine spark")
    if engine == "spark" and encoding is not None:
        raise BadInput("--encoding is for CSV input; --engine spark reads Parquet")
    if engine == "spark":
        from onshore.spark.desensitize import desensitize_path, write_beside

        report, spark_q, qcount = desensitize_path(
            input_path,
            profile,
            pack,
            out=out,
            key=key,
            areas=catalogue,
            boundaries=boundary_cat,
            subject=subject,
            fmt=fmt,
            quarantine=quarantine,
            batch_rows=batch_rows,
            master=master,
        )  # the output folder is written only when the promise is kept
        conclude(
            profile,
            report,
            input_path,
            out,
            areas,
            boundaries,
            as_json,
            (spark_q, qcount),
            write_text=write_beside(out),
        )
        return
    source = open_source(input_path, fmt=fmt, batch_rows=batch_rows, encoding=encoding)
    qpath = quarantine or quarantine_path(input_path, out)
    qwriter = QuarantineWriter(qpath, source=str(input_path))
    with progress(f"desensitize {input_path.name}", source) as advance:
        result = app.desensitize(
            chunks_of(source),
            profile,
            pack,
            out=TableWriter(out),
            quarantine=qwriter,
            key=key,
            areas=catalogue,
            boundaries=boundary_cat,
            subject=subject,
            label=str(input_path),
            on_chunk=advance,
        )
    conclude(
        profile,
        result.report,
        input_path,
        out,
        areas,
        boundaries,
        as_json,
        (str(qpath), qwriter.count),
    )


def conclude(
    profile: Profile,
    report: RiskReport,
    input_path: Path,
    out: Path,
    areas: str | None,
    boundaries: str | None,
    as_json: bool,
    quarantined: tuple[str | None, int],
    write_text: Callable[[Path, str], None] | None = None,
) -> None:
    """Refuse (exit 4) when the output breaks the promise; else write the sidecar and report."""
    payload = sidecar(report, input_path, out, areas, boundaries)
    if not report.promise.kept:
        if as_json:
            print_json(payload)
        else:
            print_report(out_console, report)
        raise PolicyRefusal(
            app.DesensitizeResult(profile, report, 0, quarantined[1]).refusal(str(out))
        )
    text = dumps(payload, indent=2, sort_keys=False) + "\n"
    if write_text is None:
        sidecar_path(out).parent.mkdir(parents=True, exist_ok=True)
        sidecar_path(out).write_text(text, encoding="utf-8")
    else:  # beside a remote output folder (hdfs://, s3a:// …), through Spark's file systems
        write_text(sidecar_path(out), text)
    qpath, count = quarantined
    if count:
        err_console.print(f"{count} bad input rows → {qpath}")
    result = app.DesensitizeResult(profile, report, report.rows_out, count)
    if as_json:
        if result.empty is not None:
            err_console.print(result.empty)
        print_json(payload)
    else:
        print_report(out_console, report)
        if result.empty is not None:
            out_console.print(result.empty)
        if write_text is not None:  # a Spark output, maybe remote: Spark said it wrote it
            out_console.print(f"Wrote {out} and {sidecar_path(out)}")
        else:  # name only what is there
            written = [p for p in (out, sidecar_path(out)) if p.exists()]
            out_console.print(f"Wrote {' and '.join(str(p) for p in written)}")


def sidecar(
    report: RiskReport, source: Path, out: Path, areas: str | None, boundaries: str | None
) -> dict[str, Any]:
    """The sidecar JSON: what ran (profile, parameters, key ids, never keys) and the risk."""
    return {
        "input": str(source),
        "output": str(out),
        "areas": areas,
        "boundaries": boundaries,
        "onshore": _version(),
        **report.to_dict(),
    }


def _version() -> str:
    from onshore import __version__

    return __version__


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(console: Console, report: RiskReport) -> None:
    """The human-readable risk summary."""
    promise = report.promise
    mark = "[green]kept[/]" if promise.kept else "[bold red]BROKEN[/]"
    console.rule(f"[bold]desensitize[/] · profile {report.profile} · pack {report.pack}")
    console.print(
        f"Rows: {report.rows_in:,} in → {report.rows_out:,} out"
        + (f", {report.rows_quarantined:,} quarantined" if report.rows_quarantined else "")
    )
    console.print(
        f"Promise: at most {promise.level.label} → output is {promise.found.label}: {mark}"
        + (f" (forbidden: {', '.join(promise.forbidden_found)})" if promise.forbidden_found else "")
    )
    if report.key_ids:
        console.print(f"Pseudonym key ids: {', '.join(report.key_ids)}")
    steps = Table(title="Steps", title_justify="left")
    for col in ("step", "rows in", "rows out"):
        steps.add_column(col, justify="left" if col == "step" else "right")
    for op in report.operators:
        steps.add_row(op.op, f"{op.rows_in:,}", f"{op.rows_out:,}")
    console.print(steps)
    risk = Table(title="Residual risk (before → after)", title_justify="left")
    risk.add_column("measure")
    risk.add_column("before", justify="right")
    risk.add_column("after", justify="right")
    risk.add_row("level", report.before.level.label, report.after.level.label)
    for figure in report.unicity_before:
        before, after = report.unicity_at(figure.p)
        risk.add_row(f"unicity, p = {figure.p}", _fmt(before), _fmt(after))
    kb, ka = report.kanon_before, report.kanon_after
    if kb.columns or ka.columns:
        risk.add_row(
            f"k-anonymity of {', '.join(kb.columns or ka.columns)}: k min",
            str(kb.k_min if kb.k_min is not None else "-"),
            str(ka.k_min if ka.k_min is not None else "-"),
        )
        risk.add_row(
            f"share of subjects in classes under k = {kb.k}",
            _fmt(kb.subjects_in_classes_below_k_share),
            _fmt(ka.subjects_in_classes_below_k_share),
        )
    console.print(risk)
    for op in report.operators:
        if op.op == "aggregate":
            for flow, figures in op.details.items():
                console.print(f"Aggregate {flow}: {figures}")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
