"""``onshore consent``: grant, withdraw, list and import consents per subject (a vehicle or a
person), category and purpose."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from onshore.cli._common import out_console, print_json
from onshore.cli.store import home_options, open_home, parse_time
from onshore.consent.model import (
    PERMANENT_WORDS,
    PERSON,
    SUBJECT_KINDS,
    VEHICLE,
    resolve_subject,
)
from onshore.errors import BadInput

F = TypeVar("F", bound=Callable[..., Any])


def subject_options() -> Callable[[F], F]:
    """``--vin VIN`` (a vehicle) or ``--subject ID`` with ``--kind`` (a person by default)."""

    def decorate(f: F) -> F:
        f = click.option(
            "--kind",
            type=click.Choice(SUBJECT_KINDS),
            help="What --subject names (default: person).",
        )(f)
        f = click.option(
            "--subject",
            metavar="ID",
            help="A person's id (an app account: user_id), or a VIN with --kind vehicle.",
        )(f)
        f = click.option(
            "--vin", help="A vehicle's VIN (the same as --subject VIN --kind vehicle)."
        )(f)
        return f

    return decorate


@click.group("consent")
def consent() -> None:
    """Separate consent per subject (a vehicle or a person), category and purpose, always with
    an expiry.

    \b
    Example:
      onshore consent grant --vin LSVAU2180N2183294 --category location.trajectory \\
          --purpose navigation --days 365
      onshore consent grant --subject geolife_000 --category location.trajectory \\
          --purpose navigation --days 365
      onshore consent import consents.csv
      onshore consent list --subject geolife_000
    """


@consent.command("grant")
@subject_options()
@click.option("--category", required=True, help="A category of the pack (location.trajectory).")
@click.option("--purpose", required=True, help="A purpose of the pack's bases.yaml.")
@click.option("--expires", metavar="TIME", help="Expiry (ISO time or date).")
@click.option("--days", type=int, help="Or: expires this many days after the grant.")
@click.option(
    "--person", default="owner", show_default=True, help="Who consents (owner, driver:ID)."
)
@click.option("--channel", default="app", show_default=True, help="How consent was obtained.")
@click.option("--necessity", help="Why it is necessary (required for biometric categories).")
@click.option("--granted", metavar="TIME", help="When it was given (default: now).")
@click.option("--json", "as_json", is_flag=True)
@home_options
def grant(
    vin: str | None,
    subject: str | None,
    kind: str | None,
    category: str,
    purpose: str,
    expires: str | None,
    days: int | None,
    person: str,
    channel: str,
    necessity: str | None,
    granted: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Record a consent of a vehicle (--vin) or a person (--subject). An expiry is mandatory:
    a permanent consent is refused (exit 2); a biometric category outside driving safety is
    refused by policy (exit 4).

    \b
    Example:
      onshore consent grant --vin LSVAU2180N2183294 --category location.trajectory \\
          --purpose navigation --days 365 --channel display_popup --json
      onshore consent grant --subject geolife_000 --category location.trajectory \\
          --purpose navigation --granted 2026-01-05 --days 365
    """
    from onshore.consent import ConsentRegistry

    who, who_kind = resolve_subject(vin, subject, kind, required=True)
    assert who is not None and who_kind is not None
    if expires is not None and expires.strip().lower() in PERMANENT_WORDS:
        raise BadInput(
            f"--expires {expires!r}: a permanent consent is not allowed", field="expires"
        )
    if expires is not None and days is not None:
        raise BadInput("give --expires or --days, not both", field="expires")
    with open_home(home, db, actor) as data_home:
        granted_at = parse_time(granted, "granted") or data_home.now()
        expires_at = parse_time(expires, "expires")
        if days is not None:
            expires_at = granted_at + timedelta(days=days)
        record = ConsentRegistry(data_home).grant(
            who,
            category,
            purpose,
            expires_at=expires_at,
            kind=who_kind,
            person=person,
            channel=channel,
            necessity=necessity,
            granted_at=granted_at,
        )
        now = data_home.now()
    if as_json:
        print_json(record.to_dict(now))
    else:
        click.echo(
            f"granted {record.id}: {record.subject_kind} {who} {category} for {purpose} "
            f"until {record.to_dict()['expires_at']}"
        )


