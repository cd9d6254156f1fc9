"""What every command shares: error → exit code mapping, JSON output, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from onshore.errors import OnshoreError

err_console = Console(stderr=True)


def run_guarded(command: click.Command, argv: list[str] | None = None) -> int:
    """Run a click command; Onshore errors print one clear line and return their exit code."""
    try:
        command.main(args=argv, prog_name="onshore", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except OnshoreError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    return 0


def print_json(payload: Any) -> None:
    """Machine-readable output on stdout: UTF-8, stable key order as built."""
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


@contextmanager
def byte_progress(description: str, total: int | None) -> Iterator[Any]:
    """A progress bar over bytes on stderr when it is a terminal; a no-op otherwise.

    Yields a callable ``advance(nbytes)``.
    """
    if not sys.stderr.isatty():
        yield lambda _n: None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
