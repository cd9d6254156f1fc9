"""``onshore config show``: the settings in effect and where each came from."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from onshore.cli._common import out_console, print_json
from onshore.settings import Settings


@click.group("config")
def config() -> None:
    """The settings Onshore runs with: flags > environment > HOME/config.yaml > defaults.

    \b
    Example:
      onshore config show --home sample/onshore-data
    """


@config.command("show")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="Data home.")
@click.option("--db", metavar="URL", help="Metadata database URL.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(home: Path | None, db: str | None, config_path: str | None, as_json: bool) -> None:
    """Each setting, its value and its origin (flag, environment, config.yaml, default).

    \b
    Example:
      ONSHORE_PURPOSE=maintenance onshore config show --json
    """
    settings = Settings.resolve({"home": home, "db": db, "config": config_path})
    rows = settings.rows()
    if as_json:
        print_json(rows)
        return
    table = Table(title="Onshore settings", title_justify="left")
    for column in ("setting", "value", "from", "env"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["setting"], row["value"] or "—", row["from"], row["env"])
    out_console.print(table)
