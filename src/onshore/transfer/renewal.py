"""Where each approval on record stands on a day: effective expiry, renewal window, status.

The renewal window opens the pack's ``approvals.renewal_window_working_days`` (60) Chinese
working days before the effective expiry (:func:`onshore.transfer.approval_expiry`), counted on
the pack's calendar; without a calendar there is no window, only expiry. The CLI
(``onshore transfer approvals list``), the API (``GET /v1/approvals``) and the console all show
this one view.

>>> import datetime as dt, onshore
>>> from onshore.transfer import Approval
>>> sa = Approval("SA-1", "security_assessment", dt.date(2024, 2, 1), None)
>>> s = approval_status(sa, onshore.load_pack(), dt.date(2026, 12, 1))
>>> s.expires, s.status
(datetime.date(2027, 2, 1), 'renew now')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from onshore.packs import Pack
from onshore.packs.bases import WorkCalendar
from onshore.transfer.decide import approval_expiry
from onshore.transfer.models import Approval
from onshore.transfer.policy import transfer_policy

Standing = Literal["valid", "renew now", "expired"]


@dataclass(frozen=True)
class ApprovalStatus:
    """One approval as of ``today``: ``expires`` (the last day it is valid, Civil Code
    Arts. 201-202) and ``renew_from`` are None when it has none."""

    approval: Approval
    today: dt.date
    expires: dt.date | None
    renew_from: dt.date | None
    status: Standing

    def to_dict(self) -> dict[str, Any]:
        a = self.approval
        return {
            "id": a.id,
            "kind": a.kind,
            "recipient": a.recipient,
            "purpose": a.purpose,
            "categories": list(a.categories),
            "max_individuals": a.max_individuals,
            "issued": a.issued.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "renew_from": self.renew_from.isoformat() if self.renew_from else None,
            "status": self.status,
        }


def working_days_before(calendar: WorkCalendar, day: dt.date, n: int) -> dt.date:
    """The day ``n`` working days before ``day`` on ``calendar``."""
    left = n
    while left:
        day -= dt.timedelta(days=1)
        if calendar.is_working_day(day):
            left -= 1
    return day


def approval_status(approval: Approval, pack: Pack, today: dt.date) -> ApprovalStatus:
    """Where ``approval`` stands on ``today`` under ``pack``'s transfer rules and calendar."""
    policy = transfer_policy(pack)
    expiry = approval_expiry(approval, policy)
    expires = None if expiry == dt.date.max else expiry
    renew_from = None
    if expires is not None and pack.calendar is not None:
        renew_from = working_days_before(
            pack.calendar, expires, policy.approvals.renewal_window_working_days
        )
    status: Standing = "valid"
    if expires is not None and today > expires:  # valid through its last day
        status = "expired"
    elif renew_from is not None and today >= renew_from:
        status = "renew now"
    return ApprovalStatus(approval, today, expires, renew_from, status)


def approval_statuses(
    approvals: Iterable[Approval], pack: Pack, today: dt.date
) -> list[ApprovalStatus]:
    """:func:`approval_status` of each approval, in the given order."""
    return [approval_status(a, pack, today) for a in approvals]
