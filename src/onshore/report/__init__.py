"""Regulator reports: the annual automotive data security report and the privacy notice.

The annual report (Provisions 2021, Arts. 13 and 14) is built from what Onshore recorded (the
ledger, the stores, the pack and ``config.yaml``), so it is evidence, not prose: every table
carries the query that produced it, the ledger's signed tree head pins the state, and
:func:`verify_document` recomputes every figure. Incidents and complaints come in through
:class:`Register`. The privacy notice (Art. 7) comes from :func:`render_notice`; the risk
assessment of important-data processing (Art. 10) from :func:`make_assessment`, checked by
:func:`verify_assessment`, listed by :func:`risk_history`.
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
from onshore.report.risk import Assessment, make_assessment, verify_assessment
from onshore.report.risk import history as risk_history

__all__ = [
    "Assessment",
    "Complaint",
    "Incident",
    "Register",
    "Report",
    "VerifyResult",
    "build_report",
    "collect",
    "make_assessment",
    "missing_to_file",
    "notice_items",
    "read_block",
    "render_notice",
    "risk_history",
    "verify_assessment",
    "verify_document",
]
