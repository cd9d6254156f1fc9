"""Residency: personal and important data stay in the jurisdiction where they were collected.

:func:`residency_decision` is the pure rule (from the pack's ``retention.yaml``);
:func:`enforce_residency` is what every write path of a store calls before a byte reaches it:
on a refusal it appends a ``policy_refusal`` ledger entry and raises
:class:`~onshore.errors.PolicyRefusal` (exit 4).

>>> from onshore.packs import load_pack
>>> d = residency_decision(load_pack(), store_jurisdiction="DE", origin="CN", level=Level.PERSONAL)
>>> d.allowed, d.rule_id
(False, 'cn-auto/residency/localisation')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from onshore.errors import PackError, PolicyRefusal
from onshore.ledger import Activity
from onshore.model import Level
from onshore.packs import Pack

if TYPE_CHECKING:
    from onshore.store.home import DataHome, StoreInfo

LEVEL_COLUMN = "onshore_level"


@dataclass(frozen=True)
class ResidencyDecision:
    """Whether data of ``level`` from ``origin`` may be written to a store in ``jurisdiction``."""

    allowed: bool
    level: Level
    origin: str
    jurisdiction: str
    rule_id: str
    reason: str


def residency_decision(
    pack: Pack, *, store_jurisdiction: str, origin: str, level: Level
) -> ResidencyDecision:
    """The pack's residency rule applied to one write."""
    if pack.retention is None:
        raise PackError(f"pack {pack.name!r} has no retention.yaml (residency rule)")
    rule = pack.retention.residency
    bound = Level.parse(rule.min_level)
    same = _country(store_jurisdiction) == _country(origin)
    allowed = same or level < bound
    if allowed:
        reason = "same jurisdiction" if same else f"{level.label} data may be stored abroad"
    else:
        reason = (
            f"{level.label} data collected in {origin} may not be stored in "
            f"{store_jurisdiction}: {rule.description} ({pack.legal_ref(rule.ref)})"
        )
    return ResidencyDecision(allowed, level, origin, store_jurisdiction, rule.rule_id, reason)


def _country(code: str) -> str:
    """``CN-BJ`` and ``CN`` are the same jurisdiction for residency: compare the country."""
    return code.upper().split("-", 1)[0]


def table_level(table: pa.Table | pa.RecordBatch) -> Level:
    """The highest ``onshore_level`` of the rows; unlabelled data counts as important."""
    if LEVEL_COLUMN not in table.schema.names:
        return Level.IMPORTANT
    column = table.column(LEVEL_COLUMN)
    if table.num_rows == 0:
        return Level.GENERAL
    if column.null_count:
        return Level.IMPORTANT
    values = pc.unique(column).to_pylist()
    return max((Level.parse(v) for v in values), default=Level.GENERAL)


def enforce_residency(
    home: DataHome,
    store: StoreInfo,
    *,
    dataset: str,
    origin: str,
    level: Level,
    rows: int,
    action: str,
    categories: Sequence[str] = (),
) -> ResidencyDecision:
    """Check one write; on refusal, log a ``policy_refusal`` entry and raise ``PolicyRefusal``."""
    decision = residency_decision(
        home.pack, store_jurisdiction=store.jurisdiction, origin=origin, level=level
    )
    if decision.allowed:
        return decision
    home.record(
        Activity.POLICY_REFUSAL,
        purpose=f"store {action}",
        dataset=dataset,
        categories=tuple(categories),
        counts={"rows": rows},
        decision="refused",
        reasons=(decision.rule_id,),
        details={
            "store": store.name,
            "store_jurisdiction": store.jurisdiction,
            "store_location": store.location,
            "origin": origin,
            "level": level.label,
            "reason": decision.reason,
        },
    )
    raise PolicyRefusal(f"refused: {decision.reason} [{decision.rule_id}; store {store.name!r}]")
