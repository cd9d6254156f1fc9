"""The cross-border transfer gate: the right legal mechanism, the approved scope, nothing else."""

from onshore.transfer.counting import Counts, PastTransfer, count_individuals
from onshore.transfer.decide import approval_expiry, decide_transfer
from onshore.transfer.models import (
    Approval,
    Decision,
    ProcessorSettings,
    Reason,
    Recipient,
    TransferFacts,
    TransferRequest,
)
from onshore.transfer.policy import TransferPolicy, transfer_policy
from onshore.transfer.renewal import ApprovalStatus, approval_status, approval_statuses

__all__ = [
    "Approval",
    "ApprovalStatus",
    "Counts",
    "Decision",
    "PastTransfer",
    "ProcessorSettings",
    "Reason",
    "Recipient",
    "TransferFacts",
    "TransferPolicy",
    "TransferRequest",
    "approval_expiry",
    "approval_status",
    "approval_statuses",
    "count_individuals",
    "decide_transfer",
    "transfer_policy",
]