@consent.command("withdraw")
@click.argument("consent_id", required=False)
@subject_options()
@click.option("--category")
@click.option("--purpose")
@click.option("--json", "as_json", is_flag=True)
@home_options
def withdraw(
    consent_id: str | None,
    vin: str | None,
    subject: str | None,
    kind: str | None,
    category: str | None,
    purpose: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Withdraw CONSENT_ID, or the consents of --vin or --subject (narrowed by --category and
    --purpose); effective at once for every later ingest.

    \b
    Example:
      onshore consent withdraw --vin LSVAU2180N2183294 --purpose navigation
      onshore consent withdraw --subject geolife_000
    """
    from onshore.consent import ConsentRegistry

    who, who_kind = resolve_subject(vin, subject, kind, required=False)
    with open_home(home, db, actor) as data_home:
        done = ConsentRegistry(data_home).withdraw(
            consent_id, subject=who, kind=who_kind, category=category, purpose=purpose
        )
        now = data_home.now()
    if as_json:
        print_json([c.to_dict(now) for c in done])
    else:
        click.echo(f"withdrew {len(done)} consent(s)")


@consent.command("list")
@subject_options()
@click.option("--purpose")
@click.option("--json", "as_json", is_flag=True)
@home_options
def list_consents(
    vin: str | None,
    subject: str | None,
    kind: str | None,
    purpose: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """List consents with their status now (active, expired, withdrawn).

    \b
    Example:
      onshore consent list --vin LSVAU2180N2183294 --json
      onshore consent list --subject geolife_000
    """
    from onshore.consent import ConsentRegistry

    who, who_kind = resolve_subject(vin, subject, kind, required=False)
    with open_home(home, db, actor) as data_home:
        items = ConsentRegistry(data_home).list(subject=who, kind=who_kind, purpose=purpose)
        now = data_home.now()
    if as_json:
        print_json([c.to_dict(now) for c in items])
        return
    table = Table(
        "id", "kind", "subject", "person", "category", "purpose", "basis", "expires", "status"
    )
    for c in items:
        d = c.to_dict(now)
        table.add_row(
            c.id,
            c.subject_kind,
            c.subject,
            c.person,
            c.category,
            c.purpose,
            c.basis,
            d["expires_at"],
            d["status"],
        )
    out_console.print(table)


@consent.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="The file's format (default: from its suffix, else its first character).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@home_options
def import_cmd(
    file: Path,
    fmt: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Import many consents from FILE (CSV or JSON lines), one subject per row.

    Columns: subject (or vin), kind (vehicle|person), category or categories, purpose or
    purposes (several separated by ';'), granted_at, expires_at or days, withdrawn_at,
    person, channel, necessity (docs/data-home.md). Each row is checked as `consent grant`
    checks one consent; a bad row is reported with its line and field and left out, the good
    rows are written in one transaction with one ledger entry (counts and the file's SHA-256).
    Consents already recorded are skipped. Exit 0 when every row went in, 2 when a row was
    rejected (the others are imported).

    \b
    Example:
      onshore consent import consents.csv --json
    """
    from onshore.consent.bulk import import_consents

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", file=str(file)) from None
    with open_home(home, db, actor) as data_home:
        result = import_consents(data_home, data, name=str(file), fmt=fmt)
    if as_json:
        print_json(result.to_dict())
    else:
        out_console.print(
            f"imported {result.imported:,} consents from {result.rows:,} rows of {file} "
            f"({result.subjects.get(VEHICLE, 0):,} vehicles, "
            f"{result.subjects.get(PERSON, 0):,} persons; {result.skipped:,} already recorded; "
            f"{result.rows_rejected:,} rows rejected; {result.seconds:.2f} s)",
            markup=False,
        )
        for problem in result.rejected[:50]:
            click.echo(
                f"{file}: line {problem.line}: field {problem.field!r}: {problem.message}",
                err=True,
            )
        if len(result.rejected) > 50:
            click.echo(f"… and {len(result.rejected) - 50} more (see --json)", err=True)
    if result.rejected:
        rows = result.rows_rejected
        raise BadInput(
            f"{rows:,} row{'s' if rows != 1 else ''} of {file} rejected (each with its line "
            "and field); the other rows were imported",
            field="rows",
        )
