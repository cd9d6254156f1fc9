"""``onshore transfer``: assess and run cross-border transfers; the approvals registry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

import click
from rich.table import Table

from onshore import app
from onshore.cli._common import err_console, out_console, print_json
from onshore.cli.scan import load_index
from onshore.cli.store import home_options, open_home
from onshore.config import load_config
from onshore.errors import BadInput, PolicyRefusal
from onshore.transfer.execute import Outcome, TransferGate, read_request
from onshore.transfer.models import Approval, ApprovalKind


@click.group("transfer")
def transfer() -> None:
    """The cross-border transfer gate: the right legal mechanism, the approved scope, no more.

    A request names the dataset (a file, or a dataset of the data home's lake, as the
    service's requests do), the recipient (name, country), the purpose, the access mode (push,
    or remote_access from abroad), an exemption if one is claimed, the PIPL impact assessment
    and basis, and optionally a desensitization profile applied first. The dataset is
    classified for real; declared categories are never trusted.

    \b
    Example request (JSON or YAML):
      {"dataset": "telemetry", "purpose": "warranty analytics",
       "recipient": {"name": "Acme GmbH", "country": "DE"}, "profile": "export-default",
       "impact_assessment": "PIA-2026-01", "outbound_basis": "contract",
       "outbound_basis_note": "warranty contract clause 12"}
    \b
      onshore transfer assess request.json
      onshore transfer approvals add --id SCC-2026-01 --kind standard_contract \\
          --recipient "Acme GmbH" --issued 2026-01-05
      onshore transfer run request.json
    """


def _gate_options(func: Any) -> Any:
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="Processor configuration (default: HOME/config.yaml).",
    )(func)
    func = click.option(
        "--areas",
        type=click.Path(dir_okay=False),
        help="Sensitive-area GeoJSON for the classification.",
    )(func)
    func = click.option(
        "--json", "as_json", is_flag=True, help="JSON only (the decision is JSON either way)."
    )(func)
    return home_options(func)


def _gate(
    home: Path | None, db: str | None, actor: str, areas: str | None, config_path: str | None
) -> TransferGate:
    data_home = open_home(home, db, actor)
    config = load_config(config_path, home=data_home.path)
    if not config.configured:
        err_console.print(
            "[yellow]warning:[/] no processor configuration (HOME/config.yaml): legal entity "
            "unknown, taken as not a CIIO"
        )
    return TransferGate(data_home, config, areas=load_index(areas, data_home.pack))


def _show(outcome: Outcome) -> None:
    print_json(outcome.to_dict())


@transfer.command("assess")
@click.argument("request", type=click.Path(dir_okay=False))
@_gate_options
def assess(
    request: str,
    home: Path | None,
    db: str | None,
    actor: str,
    areas: str | None,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Decide a transfer without moving anything; prints the decision as JSON (exit 0 either way).

    \b
    Example:
      onshore transfer assess request.json --areas sample/areas.geojson
    """
    gate = _gate(home, db, actor, areas, config_path)
    try:
        _show(app.transfer(gate, read_request(request), run=False))
    finally:
        gate.home.close()


@transfer.command("run")
@click.argument("request", type=click.Path(dir_okay=False))
@_gate_options
def run(
    request: str,
    home: Path | None,
    db: str | None,
    actor: str,
    areas: str | None,
    config_path: str | None,
    as_json: bool,
) -> None:
    """Re-assess and, only if allowed, write the export package to HOME/outbox (exit 4 if not).

    The package holds the (desensitized) data as Parquet and a manifest with the SHA-256 of
    every file, the decision and the approval used; the export and the counters are recorded.
    A refusal is recorded on the ledger and nothing reaches the outbox.

    \b
    Example:
      onshore transfer run request.json --areas sample/areas.geojson
    """
    gate = _gate(home, db, actor, areas, config_path)
    try:
        outcome = app.transfer(gate, read_request(request), run=True)
    finally:
        gate.home.close()
    _show(outcome)
    if not outcome.decision.allowed:
        raise PolicyRefusal(
            f"transfer refused ({outcome.decision.mechanism}): "
            + "; ".join(outcome.decision.missing)
        )


