"""``onshore consent``: grant, withdraw and list consents per vehicle, category and purpose."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from rich.table import Table

from onshore.cli._common import out_console, print_json
from onshore.cli.store import home_options, open_home, parse_time
from onshore.consent.model import PERMANENT_WORDS
from onshore.errors import BadInput


@click.group("consent")
def consent() -> None:
    """Separate consent per vehicle, person, category and purpose, always with an expiry.

    \b
    Example:
      onshore consent grant --vin LSVAU2180N2183294 --category location.trajectory \\
          --purpose navigation --days 365
      onshore consent list --vin LSVAU2180N2183294
    """


@consent.command("grant")
@click.option("--vin", required=True)
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
    vin: str,
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
    """Record a consent. An expiry is mandatory: a permanent consent is refused (exit 2);
    a biometric category outside driving safety is refused by policy (exit 4).

    \b
    Example:
      onshore consent grant --vin LSVAU2180N2183294 --category location.trajectory \\
          --purpose navigation --days 365 --channel display_popup --json
    """
    from onshore.consent import ConsentRegistry

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
            vin,
            category,
            purpose,
            expires_at=expires_at,
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
            f"granted {record.id}: {vin} {category} for {purpose} "
            f"until {record.to_dict()['expires_at']}"
        )


@consent.command("withdraw")
@click.argument("consent_id", required=False)
@click.option(
    "--vin", help="Withdraw every consent of this vehicle (narrowed by the options below)."
)
@click.option("--category")
@click.option("--purpose")
@click.option("--json", "as_json", is_flag=True)
@home_options
def withdraw(
    consent_id: str | None,
    vin: str | None,
    category: str | None,
    purpose: str | None,
    as_json: bool,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Withdraw CONSENT_ID, or the consents of --vin; effective at once for every later ingest.

    \b
    Example:
      onshore consent withdraw --vin LSVAU2180N2183294 --purpose navigation
    """
    from onshore.consent import ConsentRegistry

    with open_home(home, db, actor) as data_home:
        done = ConsentRegistry(data_home).withdraw(
            consent_id, vin=vin, category=category, purpose=purpose
        )
        now = data_home.now()
    if as_json:
        print_json([c.to_dict(now) for c in done])
    else:
        click.echo(f"withdrew {len(done)} consent(s)")


@consent.command("list")
@click.option("--vin")
@click.option("--purpose")
@click.option("--json", "as_json", is_flag=True)
@home_options
def list_consents(
    vin: str | None,
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
    """
    from onshore.consent import ConsentRegistry

    with open_home(home, db, actor) as data_home:
        items = ConsentRegistry(data_home).list(vin=vin, purpose=purpose)
        now = data_home.now()
    if as_json:
        print_json([c.to_dict(now) for c in items])
        return
    table = Table("id", "vin", "person", "category", "purpose", "basis", "expires", "status")
    for c in items:
        d = c.to_dict(now)
        table.add_row(
            c.id, c.vin, c.person, c.category, c.purpose, c.basis, d["expires_at"], d["status"]
        )
    out_console.print(table)
