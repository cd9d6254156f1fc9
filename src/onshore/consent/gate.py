"""The consent gate: default no collection. Pure: batches and consent windows in, batches out.

For the purpose of an ingest, each column is judged once (so every batch has the same schema):

* ``keep``: no personal information, or a basis other than consent covers it (a legal
  obligation such as GB/T 32960 reporting, a contract);
* ``per_subject``: only consent covers it, and some subject has a consent in force: the values
  of rows whose subject (the vehicle of the VIN column, or the person of the person-identifier
  column: ``--subject``, else the pack's ``person_subject_categories``) has none, or outside
  the consent's window, become null;
* ``drop``: no basis for this purpose (or consent would be the basis but nobody gave it), or an
  unknown column (treated as personal until the pack maps it);
* ``refuse``: a biometric category outside the pack's biometric purposes (driving safety);
* ``anonymized``: exterior images or video (bystanders, who cannot consent: Provisions 2021
  Art. 8): kept only in rows whose anonymizer sidecar (``MEDIA_sidecar``, else
  ``anonymization_sidecar``) shows the file was masked with no residual face or plate; other
  values become null. Without a sidecar column the media column is dropped.

Sensitive personal information rests on consent only for a purpose that serves the person
(``bases.yaml`` ``serves_person``): for fleet analytics or marketing a trajectory is dropped
whatever consent was given.

The person-identifier column itself (app and account data key on a person, not a car) is
kept in the rows of persons with a consent in force for the purpose: their consent is applied
through it. Everything dropped or nulled is counted per category, and per column and reason
(:data:`WHY_BEFORE` and the other ``WHY_`` phrases); :meth:`ConsentGate.report` says what.

>>> import pyarrow as pa
>>> from datetime import datetime, timezone
>>> from onshore.packs import load_pack
>>> gate = ConsentGate(load_pack(), "fleet_analytics", {},
...                    now=datetime(2026, 11, 1, tzinfo=timezone.utc))
>>> batch = pa.record_batch({"vin": ["LSVAU2180N2183294"], "lat": [39.9], "soc": [55.0]})
>>> gate.apply(batch).schema.names
['vin', 'soc']
>>> gate.report().dropped_values
{'location.trajectory': 1}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onshore.errors import BadInput
from onshore.model import Level
from onshore.packs import Pack

from .model import PERSON, SUBJECT_KINDS, VEHICLE, check_purpose, pack_bases

KEEP, PER_SUBJECT, DROP, REFUSE = "keep", "per_subject", "drop", "refuse"
PER_VEHICLE = PER_SUBJECT  # the name before subjects could be persons
ANONYMIZED = "anonymized"

# Why a value was nulled (per row) or a column dropped: the phrases reports and the ledger show.
WHY_BEFORE = "before the consent window"
WHY_OUTSIDE = "outside the consent window"
WHY_ENDED = "consent withdrawn or expired"
WHY_NO_CONSENT = "no consent for this purpose"
WHY_NO_SUBJECT = "no subject identifier in the row"
WHY_NOT_ANONYMIZED = "not proven anonymized (no clean sidecar)"
WHY_NO_BASIS = "no basis for this purpose in the pack"
WHY_SENSITIVE = "sensitive: purpose does not serve the person"
WHY_BIOMETRIC = "biometric: outside the pack's biometric purposes"
WHY_UNKNOWN = "unknown field: personal until the pack maps it"
WHY_LABEL = "Onshore label column: recomputed"
WHY_NO_SIDECAR = "exterior media without an anonymizer sidecar column"
# per-row reasons, best first: a row's reason is the best over the subject kinds it names
_ROW_WHY = (None, WHY_BEFORE, WHY_OUTSIDE, WHY_ENDED, WHY_NO_CONSENT, WHY_NO_SUBJECT)
_INSIDE, _BEFORE, _OUTSIDE, _ENDED, _NONE, _NO_SUBJECT = range(len(_ROW_WHY))
_IDENTIFIER_REASON = "the identifier of persons with a consent in force for this purpose"
LABEL_PREFIX = "onshore_"
SIDECAR_COLUMN = "anonymization_sidecar"
SidecarReader = Callable[[str], Mapping[str, Any] | None]


def read_sidecar_file(root: Path | None = None) -> SidecarReader:
    """A reader of anonymizer sidecars (JSON files; relative paths from ``root``); None when a
    sidecar is missing or unreadable."""

    def read(path: str) -> Mapping[str, Any] | None:
        p = Path(path)
        if not p.is_absolute() and root is not None:
            p = root / p
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return raw if isinstance(raw, dict) else None

    return read


def sidecar_clean(media: str, sidecar: Mapping[str, Any] | None) -> bool:
    """True when ``sidecar`` proves ``media`` was anonymized: the anonymizer finished
    (``status: done``), its output is this file, and no face or plate is left (``residual``)."""
    if sidecar is None or sidecar.get("status") != "done":
        return False
    output = sidecar.get("output")
    if not isinstance(output, str) or _basename(output) != _basename(media):
        return False
    residual = sidecar.get("residual")
    if not isinstance(residual, Mapping):
        return False
    try:
        return all(int(v) == 0 for v in residual.values())
    except (TypeError, ValueError):
        return False


def _basename(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).name


@dataclass(frozen=True)
class ColumnDecision:
    """What the gate does with one column, and why (a basis or rule id)."""

    name: str
    category: str | None
    action: str
    rule_id: str | None
    reason: str
    #: for a dropped or refused column, the short reason counted in the report (``WHY_*``)
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "category": self.category,
            "action": self.action,
            "rule_id": self.rule_id,
            "reason": self.reason,
        }
        if self.why:
            out["why"] = self.why
        return out


@dataclass(frozen=True)
class GateReport:
    """What the gate let in and kept out over a whole ingest."""

    purpose: str
    rows: int
    columns: tuple[ColumnDecision, ...]
    dropped_values: dict[str, int] = field(default_factory=dict)
    nulled_values: dict[str, int] = field(default_factory=dict)
    #: non-null values let through, per category: a category kept as a column whose values
    #: were all nulled (or absent) holds nothing and was not collected
    kept_values: dict[str, int] = field(default_factory=dict)
    #: per nulled column, values per reason (``WHY_*``): {"lat": {"before the consent window": 9}}
    nulled_reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    #: per dropped column, values per reason: {"name": {"no basis for this purpose …": 3}}
    dropped_reasons: dict[str, dict[str, int]] = field(default_factory=dict)

    def why_lines(self) -> list[str]:
        """One line per column that lost values: the column, its category and the counts per
        reason, most first (``lat (location.trajectory): 9 before the consent window``)."""
        categories = {c.name: c.category or "(unknown)" for c in self.columns}
        lines = []
        for verb, table in (("nulled", self.nulled_reasons), ("dropped", self.dropped_reasons)):
            for name, reasons in table.items():
                counts = "; ".join(
                    f"{n:,} {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])
                )
                lines.append(f"{verb} {name} ({categories.get(name, '(unknown)')}): {counts}")
        return lines

    @property
    def held_categories(self) -> tuple[str, ...]:
        """The kept categories of which at least one value went through."""
        return tuple(c for c in self.kept_categories if self.kept_values.get(c, 0) > 0)

    @property
    def refused(self) -> tuple[str, ...]:
        return tuple(sorted({c.category or "" for c in self.columns if c.action == REFUSE}))

    @property
    def kept_categories(self) -> tuple[str, ...]:
        return tuple(
            sorted(
                {
                    c.category
                    for c in self.columns
                    if c.action in (KEEP, PER_SUBJECT, ANONYMIZED) and c.category
                }
            )
        )

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(sorted({c.rule_id for c in self.columns if c.rule_id}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "rows": self.rows,
            "columns": [c.to_dict() for c in self.columns],
            "dropped_values": self.dropped_values,
            "nulled_values": self.nulled_values,
            "kept_values": self.kept_values,
            "nulled_reasons": self.nulled_reasons,
            "dropped_reasons": self.dropped_reasons,
            "refused_categories": list(self.refused),
        }


class ConsentGate:
    """Drop what has no legal basis for ``purpose``; keep consented values per subject.

    ``windows`` maps a consented category to a table of consent windows
    (:data:`onshore.consent.registry.WINDOW_SCHEMA`: ``kind, subject, start_ms, end_ms,
    in_force``; see ``ConsentRegistry.windows``); ``now`` stands in for rows without a
    timestamp. ``subject`` names the column that identifies a person (``--subject``), when the
    pack's names do not.
    """

    def __init__(
        self,
        pack: Pack,
        purpose: str,
        windows: Mapping[str, pa.Table],
        *,
        now: datetime,
        read_sidecar: SidecarReader | None = None,
        subject: str | None = None,
    ) -> None:
        check_purpose(pack, purpose)
        if pack_bases(pack).purpose(purpose).outbound:
            raise BadInput(
                f"{purpose!r} is the consent to an export, not a purpose of collection",
                field="purpose",
            )
        self.pack, self.purpose, self.subject = pack, purpose, subject
        self.windows = {c: _windows_table(t) for c, t in windows.items()}
        self.read_sidecar = read_sidecar or read_sidecar_file()
        self._sidecars: dict[str, Mapping[str, Any] | None] = {}
        self._markers: dict[str, str] = {}
        self.now_ms = int(now.timestamp() * 1000)
        self._plans: dict[pa.Schema, tuple[ColumnDecision, ...]] = {}
        self._columns: dict[str, ColumnDecision] = {}
        self._rows = 0
        self._dropped: dict[str, int] = {}
        self._nulled: dict[str, int] = {}
        self._kept: dict[str, int] = {}
        self._nulled_why: dict[str, dict[str, int]] = {}
        self._dropped_why: dict[str, dict[str, int]] = {}

    # -- decisions ------------------------------------------------------------------------------
    def decide(self, name: str) -> ColumnDecision:
        """The gate's decision for one column name under this purpose."""
        pack, bases = self.pack, pack_bases(self.pack)
        label = pack.resolve_field(name)
        category = label.category
        if name.startswith(LABEL_PREFIX):
            return ColumnDecision(name, None, DROP, None, WHY_LABEL, WHY_LABEL)
        if category is None and name == self.subject:
            category = "person.identity.account_id"  # as the classifier labels --subject
        if category is None:
            return ColumnDecision(name, None, DROP, None, WHY_UNKNOWN, WHY_UNKNOWN)
        if bases.is_biometric(pack, category) and self.purpose not in bases.biometric.purposes:
            return ColumnDecision(
                name,
                category,
                REFUSE,
                bases.biometric.rule_id,
                f"biometrics only for {', '.join(bases.biometric.purposes)}",
                WHY_BIOMETRIC,
            )
        if bases.is_bystander_media(pack, category):
            assert bases.bystanders is not None
            return ColumnDecision(
                name,
                category,
                ANONYMIZED,
                bases.bystanders.rule_id,
                "exterior media of bystanders: kept only anonymized (sidecar, no residual)",
            )
        if not bases.needs_basis(pack, category):
            return ColumnDecision(name, category, KEEP, None, "not personal information")
        covering = bases.covering(pack, category, self.purpose)
        other = [b for b in covering if not b.needs_consent]
        if other:
            return ColumnDecision(name, category, KEEP, other[0].id, other[0].basis)
        consent = [b for b in covering if b.needs_consent]
        if consent and self._windows_for(category) is not None:
            return ColumnDecision(
                name, category, PER_SUBJECT, consent[0].id, f"{consent[0].basis} per subject"
            )
        if consent:
            return ColumnDecision(
                name,
                category,
                DROP,
                consent[0].id,
                f"{consent[0].basis} needed; none in force",
                WHY_NO_CONSENT,
            )
        rule = bases.sensitive_purpose
        if (
            rule is not None
            and not bases.consent_may_cover_sensitive(self.purpose)
            and pack.level_of(category) >= Level.SENSITIVE_PERSONAL
        ):
            return ColumnDecision(
                name,
                category,
                DROP,
                rule.rule_id,
                f"sensitive personal information: {self.purpose} does not serve the person",
                WHY_SENSITIVE,
            )
        return ColumnDecision(
            name, category, DROP, None, f"no legal basis for {self.purpose}", WHY_NO_BASIS
        )

    def _windows_for(self, category: str | None, *, in_force: bool = True) -> pa.Table | None:
        """The windows covering ``category`` (every category: None); only when one is in
        force, unless ``in_force`` is false."""
        tables = [
            t
            for c, t in self.windows.items()
            if category is None or self.pack.is_within(category, c)
        ]
        if not tables:
            return None
        table = pa.concat_tables(tables)
        if in_force and not pc.any(table.column("in_force")).as_py():
            return None
        return table

    def _person_decision(self, decision: ColumnDecision) -> ColumnDecision:
        """The person-identifier column: kept for the persons with a consent in force for this
        purpose (their consent is applied through it), when nothing else covers it."""
        if decision.action != DROP or decision.category is None:
            return decision
        if self.pack.resolve_field(decision.name).category is None and decision.name != (
            self.subject
        ):
            return decision
        windows = self._windows_for(None)
        if windows is None:
            return decision
        if not pc.any(
            pc.and_(pc.equal(windows.column("kind"), PERSON), windows.column("in_force"))
        ).as_py():
            return decision
        bases = pack_bases(self.pack)
        if not any(
            b.needs_consent for b in bases.covering(self.pack, decision.category, self.purpose)
        ):
            return decision
        return ColumnDecision(
            decision.name,
            decision.category,
            PER_SUBJECT,
            decision.rule_id,
            _IDENTIFIER_REASON,
        )

    def plan(self, schema: pa.Schema) -> tuple[ColumnDecision, ...]:
        if schema not in self._plans:
            person = self._person_column(schema)
            self._plans[schema] = tuple(
                self._with_marker(
                    self._person_decision(self.decide(name))
                    if name == person
                    else self.decide(name),
                    schema,
                )
                for name in schema.names
            )
            if self.subject is not None and self.subject in schema.names:
                chosen = next(d for d in self._plans[schema] if d.name == self.subject)
                if chosen.action in (DROP, REFUSE):
                    raise BadInput(
                        f"the consent gate drops the --subject column for purpose "
                        f"{self.purpose!r} ({chosen.why or chosen.reason}): give a purpose with a "
                        "basis for it, or record the persons' consents (onshore consent grant "
                        "--subject ID, onshore consent import FILE)",
                        field=self.subject,
                    )
            for decision in self._plans[schema]:
                self._columns.setdefault(decision.name, decision)
        return self._plans[schema]

    def _with_marker(self, decision: ColumnDecision, schema: pa.Schema) -> ColumnDecision:
        """An exterior-media column needs its sidecar column, else it is dropped."""
        if decision.action != ANONYMIZED:
            return decision
        for marker in (f"{decision.name}_sidecar", SIDECAR_COLUMN):
            if marker in schema.names:
                self._markers[decision.name] = marker
                return decision
        return ColumnDecision(
            decision.name, decision.category, DROP, decision.rule_id, WHY_NO_SIDECAR, WHY_NO_SIDECAR
        )

    def _anonymized(self, batch: pa.RecordBatch, name: str) -> np.ndarray:
        """True for rows whose media file has a sidecar proving anonymization."""
        media = batch.column(name).to_pylist()
        sidecars = batch.column(self._markers[name]).to_pylist()
        out = np.zeros(batch.num_rows, dtype=bool)
        for i, (m, s) in enumerate(zip(media, sidecars, strict=True)):
            if m is None or s is None:
                continue
            key = str(s)
            if key not in self._sidecars:
                self._sidecars[key] = self.read_sidecar(key)
            out[i] = sidecar_clean(str(m), self._sidecars[key])
        return out

    # -- data -----------------------------------------------------------------------------------
    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch with dropped columns removed and unconsented values nulled."""
        decisions = self.plan(batch.schema)
        person = self._person_column(batch.schema)
        self._rows += batch.num_rows
        arrays, names = [], []
        codes_of: dict[tuple[str | None, tuple[str, ...]], np.ndarray] = {}
        for decision, column in zip(decisions, batch.columns, strict=True):
            key = decision.category or "(unknown)"
            present = len(column) - column.null_count
            if decision.action in (DROP, REFUSE):
                if present:
                    self._dropped[key] = self._dropped.get(key, 0) + present
                    _add(
                        self._dropped_why, decision.name, {decision.why or decision.reason: present}
                    )
                continue
            if decision.action in (PER_SUBJECT, ANONYMIZED):
                assert decision.category is not None
                if decision.action == PER_SUBJECT:
                    # the person-identifier column is kept where its person consented to
                    # anything for this purpose; any other column where its category is covered
                    scope = (
                        (None, (PERSON,))
                        if decision.name == person and self._is_identifier(decision)
                        else (decision.category, SUBJECT_KINDS)
                    )
                    if scope not in codes_of:
                        codes_of[scope] = self._consent_codes(batch, *scope)
                    codes = codes_of[scope]
                    mask = codes == _INSIDE
                else:
                    mask = self._anonymized(batch, decision.name)
                    codes = np.where(mask, _INSIDE, _NONE).astype(np.int8)
                valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
                lost = valid & ~mask
                nulled = int(lost.sum())
                if nulled:
                    self._nulled[key] = self._nulled.get(key, 0) + nulled
                    if decision.action == ANONYMIZED:
                        reasons = {WHY_NOT_ANONYMIZED: nulled}
                    else:
                        counts = np.bincount(codes[lost], minlength=len(_ROW_WHY))
                        reasons = {
                            str(_ROW_WHY[i]): int(c) for i, c in enumerate(counts) if c and i
                        }
                    _add(self._nulled_why, decision.name, reasons)
                column = pc.if_else(pa.array(mask), column, pa.scalar(None, column.type))
                present -= nulled
            if present:
                self._kept[key] = self._kept.get(key, 0) + present
            arrays.append(column)
            names.append(decision.name)
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def _is_identifier(self, decision: ColumnDecision) -> bool:
        """Whether ``decision`` is the person-identifier column kept for consenting persons."""
        return decision.reason == _IDENTIFIER_REASON

    def _person_column(self, schema: pa.Schema) -> str | None:
        """The column naming a row's person: ``--subject`` (unless the pack says it names a
        vehicle), else the first column of the pack's ``person_subject_categories``."""
        if self.subject is not None and self.subject in schema.names:
            kind = self.pack.subject_kind(self.pack.resolve_field(self.subject).category)
            if kind != VEHICLE:
                return self.subject
        settings = self.pack.header.settings
        categories = {str(n): self.pack.resolve_field(n).category for n in schema.names}
        for category in settings.person_subject_categories:
            for name, found in categories.items():
                if found == category:
                    return name
        return None

    def _consent_codes(
        self, batch: pa.RecordBatch, category: str | None, kinds: tuple[str, ...]
    ) -> np.ndarray:
        """Per row, the best reason code (``_INSIDE``: a consent in force covers the row's time)
        over the subjects it names: its vehicle (the VIN column) and its person."""
        n = batch.num_rows
        codes = np.full(n, _NO_SUBJECT, dtype=np.int8)
        windows = self._windows_for(category, in_force=False)
        columns = {VEHICLE: self._role_column(batch.schema, "vin"), PERSON: None}
        if PERSON in kinds:
            columns[PERSON] = self._person_column(batch.schema)
        times: np.ndarray | None = None
        for kind in kinds:
            name = columns.get(kind)
            if name is None or n == 0:
                continue
            ids = pc.cast(batch.column(name), pa.string())
            has_id = np.asarray(ids.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            found = np.where(has_id, _NONE, _NO_SUBJECT).astype(np.int8)
            mine = None
            if windows is not None:
                mine = windows.filter(pc.equal(windows.column("kind"), kind))
            if mine is not None and mine.num_rows:
                if times is None:
                    times = self._times(batch)
                rows = pa.table(
                    {
                        "row": pa.array(np.arange(n, dtype=np.int64)),
                        "subject": ids,
                        "t": pa.array(times),
                    }
                )
                joined = rows.join(
                    mine.select(["subject", "start_ms", "end_ms", "in_force"]),
                    keys="subject",
                    join_type="inner",
                )
                row = joined.column("row").to_numpy()
                t = joined.column("t").to_numpy()
                start = joined.column("start_ms").to_numpy()
                end = joined.column("end_ms").to_numpy()
                live = joined.column("in_force").to_numpy(zero_copy_only=False).astype(bool)
                per = np.full(len(row), _ENDED, dtype=np.int8)
                per[live & (t < start)] = _BEFORE
                per[live & (t >= end)] = _OUTSIDE
                per[live & (start <= t) & (t < end)] = _INSIDE
                np.minimum.at(found, row, per)
            codes = np.minimum(codes, found)
        return codes

    def _times(self, batch: pa.RecordBatch) -> np.ndarray:
        ts_col = self._role_column(batch.schema, "timestamp")
        n = batch.num_rows
        if ts_col is None or not pa.types.is_timestamp(batch.schema.field(ts_col).type):
            return np.full(n, self.now_ms, dtype=np.int64)
        ts = pc.cast(pc.cast(batch.column(ts_col), pa.timestamp("ms")), pa.int64())
        return np.asarray(pc.fill_null(ts, self.now_ms).to_numpy(zero_copy_only=False))

    def _role_column(self, schema: pa.Schema, role: str) -> str | None:
        for name in schema.names:
            if self.pack.resolve_field(name).role == role:
                return str(name)
        return None

    def report(self) -> GateReport:
        return GateReport(
            purpose=self.purpose,
            rows=self._rows,
            columns=tuple(self._columns.values()),
            dropped_values=dict(sorted(self._dropped.items())),
            nulled_values=dict(sorted(self._nulled.items())),
            kept_values=dict(sorted(self._kept.items())),
            nulled_reasons={k: dict(sorted(v.items())) for k, v in self._nulled_why.items()},
            dropped_reasons={k: dict(sorted(v.items())) for k, v in self._dropped_why.items()},
        )


def _add(table: dict[str, dict[str, int]], name: str, counts: Mapping[str, int]) -> None:
    into = table.setdefault(name, {})
    for why, n in counts.items():
        into[why] = into.get(why, 0) + n


def _windows_table(table: pa.Table) -> pa.Table:
    """``table`` in the window schema; a table of the older shape ``(vin, start_ms, end_ms)``
    holds vehicle consents in force."""
    if "subject" not in table.column_names and "vin" in table.column_names:
        n = table.num_rows
        table = pa.table(
            {
                "kind": pa.array([VEHICLE] * n, pa.string()),
                "subject": pc.cast(table.column("vin"), pa.string()),
                "start_ms": table.column("start_ms"),
                "end_ms": table.column("end_ms"),
                "in_force": pa.array([True] * n, pa.bool_()),
            }
        )
    return table
