"""Request and response bodies of the HTTP service, as they appear in its OpenAPI schema.

Nested results that the library already defines as JSON (an assessment, a decision, a risk
report, a ledger proof) are passed through as objects; the members documented here are the
ones a client acts on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from onshore.text import Name, Note
from onshore.transfer.models import RequestModel


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class HealthDetails(BaseModel):
    jurisdiction: str = Field(description="The pack's jurisdiction; clients elsewhere are abroad")
    ledger_size: int
    max_body_bytes: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str = Field(description="Onshore's version (as in /openapi.json)")
    details: HealthDetails | None = Field(
        default=None, description="Only for a request with a valid API key (any role)"
    )


class Rejection(BaseModel):
    record: int = Field(description="0-based message (line, frame message) in the body")
    reason: str
    field: str | None = None
    offset: int | None = Field(default=None, description="Byte offset in a GB/T 32960 message")
    frame: int | None = Field(
        default=None, description="0-based frame of the GB/T 32960 message that was rejected"
    )


class IngestResult(_Open):
    dataset: str
    format: str
    messages: int
    rows: int
    stored: int = Field(description="Rows now durably stored (consent gate applied)")
    duplicates: int = Field(description="Rows already stored before (same VIN, ts, kind)")
    rejected_messages: int
    quarantined_rows: int
    files: list[str]
    level: str | None
    rejections: list[Rejection] = Field(
        description="Each rejected record (line, or frame of a GB/T 32960 body) and why: "
        "the first 1000"
    )
    rejected_records: int = Field(
        0, description="Rejected records: lines, or frames of a GB/T 32960 body"
    )
    rejections_not_listed: int = Field(0, description="Rejected records past the first 1000")
    quarantine: str = Field(description="File (in the data home) where rejected messages are kept")


class BadRecordOut(_Open):
    row: int
    field: str | None
    error: str


class ScanResult(BaseModel):
    level: str
    rows: int
    rows_quarantined: int
    assessment: dict[str, Any] = Field(description="The full assessment (as `onshore scan --json`)")
    bad_records: list[BadRecordOut] = Field(
        description="Each row that could not be read (row, field, reason): the first 1000"
    )
    bad_records_not_listed: int = Field(0, description="Bad rows past the first 1000")


class DesensitizeResult(BaseModel):
    profile: str
    rows: int
    columns: list[str]
    risk: dict[str, Any] = Field(description="The risk report (as `onshore desensitize --json`)")
    records: list[dict[str, Any]] = Field(description="The desensitized rows")


class TransferIn(RequestModel):
    """A transfer request (as ``onshore transfer run`` reads from a file); ``dataset`` names a
    dataset of the data home's lake."""

    dataset: Name = Field(min_length=1, description="A lake dataset (see GET /v1/datasets)")
    profile: str | None = Field(default=None, description="A desensitization profile of the pack")
    store: str | None = Field(default=None, description="Only this store's files (default: all)")


class TransferOutcome(_Open):
    transfer: str
    dataset: str
    mechanism: str
    allowed: bool
    missing: list[str]
    reasons: list[dict[str, Any]]
    counts: dict[str, int]
    package: str | None = None
    ledger_index: int | None = None


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Name = Field(min_length=1, max_length=200)
    kind: Literal[
        "security_assessment",
        "standard_contract",
        "certification",
        "mapping_approval",
        "regulator_filing",
    ]
    recipient: Name | None = None
    purpose: Name | None = None
    categories: list[Name] = Field(default_factory=list)
    max_individuals: int | None = Field(default=None, ge=0)
    issued: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")
    expires: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    reference: Note = ""


class ApprovalOut(BaseModel):
    id: str
    kind: str
    recipient: str | None
    purpose: str | None
    categories: list[str]
    max_individuals: int | None
    issued: str
    expires: str | None = Field(description="Effective expiry (pack rules), null when none")
    renew_from: str | None = Field(
        description="Start of the renewal window (working days before expiry), null when none"
    )
    status: Literal["valid", "renew now", "expired"] = Field(description="As of today")


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vin: Name | None = Field(default=None, description="A vehicle's VIN")
    subject: Name | None = Field(
        default=None, description="Or: a person's id (an app account), or a VIN with kind vehicle"
    )
    kind: Literal["vehicle", "person"] | None = Field(
        default=None, description="What subject names (default: person)"
    )
    category: Name
    purpose: Name
    expires_at: str | None = Field(default=None, description="ISO 8601 time with a zone")
    days: int | None = Field(default=None, ge=1, le=36_500, description="Or: days after grant")
    person: Name = "owner"
    channel: Name = "app"
    necessity: Note | None = None
    granted_at: str | None = Field(default=None, max_length=64)


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Name | None = None
    vin: Name | None = None
    subject: Name | None = None
    kind: Literal["vehicle", "person"] | None = None
    category: Name | None = None
    purpose: Name | None = None


class ConsentOut(_Open):
    id: str
    subject: str
    subject_kind: str = Field(description="vehicle or person")
    vin: str | None = Field(description="The VIN of a vehicle subject; null for a person")
    category: str
    purpose: str
    status: str


class ConsentRejection(BaseModel):
    line: int = Field(description="Line in the file (the CSV header is line 1)")
    field: str
    message: str


class ConsentImportOut(_Open):
    file: str
    digest: str = Field(description="sha256:HEX of the body, as the ledger entry records it")
    rows: int
    imported: int = Field(description="Consents written (one per category and purpose)")
    skipped: int = Field(description="Consents already recorded (not written again)")
    rows_rejected: int
    rejected: list[ConsentRejection] = Field(description="Each rejected row: line, field, why")


class ConsentList(BaseModel):
    consents: list[ConsentOut]
    remote_access: dict[str, Any] | None = Field(
        default=None, description="For a client abroad: the transfer gate's allowed outcome"
    )


class DeletionOut(_Open):
    request_id: str
    due_date: str
    completed_at: str
    rows_removed: dict[str, int]
    rows_remaining: int
    places: list[dict[str, Any]] = []  # every registered place: found, done, found again
    remaining: int = 0  # over every place that could be rescanned
    unchecked: list[str] = []  # places that cannot be checked from here (the note says why)
    recipients: list[dict[str, Any]] = []  # transfers whose recipients must be told to delete


class VerifyOut(_Open):
    ok: bool


class HeadOut(BaseModel):
    signed_tree_head: dict[str, Any] | None


class ProofOut(_Open):
    type: str
    remote_access: dict[str, Any] | None = None


class DatasetOut(BaseModel):
    dataset: str
    files: int
    rows: int
    bytes: int
    levels: list[str]
    stores: list[str]
