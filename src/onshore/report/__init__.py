"""Regulator reports: the annual automotive data security report and the privacy notice.

The annual report (Provisions 2021, Arts. 13 and 14) is built from what Onshore recorded (the
ledger, the stores, the pack and ``config.yaml``), so it is evidence, not prose: every table
carries the query that produced it, the ledger's signed tree head pins the state, and
:func:`verify_document` recomputes every figure. Incidents and complaints come in through
:class:`Register`. The privacy notice (Art. 7) comes from :func:`render_notice`.
"""

from onshore.report.annual import (
    Report,
    VerifyResult,
    build_report,
    missing_to_file,
    read_block,
    verify_document,
)
from onshore.report.collect import collect
from onshore.report.incidents import Complaint, Incident, Register
from onshore.report.notice import notice_items, render_notice

__all__ = [
    "Complaint",
    "Incident",
    "Register",
    "Report",
    "VerifyResult",
    "build_report",
    "collect",
    "missing_to_file",
    "notice_items",
    "read_block",
    "render_notice",
    "verify_document",
]
