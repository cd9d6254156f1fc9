"""``onshore incident`` and ``onshore complaint``: the register the annual report reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from onshore.cli._common import out_console, print_json
from onshore.cli.store import home_options, open_home, parse_time
from onshore.report.incidents import COMPLAINT_STATUSES, INCIDENT_STATUSES, SEVERITIES, Register
from onshore.store.db import parse_iso

CATEGORY_HELP = "A data category of the pack (repeatable), e.g. location.trajectory."


def _show(record: Any, as_json: bool, what: str) -> None:
    if as_json:
        print_json(record.to_dict())
        return
    due = getattr(record, "report_deadline", None) or getattr(record, "due_date", "")
    out_console.print(f"{what} {record.id}: {record.status}, due {due}", highlight=False)


def _table(title: str, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    out_console.print(table)


@click.group("incident")
def incident() -> None:
    """Data security incidents: open, update, list (each change is a ledger entry).

    The report deadline follows from the severity (general 24 h, large 4 h, major and
    especially major 1 h: Onshore's defaults after the CAC incident-reporting measures).

    \b
    Example:
      onshore incident add "Telematics bucket briefly public" --severity large \\
          --category location.trajectory --affected 1200
      onshore incident update inc-1a2b3c4d --status reported --handling "reported to CAC"
      onshore incident list
    """


@incident.command("add")
@click.argument("title")
@click.option(
    "--severity", type=click.Choice(list(SEVERITIES)), default="general", show_default=True
)
@click.option("--category", "categories", multiple=True, help=CATEGORY_HELP)
@click.option("--affected", type=int, default=0, show_default=True, help="People affected.")
@click.option("--opened", help="When it was found (ISO 8601; default: now).")
@click.option("--handling", default="", help="What was done so far.")
@click.option("--deadline-hours", type=int, help="Report deadline in hours (overrides severity).")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@home_options
def incident_add(
    title: str,
    severity: str,
    categories: tuple[str, ...],
    affected: int,
    opened: str | None,
    handling: str,
    deadline_hours: int | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Open an incident.

    \b
    Example:
      onshore incident add "Lost service laptop" --severity general --affected 30
    """
    with open_home(home, db, actor) as data_home:
        record = Register(data_home).add_incident(
            title,
            severity=severity,
            categories=categories,
            affected=affected,
            opened_at=parse_time(opened, "opened"),
            handling=handling,
            deadline_hours=deadline_hours,
        )
    _show(record, as_json, "incident")


@incident.command("update")
@click.argument("incident_id")
@click.option("--status", type=click.Choice(INCIDENT_STATUSES))
@click.option("--handling", help="What was done (replaces the previous text).")
@click.option("--reported", help="When it was reported to the authority (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@home_options
def incident_update(
    incident_id: str,
    status: str | None,
    handling: str | None,
    reported: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Change an incident's status or handling.

    \b
    Example:
      onshore incident update inc-1a2b3c4d --status closed --handling "keys rotated"
    """
    with open_home(home, db, actor) as data_home:
        record = Register(data_home).update_incident(
            incident_id,
            status=status,
            handling=handling,
            reported_at=parse_time(reported, "reported"),
        )
    _show(record, as_json, "incident")


@incident.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the incidents as JSON.")
@home_options
def incident_list(as_json: bool, home: Path | None, db: str | None, actor: str) -> None:
    """Every incident with its status and report deadline; overdue reports are marked."""
    with open_home(home, db, actor) as data_home:
        records = Register(data_home).incidents()
        now = data_home.now()
    if as_json:
        print_json([{**r.to_dict(), "overdue": _overdue(r, now)} for r in records])
        return
    rows = [
        (
            r.id,
            r.severity,
            r.status,
            r.report_deadline + (" (overdue)" if _overdue(r, now) else ""),
            r.title,
        )
        for r in records
    ]
    _table("incidents", ("id", "severity", "status", "report due", "title"), rows)


def _overdue(record: Any, now: dt.datetime) -> bool:
    if record.reported_at is not None or record.status == "closed":
        return False
    return bool(parse_iso(record.report_deadline) < now)


@click.group("complaint")
def complaint() -> None:
    """User complaints about automotive data: receive, update, list (each a ledger entry).

    A complaint is due within --sla-days working days of the pack's calendar (default 15, an
    Onshore default). No complainant's name or contact is stored; --vin keeps only the
    vehicle's pseudonym.

    \b
    Example:
      onshore complaint add "Asked why location is collected when parked" --channel app \\
          --category location.trajectory
      onshore complaint update cmp-1a2b3c4d --status answered --handling "explained; opted out"
    """


@complaint.command("add")
@click.argument("summary")
@click.option("--channel", default="hotline", show_default=True, help="How it came in.")
@click.option("--category", "categories", multiple=True, help=CATEGORY_HELP)
@click.option("--transfer", help="The cross-border transfer it concerns, if any.")
@click.option("--received", help="When it was received (ISO 8601; default: now).")
@click.option("--sla-days", type=int, default=15, show_default=True, help="Working days to answer.")
@click.option("--vin", help="The vehicle concerned (stored as its pseudonym only).")
@click.option("--json", "as_json", is_flag=True, help="Print the complaint as JSON.")
@home_options
def complaint_add(
    summary: str,
    channel: str,
    categories: tuple[str, ...],
    transfer: str | None,
    received: str | None,
    sla_days: int,
    vin: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Receive a complaint.

    \b
    Example:
      onshore complaint add "Cannot delete my trips" --channel email --sla-days 10
    """
    with open_home(home, db, actor) as data_home:
        record = Register(data_home).add_complaint(
            summary,
            channel=channel,
            categories=categories,
            transfer=transfer,
            received_at=parse_time(received, "received"),
            sla_days=sla_days,
            vin=vin,
        )
    _show(record, as_json, "complaint")


@complaint.command("update")
@click.argument("complaint_id")
@click.option("--status", type=click.Choice(COMPLAINT_STATUSES))
@click.option("--handling", help="What was done (replaces the previous text).")
@click.option("--json", "as_json", is_flag=True, help="Print the complaint as JSON.")
@home_options
def complaint_update(
    complaint_id: str,
    status: str | None,
    handling: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Change a complaint's status or handling.

    \b
    Example:
      onshore complaint update cmp-1a2b3c4d --status closed
    """
    with open_home(home, db, actor) as data_home:
        record = Register(data_home).update_complaint(
            complaint_id, status=status, handling=handling
        )
    _show(record, as_json, "complaint")


@complaint.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the complaints as JSON.")
@home_options
def complaint_list(as_json: bool, home: Path | None, db: str | None, actor: str) -> None:
    """Every complaint with its status and due date; overdue answers are marked."""
    with open_home(home, db, actor) as data_home:
        records = Register(data_home).complaints()
        today = data_home.now().date().isoformat()
    late = {r.id for r in records if r.status in ("received", "in_progress") and r.due_date < today}
    if as_json:
        print_json([{**r.to_dict(), "overdue": r.id in late} for r in records])
        return
    rows = [
        (r.id, r.channel, r.status, r.due_date + (" (overdue)" if r.id in late else ""), r.summary)
        for r in records
    ]
    _table("complaints", ("id", "channel", "status", "answer due", "summary"), rows)
