"""What every command shares: error → exit code mapping, JSON output, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import click

from onshore.errors import OnshoreError
from onshore.jsonenc import dumps

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """A rich console made on first use: a command that prints only JSON (``onshore scan
    --json``) never imports rich (about 35 ms of its start-up)."""

    def __init__(self, make: Callable[[], Console]) -> None:
        self._make = make
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = self._make()
        return getattr(self._console, name)


def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def _out() -> Console:
    from rich.console import Console

    # Piped or captured output gets a wide page so rule ids and references are never cut.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


err_console: Console = cast("Console", _LazyConsole(_err))
out_console: Console = cast("Console", _LazyConsole(_out))


F = TypeVar("F", bound=Callable[..., Any])


def engine_options(func: F) -> F:
    """``--engine embedded|spark`` and ``--master``: where a command over files runs."""
    func = click.option(
        "--master",
        help="Spark master URL for --engine spark (default: local[*], or spark-submit's).",
    )(func)
    return click.option(
        "--engine",
        type=click.Choice(["embedded", "spark"]),
        default="embedded",
        show_default=True,
        help="Where to run: here, or on Apache Spark (Parquet files or folders; onshore[spark]).",
    )(func)


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
        from rich.markup import escape

        # One line, however long: operators and scripts grep it.
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True
        )
        return exc.exit_code
    except BrokenPipeError:
        return 0
    return 0


def print_json(payload: Any) -> None:
    """Machine-readable output on stdout: UTF-8, stable key order as built."""
    click.echo(dumps(payload, indent=2, sort_keys=False))


class _Progressing(Protocol):
    done: int
    total: int
    unit: str


@contextmanager
def progress(description: str, source: _Progressing) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal, a no-op otherwise.

    ``source`` reports ``done`` and ``total`` in ``unit`` (bytes or rows); call the yielded
    function after each step to redraw.
    """
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[bold]{task.description}"), BarColumn()]
    if source.unit == "bytes":
        columns.append(DownloadColumn())
    else:
        columns.append(MofNCompleteColumn())
    bar = Progress(
        *columns, TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True
    )
    with bar:
        task = bar.add_task(description, total=source.total or None)

        def advance() -> None:
            bar.update(task, completed=source.done, total=source.total or None)

        yield advance
