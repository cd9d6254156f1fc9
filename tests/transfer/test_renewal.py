"""Each approval's standing on a day: effective expiry, renewal window, status; the ledger."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import onshore
from onshore.store import DataHome
from onshore.transfer import Approval, approval_status
from onshore.transfer.registry import Registry

SA = Approval("SA-1", "security_assessment", dt.date(2024, 2, 1), None)


def test_a_security_assessment_expires_three_years_on_with_a_window_before(
    pack: onshore.Pack,
) -> None:
    far = approval_status(SA, pack, dt.date(2025, 6, 1))
    assert (far.expires, far.status) == (dt.date(2027, 2, 1), "valid")
    assert far.renew_from is not None and far.renew_from < dt.date(2026, 12, 1)
    # 60 working days: the window opens the working day it says, and not the day before
    assert approval_status(SA, pack, far.renew_from).status == "renew now"
    assert approval_status(SA, pack, far.renew_from - dt.timedelta(days=1)).status == "valid"
    # Civil Code Arts. 201-202: valid through the corresponding day, expired the day after
    assert approval_status(SA, pack, dt.date(2027, 2, 1)).status == "renew now"
    assert approval_status(SA, pack, dt.date(2027, 2, 2)).status == "expired"
    assert far.to_dict()["renew_from"] == far.renew_from.isoformat()


def test_an_approval_without_expiry_stays_valid(pack: onshore.Pack) -> None:
    scc = Approval("SCC-1", "standard_contract", dt.date(2026, 1, 5), None, "Acme GmbH")
    s = approval_status(scc, pack, dt.date(2040, 1, 1))
    assert (s.expires, s.renew_from, s.status) == (None, None, "valid")
    assert s.to_dict() == {
        "id": "SCC-1",
        "kind": "standard_contract",
        "recipient": "Acme GmbH",
        "purpose": None,
        "categories": [],
        "max_individuals": None,
        "issued": "2026-01-05",
        "expires": None,
        "renew_from": None,
        "status": "valid",
    }


def test_putting_an_approval_on_record_enters_it_on_the_ledger(tmp_path: Path) -> None:
    with DataHome(tmp_path / "home") as home:
        Registry(home).add_approval(SA)
        found = [
            e
            for _i, e in home.ledger.entries()
            if e.decision == "approval SA-1 (security_assessment) put on record"
        ]
    assert len(found) == 1 and found[0].details["approval"] == "SA-1"


def test_a_certification_is_valid_three_years(pack: onshore.Pack) -> None:
    """Order No. 20 (effective 2026-01-01): 认证证书的有效期为3年."""
    cert = Approval("CERT-1", "certification", dt.date(2022, 6, 1), None, "Acme GmbH")
    assert approval_status(cert, pack, dt.date(2025, 6, 1)).expires == dt.date(2025, 6, 1)
    assert approval_status(cert, pack, dt.date(2026, 3, 1)).status == "expired"
    assert approval_status(cert, pack, dt.date(2025, 1, 2)).status == "valid"  # twin


def test_a_period_from_29_february_ends_on_28_february(pack: onshore.Pack) -> None:
    sa = Approval("SA-29", "security_assessment", dt.date(2024, 2, 29), None)
    assert approval_status(sa, pack, dt.date(2027, 2, 28)).status == "renew now"
    assert approval_status(sa, pack, dt.date(2027, 3, 1)).status == "expired"
