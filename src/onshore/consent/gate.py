"""The consent gate: default no collection. Pure: batches and consent windows in, batches out.

For the purpose of an ingest, each column is judged once (so every batch has the same schema):

* ``keep``: no personal information, or a basis other than consent covers it (a legal
  obligation such as GB/T 32960 reporting, a contract);
* ``per_vehicle``: only consent covers it, and some vehicle has a consent in force: the values
  of vehicles without one, or outside the consent's window, become null;
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

Everything dropped or nulled is counted per category; :meth:`ConsentGate.report` says what.

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

from .model import check_purpose, pack_bases

KEEP, PER_VEHICLE, DROP, REFUSE = "keep", "per_vehicle", "drop", "refuse"
ANONYMIZED = "anonymized"
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "action": self.action,
            "rule_id": self.rule_id,
            "reason": self.reason,
        }


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
                    if c.action in (KEEP, PER_VEHICLE, ANONYMIZED) and c.category
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
            "refused_categories": list(self.refused),
        }


class ConsentGate:
    """Drop what has no legal basis for ``purpose``; keep consented values per vehicle.

    ``windows`` maps a consented category to a table ``(vin, start_ms, end_ms)`` of the
    consents in force (see ``ConsentRegistry.windows``); ``now`` stands in for rows without a
    timestamp.
    """

    def __init__(
        self,
        pack: Pack,
        purpose: str,
        windows: Mapping[str, pa.Table],
        *,
        now: datetime,
        read_sidecar: SidecarReader | None = None,
    ) -> None:
        check_purpose(pack, purpose)
        if pack_bases(pack).purpose(purpose).outbound:
            raise BadInput(
                f"{purpose!r} is the consent to an export, not a purpose of collection",
                field="purpose",
            )
        self.pack, self.purpose, self.windows = pack, purpose, dict(windows)
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

    # -- decisions ------------------------------------------------------------------------------
    def decide(self, name: str) -> ColumnDecision:
        """The gate's decision for one column name under this purpose."""
        pack, bases = self.pack, pack_bases(self.pack)
        label = pack.resolve_field(name)
        category = label.category
        if name.startswith(LABEL_PREFIX):
            return ColumnDecision(name, None, DROP, None, "Onshore label column: recomputed")
        if category is None:
            return ColumnDecision(
                name, None, DROP, None, "unknown field: personal until the pack maps it"
            )
        if bases.is_biometric(pack, category) and self.purpose not in bases.biometric.purposes:
            return ColumnDecision(
                name,
                category,
                REFUSE,
                bases.biometric.rule_id,
                f"biometrics only for {', '.join(bases.biometric.purposes)}",
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
                name, category, PER_VEHICLE, consent[0].id, f"{consent[0].basis} per vehicle"
            )
        if consent:
            return ColumnDecision(
                name, category, DROP, consent[0].id, f"{consent[0].basis} needed; none in force"
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
            )
        return ColumnDecision(name, category, DROP, None, f"no legal basis for {self.purpose}")

    def _windows_for(self, category: str) -> pa.Table | None:
        tables = [t for c, t in self.windows.items() if self.pack.is_within(category, c)]
        if not tables:
            return None
        return pa.concat_tables(tables)

    def plan(self, schema: pa.Schema) -> tuple[ColumnDecision, ...]:
        if schema not in self._plans:
            self._plans[schema] = tuple(
                self._with_marker(self.decide(name), schema) for name in schema.names
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
            decision.name,
            decision.category,
            DROP,
            decision.rule_id,
            "exterior media of bystanders without an anonymizer sidecar column",
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
        self._rows += batch.num_rows
        arrays, names = [], []
        for decision, column in zip(decisions, batch.columns, strict=True):
            key = decision.category or "(unknown)"
            present = len(column) - column.null_count
            if decision.action in (DROP, REFUSE):
                if present:
                    self._dropped[key] = self._dropped.get(key, 0) + present
                continue
            if decision.action in (PER_VEHICLE, ANONYMIZED):
                assert decision.category is not None
                if decision.action == PER_VEHICLE:
                    mask = self._consented(batch, decision.category)
                else:
                    mask = self._anonymized(batch, decision.name)
                nulled = present - int(
                    pc.sum(pc.and_(pc.is_valid(column), pa.array(mask))).as_py() or 0
                )
                if nulled:
                    self._nulled[key] = self._nulled.get(key, 0) + nulled
                column = pc.if_else(pa.array(mask), column, pa.scalar(None, column.type))
                present -= nulled
            if present:
                self._kept[key] = self._kept.get(key, 0) + present
            arrays.append(column)
            names.append(decision.name)
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def _consented(self, batch: pa.RecordBatch, category: str) -> np.ndarray:
        """True for rows whose vehicle had a consent in force at the row's time."""
        n = batch.num_rows
        windows = self._windows_for(category)
        vin_col = self._role_column(batch.schema, "vin")
        if windows is None or vin_col is None or n == 0:
            return np.zeros(n, dtype=bool)
        times = self._times(batch)
        rows = pa.table(
            {
                "row": pa.array(np.arange(n, dtype=np.int64)),
                "vin": pc.cast(batch.column(vin_col), pa.string()),
                "t": pa.array(times),
            }
        )
        joined = rows.join(windows, keys="vin", join_type="inner")
        inside = pc.and_(
            pc.less_equal(joined.column("start_ms"), joined.column("t")),
            pc.less(joined.column("t"), joined.column("end_ms")),
        )
        hits = joined.column("row").filter(inside).to_numpy()
        mask = np.zeros(n, dtype=bool)
        mask[hits] = True
        return mask

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
        )
