"""``onshore subject``: data-subject access (export) and deletion for one vehicle or person."""

from __future__ import annotations

from pathlib import Path

import click

from onshore.cli._common import out_console, print_json
from onshore.cli.consent import subject_options
from onshore.cli.store import home_options, open_home
from onshore.consent.model import resolve_subject


@click.group("subject")
def subject() -> None:
    """Data-subject rights for a vehicle (--vin) or a person (--subject): see everything held
    about it, or erase it.

    \b
    Example:
      onshore subject export --vin LSVAU2180N2183294 --out vin-export.zip
      onshore subject delete --vin LSVAU2180N2183294
      onshore subject delete --subject geolife_000
    """


@subject.command("export")
@subject_options()
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="A new folder, or a file ending in .zip.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
@home_options
def export(
    vin: str | None,
    subject: str | None,
    kind: str | None,
    out: Path,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Package every lake row, the metadata, consents, requests and ledger entries of a vehicle
    (--vin) or a person (--subject: the rows of datasets stored with --subject COLUMN).

    \b
    Example:
      onshore subject export --vin LSVAU2180N2183294 --out vin-export.zip --json
      onshore subject export --subject geolife_000 --out person.zip
    """
    from onshore.app import subject as use_case

    who, who_kind = resolve_subject(vin, subject, kind, required=True)
    assert who is not None and who_kind is not None
    with open_home(home, db, actor) as data_home:
        result = use_case.export(data_home, who, out, kind=who_kind)
    if as_json:
        print_json(result.to_dict())
        return
    rows = ", ".join(f"{k}={v:,}" for k, v in result.rows.items()) or "no rows"
    out_console.print(
        f"wrote {result.path}: {rows} from {result.files} files, {result.consents} consents, "
        f"{result.requests} requests, {result.ledger_entries} ledger entries"
    )


@subject.command("delete")
@subject_options()
@click.option(
    "--received",
    metavar="TIME",
    help="When the request was received (ISO time; default: now). Sets the due date.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the request and its evidence as JSON.")
@home_options
def delete(
    vin: str | None,
    subject: str | None,
    kind: str | None,
    received: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Erase a vehicle (--vin) or a person (--subject) from every place that can hold it;
    record the request and the evidence.

    The due date is 10 Chinese working days after the request (holidays and make-up working
    days from the pack's calendar). Every registered place (lake, consents, ingest keys,
    quarantine, outbox packages, the metadata database and its files, ...) is erased and
    scanned again before the request is marked complete; each is listed with what it found
    and did, and so is every transfer whose recipient must be told to delete (PIPL Art. 47).

    \b
    Example:
      onshore subject delete --vin LSVAU2180N2183294 --received 2026-09-28 --json
    """
    from onshore.app import subject as use_case

    who, who_kind = resolve_subject(vin, subject, kind, required=True)
    assert who is not None and who_kind is not None
    with open_home(home, db, actor) as data_home:
        result = use_case.delete(data_home, who, received=received, kind=who_kind)
    if as_json:
        print_json(result.to_dict())
        return
    rows = sum(result.rows_removed.values())
    out_console.print(
        f"request {result.request_id}: removed {rows:,} rows from "
        f"{len(result.files_rewritten) + len(result.files_removed)} files, "
        f"{result.consents_erased} consents; {result.rows_remaining} rows left in "
        f"{result.files_scanned_after} files scanned; due {result.due_date} "
        f"(calendar confidence {result.due_confidence}), completed {result.completed_at} "
        f"in {result.seconds:.2f} s",
        highlight=False,
    )
    for place in result.places:
        left = "not checkable" if place["remaining"] is None else f"{place['remaining']} left"
        note = f" ({place['note']})" if place["note"] else ""
        out_console.print(
            f"  {place['place']:<18} {place['status']:<16} found {place['found']}, "
            f"removed {place['removed']}, {left}{note}",
            highlight=False,
        )
    if result.recipients:
        out_console.print(
            f"tell these recipients to delete the vehicle's data (PIPL Art. 47): "
            f"{len(result.recipients)} transfers",
            highlight=False,
        )
        for r in result.recipients:
            out_console.print(
                f"  {r['at'][:10]} {r['recipient']} ({r['country']}, "
                f"{r['contact'] or 'no contact'})"
                f" {r['access_mode'] or ''} approval {r['approval'] or '-'}: {r['package']}",
                highlight=False,
            )
    else:
        out_console.print("no transfer carried the vehicle's data: no recipient to tell")
