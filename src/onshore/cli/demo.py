"""``onshore demo-data``: write a deterministic, fictional sample fleet to try Onshore on."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from onshore.cli._common import err_console, print_json
from onshore.demo import DEFAULT_START, DemoSummary, write_demo
from onshore.errors import BadInput


@contextmanager
def _vehicle_progress(vehicles: int) -> Iterator[Callable[[str], None]]:
    """A bar over cars (planned, then written) on stderr when it is a terminal; else a no-op."""
    if not sys.stderr.isatty():
        yield lambda _phase: None
        return
    bar = Progress(
        TextColumn("[bold]{task.description} cars"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with bar:
        task = bar.add_task("planning", total=2 * vehicles)

        def advance(phase: str) -> None:
            bar.update(task, advance=1, description=phase)

        yield advance


def _parse_start(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise BadInput(f"--start is not a date (YYYY-MM-DD): {value!r}") from exc


def _print_summary(s: DemoSummary) -> None:
    click.echo(f"Wrote a fictional demo fleet to {s.directory}/ (seed {s.seed}, from {s.start}):")
    lines = [
        ("telemetry.parquet", f"{s.telemetry_rows:,} rows, {s.vehicles:,} cars, {s.trips:,} trips"),
        ("", f"{s.area_rows:,} rows ({100 * s.area_share:.2f} %) in or near a sensitive area"),
        ("charging_sessions.parquet", f"{s.charging_sessions:,} sessions"),
        ("charging_stations_hourly.parquet", f"{s.station_hours:,} rows, {s.stations} stations"),
        ("owners.csv", f"{s.vehicles:,} fictional owners"),
        ("areas.geojson", f"{s.areas} fictional sensitive areas"),
        ("README.md", "what every file and column holds"),
    ]
    for name, what in lines:
        click.echo(f"  {name:<34}{what}")
    click.echo(
        f"Next: onshore scan {s.directory}/telemetry.parquet --areas {s.directory}/areas.geojson"
    )


@click.command("demo-data")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--vehicles", default=200, show_default=True, help="Number of cars.")
@click.option("--days", default=1, show_default=True, help="Number of days.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same files).")
@click.option(
    "--start",
    default=DEFAULT_START.isoformat(),
    show_default=True,
    help="First day (YYYY-MM-DD, Beijing time).",
)
@click.option("--force", is_flag=True, help="Write into a non-empty directory that holds no demo.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def demo_data(
    directory: Path, vehicles: int, days: int, seed: int, start: str, force: bool, as_json: bool
) -> None:
    """Write a realistic, entirely fictional sample fleet into DIRECTORY.

    Telemetry at 1 Hz (telemetry.parquet), charging sessions and hourly station operation,
    fictional owners (owners.csv), a fictional sensitive-area catalogue (areas.geojson) that
    some trips cross, and a README describing every file. The same options always give
    byte-identical files. An existing non-empty directory is only overwritten when it holds an
    earlier demo, or with --force.

    \b
    Examples:
      onshore demo-data sample/
      onshore demo-data big/ --vehicles 1000 --days 7 --seed 42
      onshore scan sample/telemetry.parquet --areas sample/areas.geojson
    """
    begin = _parse_start(start)
    with _vehicle_progress(vehicles) as advance:
        summary = write_demo(
            directory, vehicles, days, seed, begin, force=force, on_vehicle=advance
        )
    if as_json:
        print_json(summary.as_dict())
    else:
        _print_summary(summary)