@transfer.group("approvals")
def approvals() -> None:
    """Approvals, filings and certifications on record, with their scope and expiry.

    \b
    Example:
      onshore transfer approvals add --id CAC-SA-2025-017 --kind security_assessment \\
          --recipient "Acme GmbH" --purpose "warranty analytics" \\
          --categories vehicle.identity.vin,location.trajectory --max-individuals 200000 \\
          --issued 2025-03-01
      onshore transfer approvals expiring
    """


def _date(text: str | None, field: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"not a date (YYYY-MM-DD): {text!r}", field=field) from None


@approvals.command("add")
@click.option("--id", "approval_id", required=True, help="The approval's number or filing id.")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(
        [
            "security_assessment",
            "standard_contract",
            "certification",
            "mapping_approval",
            "regulator_filing",
        ]
    ),
)
@click.option("--recipient", help="Recipient it covers (default: any).")
@click.option("--purpose", help="Purpose it covers (default: any).")
@click.option("--categories", help="Comma-separated categories it covers (default: any).")
@click.option("--max-individuals", type=int, help="Most individuals per year it covers.")
@click.option("--issued", required=True, help="Issue date, YYYY-MM-DD.")
@click.option("--expires", help="Expiry date (security assessments: 3 years after issue).")
@click.option("--reference", default="", help="Where the document is kept.")
@home_options
def approvals_add(
    approval_id: str,
    kind: str,
    recipient: str | None,
    purpose: str | None,
    categories: str | None,
    max_individuals: int | None,
    issued: str,
    expires: str | None,
    reference: str,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Put an approval on record."""
    data_home = open_home(home, db, actor)
    try:
        cats = tuple(c.strip() for c in (categories or "").split(",") if c.strip())
        unknown = [c for c in cats if c not in data_home.pack.categories]
        if unknown:
            raise BadInput(f"unknown categories: {', '.join(unknown)}", field="--categories")
        issued_on = _date(issued, "--issued")
        assert issued_on is not None
        approval = Approval(
            approval_id,
            cast(ApprovalKind, kind),
            issued_on,
            _date(expires, "--expires"),
            recipient,
            purpose,
            cats,
            max_individuals,
        )
        gate = TransferGate(data_home, load_config(None, home=data_home.path))
        gate.registry.add_approval(approval, reference=reference)  # and enters it on the ledger
        out_console.print(f"approval {approval_id} ({kind}) on record")
    finally:
        data_home.close()


def _rows(gate: TransferGate) -> list[dict[str, Any]]:
    return [s.to_dict() for s in gate.approval_statuses()]


def _table(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("id", "kind", "recipient", "purpose", "expires", "renew_from", "status"):
        table.add_column(col)
    for r in rows:
        style = {"expired": "red", "renew now": "yellow"}.get(r["status"], "green")
        table.add_row(
            r["id"],
            r["kind"],
            r["recipient"] or "any",
            r["purpose"] or "any",
            r["expires"] or "-",
            r["renew_from"] or "-",
            f"[{style}]{r['status']}[/]",
        )
    out_console.print(table)


@approvals.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_options
def approvals_list(as_json: bool, home: Path | None, db: str | None, actor: str) -> None:
    """Every approval on record: expiry, renewal date (60 working days before), status."""
    data_home = open_home(home, db, actor)
    try:
        gate = TransferGate(data_home, load_config(None, home=data_home.path))
        rows = _rows(gate)
    finally:
        data_home.close()
    if as_json:
        print_json(rows)
    else:
        _table(rows, "Approvals on record")


@approvals.command("expiring")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_options
def approvals_expiring(as_json: bool, home: Path | None, db: str | None, actor: str) -> None:
    """Approvals inside their renewal window (apply within 60 working days before expiry) or
    already expired."""
    data_home = open_home(home, db, actor)
    try:
        gate = TransferGate(data_home, load_config(None, home=data_home.path))
        rows = [r for r in _rows(gate) if r["status"] != "valid"]
    finally:
        data_home.close()
    if as_json:
        print_json(rows)
    elif rows:
        _table(rows, "Approvals to renew")
    else:
        out_console.print("no approval needs renewing")
