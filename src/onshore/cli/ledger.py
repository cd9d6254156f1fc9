"""``onshore ledger``: verify the audit ledger, give proofs, export it, show heads and entries."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from onshore.cli._common import out_console, print_json, progress
from onshore.errors import BadInput, IntegrityError
from onshore.keystore import Keystore, onshore_home
from onshore.ledger import Activity, Ledger, SignedTreeHead, export_ledger
from onshore.ledger.entry import format_time

F = TypeVar("F", bound=Callable[..., Any])


def _where(func: F) -> F:
    """The ``--home`` and ``--db`` options every ledger command takes."""
    func = click.option(
        "--db",
        metavar="URL",
        envvar="ONSHORE_DB",
        help="sqlite:///PATH or postgresql://… (default: HOME/meta.db; env ONSHORE_DB).",
    )(func)
    func = click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        help="Data home (default: $ONSHORE_HOME or ./onshore-data).",
    )(func)
    return func


def _open(home: Path | None, db: str | None) -> Ledger:
    base = home if home is not None else onshore_home()
    return Ledger.open(db, home=base, keystore=Keystore(base / "keys"), read_only=True)


def _write_or_print(payload: dict[str, Any], out: Path | None) -> None:
    if out is None:
        print_json(payload)
        return
    try:
        out.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write: {exc}", file=str(out)) from exc
    click.echo(f"wrote {out}", err=True)


@click.group("ledger")
def ledger() -> None:
    """The tamper-evident audit ledger of every processing activity.

    A Merkle-tree log (as in Certificate Transparency, RFC 9162) whose every append is covered
    by a tree head signed with the Ed25519 key in HOME/keys.

    \b
    Example:
      onshore ledger verify --home onshore-data
      onshore ledger proof 17 --out proof-17.json
    """


@ledger.command("verify")
@_where
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--trusted-head",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A signed tree head saved earlier (from `ledger head`): also catch a cut-off tail.",
)
def verify(home: Path | None, db: str | None, as_json: bool, trusted_head: Path | None) -> None:
    """Recompute every leaf and root and check every signed tree head.

    Exits 0 when the ledger is intact and 3 on any change, deletion, reordering or truncation,
    naming the first bad entry index.

    \b
    Example:
      onshore ledger verify --home onshore-data --json
    """
    trusted = None
    if trusted_head is not None:
        trusted = SignedTreeHead.from_dict(_read_json(trusted_head).get("signed_tree_head", {}))
    with _open(home, db) as log:
        tracker = _Tracker(done=0, total=log.size())
        with progress("verify ledger", tracker) as advance:

            def on_progress(done: int) -> None:
                tracker.done = done
                advance()

            report = log.verify(trusted_head=trusted, on_progress=on_progress)
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        out_console.print(f"[green]✓[/] {report.summary()}")
    if not report.ok:
        raise IntegrityError(report.summary())


@dataclass
class _Tracker:
    """What the progress bar reads."""

    done: int
    total: int
    unit: str = "entries"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read JSON: {exc}", file=str(path)) from exc
    if not isinstance(value, dict):
        raise BadInput("expected a JSON object", file=str(path))
    if "signed_tree_head" not in value and "root_hash" in value:
        value = {"signed_tree_head": value}
    return value


@ledger.command("proof")
@click.argument("index", type=int)
@_where
@click.option("--tree-size", type=int, help="Prove against this signed size (default: latest).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the proof here."
)
def proof(
    index: int, home: Path | None, db: str | None, tree_size: int | None, out: Path | None
) -> None:
    """Print the inclusion proof of entry INDEX with its signed tree head, as JSON.

    An auditor checks it with the public key alone:
    `python -m onshore.ledger.audit --key KEY.pem --proof FILE [--log EXPORT]`.

    \b
    Example:
      onshore ledger proof 17 --out proof-17.json
    """
    with _open(home, db) as log:
        payload = log.inclusion_proof(index, tree_size).to_dict()
    _write_or_print(payload, out)


@ledger.command("consistency")
@click.argument("old_size", type=int)
@click.argument("new_size", type=int, required=False)
@_where
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the proof here."
)
def consistency(
    old_size: int, new_size: int | None, home: Path | None, db: str | None, out: Path | None
) -> None:
    """Print the proof that the log at OLD_SIZE is a prefix of the log at NEW_SIZE (latest).

    \b
    Example:
      onshore ledger consistency 100 --out consistency.json
    """
    with _open(home, db) as log:
        payload = log.consistency_proof(old_size, new_size).to_dict()
    _write_or_print(payload, out)


@ledger.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@_where
def export(out: Path, home: Path | None, db: str | None) -> None:
    """Write the log as JSON lines to OUT and the public key(s) to OUT.pub.pem.

    \b
    Example:
      onshore ledger export audit/ledger.jsonl
      python -m onshore.ledger.audit --key audit/ledger.jsonl.pub.pem --log audit/ledger.jsonl
    """
    with _open(home, db) as log:
        result = export_ledger(log, out)
    click.echo(
        f"wrote {result.log_path} ({result.entries} entries, {result.heads} heads) "
        f"and {result.key_path}",
        err=True,
    )


@ledger.command("head")
@_where
@click.option("--json", "as_json", is_flag=True, help="JSON (the default output; for symmetry).")
def head(home: Path | None, db: str | None, as_json: bool) -> None:
    """Print the latest signed tree head as JSON (keep it to check later with --trusted-head).

    \b
    Example:
      onshore ledger head > head-2024-06-30.json
    """
    del as_json
    with _open(home, db) as log:
        latest = log.head()
    if latest is None:
        raise BadInput("the ledger is empty: no signed tree head yet")
    print_json({"signed_tree_head": latest.to_dict()})


@ledger.command("list")
@_where
@click.option(
    "--kind",
    type=click.Choice([a.value for a in Activity]),
    help="Only entries of this activity.",
)
@click.option("--dataset", help="Only entries about this dataset.")
@click.option("--start", default=0, show_default=True, help="First index.")
@click.option("--limit", type=int, help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: index and entry.")
def list_entries(
    home: Path | None,
    db: str | None,
    kind: str | None,
    dataset: str | None,
    start: int,
    limit: int | None,
    as_json: bool,
) -> None:
    """List ledger entries, optionally filtered by activity kind and dataset.

    \b
    Example:
      onshore ledger list --kind export --dataset telemetry --json
    """
    table = Table("#", "time", "kind", "actor", "dataset", "purpose", "decision", "counts")
    shown = 0
    with _open(home, db) as log:
        for index, entry in log.entries(kind=kind, dataset=dataset, start=start):
            if limit is not None and shown >= limit:
                break
            shown += 1
            if as_json:
                click.echo(
                    json.dumps({"index": index, "entry": entry.to_dict()}, ensure_ascii=False)
                )
            else:
                counts = ", ".join(f"{k}={v}" for k, v in sorted(entry.counts.items()))
                table.add_row(
                    str(index),
                    format_time(entry.time),
                    entry.kind.value,
                    entry.actor,
                    entry.dataset,
                    entry.purpose,
                    entry.decision or "",
                    counts,
                )
    if not as_json:
        out_console.print(table)
        if not shown:
            click.echo("no entries", err=True)
