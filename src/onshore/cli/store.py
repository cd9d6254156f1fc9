"""``onshore store``: put files into a store of the data home, list stores and data, purge."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from onshore.cli._common import err_console, out_console, print_json, progress
from onshore.errors import BadInput
from onshore.settings import Settings
from onshore.store import DEFAULT_STORE, DataHome, Lake
from onshore.store.db import parse_iso

if TYPE_CHECKING:
    from onshore.pipeline import IngestResult

F = TypeVar("F", bound=Callable[..., Any])


def home_options(func: F) -> F:
    """``--home``, ``--db`` and ``--actor``, shared by the store, consent and subject commands."""
    func = click.option(
        "--actor",
        default=lambda: f"cli:{getpass.getuser()}",
        show_default="cli:$USER",
        help="Who acts, as recorded in the ledger.",
    )(func)
    func = click.option(
        "--db",
        metavar="URL",
        envvar="ONSHORE_DB",
        help="sqlite:///PATH or postgresql://…[?schema=S] (default: HOME/meta.db; env ONSHORE_DB).",
    )(func)
    func = click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        help="Data home (default: $ONSHORE_HOME or ./onshore-data).",
    )(func)
    return func


def open_home(home: Path | None, db: str | None, actor: str, pack: str | None = None) -> DataHome:
    """The data home of the settings (flags > environment > HOME/config.yaml > defaults)."""
    from onshore.packs import load_pack

    settings = Settings.resolve({"home": home, "db": db, "pack": pack})
    return DataHome(settings.home, db=settings.db, actor=actor, pack=load_pack(settings.pack))


def parse_time(text: str | None, field: str) -> datetime | None:
    """An ISO 8601 time (a date means its UTC midnight); a naive time is taken as UTC."""
    if text is None:
        return None
    try:
        return parse_iso(text if ("T" in text or " " in text) else text + "T00:00:00Z")
    except ValueError as exc:
        raise BadInput(f"not an ISO 8601 time: {text!r}", field=field) from exc


@click.group("store")
def store() -> None:
    """Stores with a jurisdiction: the data home's Parquet lake and metadata database.

    Every store declares where it is by law (an ISO 3166 code) and in fact. Personal and
    important data are never written to a store outside the jurisdiction where they were
    collected (exit 4, and a policy_refusal entry in the ledger).

    \b
    Example:
      onshore store put sample/telemetry.parquet --dataset telemetry \\
          --areas sample/areas.geojson --purpose national_monitoring
      onshore store ls
    """


@dataclass
class _Counter:
    done: int
    total: int
    unit: str = "bytes"


@store.command("put")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", required=True, help="Dataset name in the lake.")
@click.option(
    "--purpose",
    help="Purpose of the collection: decides which columns have a legal basis (bases.yaml). "
    "Default: ONSHORE_PURPOSE, config.yaml's defaults, else national_monitoring.",
)
@click.option(
    "--areas",
    type=click.Path(dir_okay=False),
    help="Sensitive-area GeoJSON (default: ONSHORE_AREAS, config.yaml, HOME/areas.geojson).",
)
@click.option("--store", "store_name", help=f"Store to write to (default: {DEFAULT_STORE}).")
@click.option("--origin", help="Jurisdiction where the data was collected (default: the pack's).")
@click.option(
    "--subject",
    metavar="COLUMN",
    help="Column naming the data subject when it is not a VIN (a person: user_id); the "
    "consent gate applies the consents of persons (consent grant --subject) through it.",
)
@click.option(
    "--encoding",
    metavar="NAME",
    help="Text encoding of a CSV INPUT: utf-8, gb18030, gbk … (default: detected, UTF-8 with "
    "or without BOM, else GB18030, which contains GBK).",
)
@click.option("--pack", "pack_name", help="Policy pack (default: cn-auto).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@home_options
def put(
    input_path: Path,
    dataset: str,
    purpose: str | None,
    areas: str | None,
    store_name: str | None,
    origin: str | None,
    subject: str | None,
    encoding: str | None,
    pack_name: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Gate, classify and store INPUT (Parquet, CSV, JSON lines) as DATASET.

    The consent gate keeps only the columns with a legal basis for --purpose (by default
    nothing personal without one; consented columns per vehicle), the classifier labels every
    row, and the rows go to the lake, partitioned by date, with a `collection` and a `storage`
    entry in the ledger.

    \b
    Example:
      onshore store put sample/telemetry.parquet --dataset telemetry \\
          --areas sample/areas.geojson --purpose national_monitoring --json
    """
    from onshore.cli.scan import load_index
    from onshore.pipeline import ingest

    settings = Settings.resolve(
        {
            "home": home,
            "db": db,
            "pack": pack_name,
            "purpose": purpose,
            "areas": areas,
            "store": store_name,
        }
    )
    purpose, store_name = settings.purpose, settings.store
    with open_home(settings.home, settings.db, actor, settings.pack) as data_home:
        index = load_index(settings.areas, data_home.pack)
        counter = _Counter(0, input_path.stat().st_size)
        with progress(f"store {input_path.name}", counter) as advance:

            def on_batch() -> None:
                counter.done = min(counter.total, counter.done + counter.total // 20 + 1)
                advance()

            result = ingest(
                data_home,
                input_path,
                dataset=dataset,
                purpose=purpose,
                store=store_name,
                areas=index,
                origin=origin,
                subject=subject,
                on_batch=on_batch,
                encoding=encoding,
            )
    if as_json:
        print_json(result.to_dict())
        _fail_if_nothing_stored(result, input_path)
        return
    gate = result.gate
    dropped = ", ".join(f"{k}={v}" for k, v in gate.dropped_values.items()) or "nothing"
    nulled = ", ".join(f"{k}={v}" for k, v in gate.nulled_values.items()) or "nothing"
    out_console.print(
        f"stored [bold]{result.rows_stored:,}[/] of {result.rows_read:,} rows of "
        f"{input_path} as dataset [bold]{dataset}[/] in store {store_name} "
        f"({len(result.files)} files, level {result.assessment.level.label}, "
        f"{result.seconds:.2f} s, {result.rows_read / max(result.seconds, 1e-9):,.0f} rows/s)"
    )
    out_console.print(f"consent gate ({purpose}): dropped {dropped}; nulled {nulled}")
    for line in gate.why_lines():  # per column: why its values were dropped or nulled
        out_console.print(f"  {line}", markup=False, highlight=False)
    if gate.refused:
        out_console.print(f"[red]refused[/] biometric categories: {', '.join(gate.refused)}")
    if result.rows_quarantined:
        out_console.print(f"{result.rows_quarantined} bad rows quarantined in {result.quarantine}")
    _fail_if_nothing_stored(result, input_path)


def _fail_if_nothing_stored(result: IngestResult, input_path: Path) -> None:
    """A put that stores nothing is not a success: exit 2 (bad input) with the count and the
    first reasons. An input that holds no rows at all is not an error, and is said to be empty."""
    from onshore.io.quarantine import nothing_stored

    if result.rows_stored:
        return
    if not result.rows_read and not result.rows_quarantined:
        err_console.print(
            f"{input_path}: the input holds no rows; nothing to store", markup=False, soft_wrap=True
        )
        return
    if result.rows_quarantined:
        message = nothing_stored(result.rows_quarantined, result.quarantine, verb="stored")
    else:
        message = f"stored 0 of {result.rows_read} rows (none quarantined)"
    raise BadInput(message, file=str(input_path))


@store.command("add")
@click.argument("name")
@click.option("--jurisdiction", required=True, help="ISO 3166 code: CN, DE, US-CA …")
@click.option("--location", required=True, help="Where it is in fact (region, data centre).")
@click.option(
    "--path",
    "lake_path",
    help="Its lake: a folder or a file system URI such as s3://bucket/lake or"
    " hdfs://namenode:8020/lake; credentials from the environment (default: HOME/stores/NAME).",
)
@click.option("--json", "as_json", is_flag=True)
@home_options
def add(
    name: str,
    jurisdiction: str,
    location: str,
    lake_path: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Declare a store NAME with its jurisdiction and location.

    \b
    Example:
      onshore store add frankfurt --jurisdiction DE --location "eu-central-1" --path /mnt/fra
    """
    with open_home(home, db, actor) as data_home:
        info = data_home.add_store(
            name, jurisdiction=jurisdiction, location=location, path=lake_path
        )
    if as_json:
        print_json(info.to_dict())
    else:
        click.echo(f"declared store {info.name} ({info.jurisdiction}, {info.location})")


@store.command("ls")
@click.option("--dataset", help="Only this dataset.")
@click.option("--json", "as_json", is_flag=True, help="Stores and files as JSON.")
@home_options
def ls(dataset: str | None, as_json: bool, home: Path | None, db: str | None, actor: str) -> None:
    """List the stores and what the lake holds, per dataset and date.

    \b
    Example:
      onshore store ls --dataset telemetry --json
    """
    with open_home(home, db, actor) as data_home:
        stores = data_home.stores()
        files = Lake(data_home).files(dataset=dataset)
    if as_json:
        print_json({"stores": [s.to_dict() for s in stores], "files": [f.to_dict() for f in files]})
        return
    table = Table("store", "jurisdiction", "location", "path")
    for s in stores:
        table.add_row(s.name, s.jurisdiction, s.location, s.where)
    out_console.print(table)
    listing = Table("store", "dataset", "date", "rows", "bytes", "level", "file")
    for f in files:
        listing.add_row(
            f.store, f.dataset, f.part_date, f"{f.rows:,}", f"{f.bytes:,}", f.level, f.path
        )
    out_console.print(listing)
    if not files:
        click.echo("the lake is empty", err=True)


@store.command("purge")
@click.option("--now", "now_text", metavar="TIME", help="Purge as of this ISO time (default: now).")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@home_options
def purge_cmd(
    now_text: str | None,
    dry_run: bool,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Remove stored data past the retention the pack sets for what it holds.

    A row goes when any of its non-null columns is in a category whose period
    (retention.yaml) has run out since the row was collected. Every other place that can
    hold personal data ages out too: outbox packages (the shortest period of the categories
    they carry), the quarantine (its period under places: in retention.yaml).

    \b
    Example:
      onshore store purge --dry-run --json
    """
    from onshore.store.purge import purge

    with open_home(home, db, actor) as data_home:
        result = purge(data_home, now=parse_time(now_text, "now"), dry_run=dry_run)
    if as_json:
        print_json(result.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    total = sum(result.rows_removed.values())
    per = ", ".join(f"{k}={v:,}" for k, v in result.rows_removed.items()) or "nothing"
    click.echo(f"{verb} {total:,} rows ({per}) from {result.files_scanned} files")
    for place, counts in result.places.items():
        what = ", ".join(f"{k}={v:,}" for k, v in counts.items()) or "nothing"
        click.echo(f"{verb} from {place}: {what}")
