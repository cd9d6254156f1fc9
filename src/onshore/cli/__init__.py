"""The ``onshore`` command line: one small module per command group, registered here explicitly."""

from __future__ import annotations

import sys

import click

from onshore.cli._common import run_guarded
from onshore.cli.config import config
from onshore.cli.consent import consent
from onshore.cli.demo import demo_data
from onshore.cli.desensitize import desensitize
from onshore.cli.gbt32960 import gbt32960
from onshore.cli.incident import complaint, incident
from onshore.cli.ingest import ingest
from onshore.cli.ledger import ledger
from onshore.cli.media import media
from onshore.cli.pack import pack
from onshore.cli.report import notice, report
from onshore.cli.scan import scan
from onshore.cli.serve import serve
from onshore.cli.store import store
from onshore.cli.subject import subject
from onshore.cli.transfer import transfer


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="onshore")
def cli() -> None:
    """Onshore keeps connected-vehicle data lawful under China's automotive data rules.

    \b
    Example:
      onshore demo-data sample/ --vehicles 50
      onshore scan sample/telemetry.parquet --areas sample/areas.geojson
    """


# Built-in commands register through the same call a plugin would use.
COMMANDS: list[click.Command] = [
    demo_data,
    scan,
    desensitize,
    gbt32960,
    ingest,
    ledger,
    media,
    store,
    consent,
    subject,
    transfer,
    report,
    notice,
    incident,
    complaint,
    serve,
    pack,
    config,
]
for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``onshore`` script: maps Onshore errors to the documented exit codes."""
    sys.exit(run_guarded(cli, argv))
