"""The ``onshore`` command line: one small module per command group, registered here explicitly."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from onshore.cli._common import run_guarded


class CommandGroup(click.Group):
    """A group whose built-in commands are imported when one is run, not when the group is.

    ``onshore --help`` lists them from the registry (name, where the command lives, the first
    line of its help) without importing any; a test checks each line against the command.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}

    def add_lazy(self, name: str, target: str, summary: str) -> None:
        """Register the command at ``module:attribute`` as ``name``, listed with ``summary``."""
        self.lazy[name] = (target, summary)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name][0].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = [
            n for n in self.list_commands(ctx) if n in self.lazy or not self.commands[n].hidden
        ]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            # a command not imported yet is listed as a stand-in with its registered summary
            command = self.commands.get(name) or click.Command(name, help=self.lazy[name][1])
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=CommandGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="onshore")
def cli() -> None:
    """Onshore keeps connected-vehicle data lawful under China's automotive data rules.

    \b
    Example:
      onshore demo-data sample/ --vehicles 50
      onshore scan sample/telemetry.parquet --areas sample/areas.geojson
    """


# Built-in commands register through the same call a plugin would use (``add_lazy``; a plugin
# may also ``add_command`` a command it has imported). Each is imported only when it runs, so
# every command pays for its own imports and no other's (issue 21).
COMMANDS: list[tuple[str, str, str]] = [
    (
        "demo-data",
        "onshore.cli.demo:demo_data",
        "Write a realistic, entirely fictional sample fleet into DIRECTORY.",
    ),
    (
        "scan",
        "onshore.cli.scan:scan",
        "Classify INPUT files (Parquet, CSV, JSON lines) and summarize what they hold.",
    ),
    (
        "desensitize",
        "onshore.cli.desensitize:desensitize",
        "Desensitize INPUT with a profile, write OUT and a sidecar OUT.desensitize.json.",
    ),
    (
        "gbt32960",
        "onshore.cli.gbt32960:gbt32960",
        "GB/T 32960.3 (EV remote monitoring) frames, editions 2016 and 2025.",
    ),
    ("ingest", "onshore.cli.ingest:ingest", "Ingest runners that keep running: the MQTT worker."),
    (
        "ledger",
        "onshore.cli.ledger:ledger",
        "The tamper-evident audit ledger of every processing activity.",
    ),
    ("media", "onshore.cli.media:media", "Anonymize camera images, video and cabin audio."),
    (
        "store",
        "onshore.cli.store:store",
        "Stores with a jurisdiction: the data home's Parquet lake and metadata database.",
    ),
    (
        "consent",
        "onshore.cli.consent:consent",
        (
            "Separate consent per subject (a vehicle or a person), category and purpose, "
            "always with an expiry."
        ),
    ),
    (
        "subject",
        "onshore.cli.subject:subject",
        (
            "Data-subject rights for a vehicle (--vin) or a person (--subject): see everything "
            "held about it, or erase it."
        ),
    ),
    (
        "transfer",
        "onshore.cli.transfer:transfer",
        "The cross-border transfer gate: the right legal mechanism, the approved scope, no more.",
    ),
    (
        "report",
        "onshore.cli.report:report",
        "The annual automotive data security report (Provisions 2021, Arts. 13 and 14).",
    ),
    (
        "notice",
        "onshore.cli.report:notice",
        "The privacy notice (Provisions 2021, Art. 7), from the pack and the data home.",
    ),
    (
        "incident",
        "onshore.cli.incident:incident",
        "Data security incidents: open, update, list (each change is a ledger entry).",
    ),
    (
        "complaint",
        "onshore.cli.incident:complaint",
        "User complaints about automotive data: receive, update, list (each a ledger entry).",
    ),
    (
        "serve",
        "onshore.cli.serve:serve",
        "Serve the HTTP API (OpenAPI at /docs and /openapi.json) on HOST:PORT.",
    ),
    (
        "pack",
        "onshore.cli.pack:pack",
        "The policy pack: each rule, the legal text it rests on, its test vectors.",
    ),
    (
        "config",
        "onshore.cli.config:config",
        "The settings Onshore runs with: flags > environment > HOME/config.yaml > defaults.",
    ),
]
for _name, _target, _summary in COMMANDS:
    cli.add_lazy(_name, _target, _summary)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``onshore`` script: maps Onshore errors to the documented exit codes."""
    from onshore.cli import _arrow

    _arrow.STANDALONE = True  # this process is the command's own (see onshore.cli._arrow)
    sys.exit(run_guarded(cli, argv))
