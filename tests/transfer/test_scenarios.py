"""The transfer gate against its scenario table (tests/vectors/transfer/scenarios.yaml)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

import onshore
from onshore.transfer import (
    Approval,
    PastTransfer,
    ProcessorSettings,
    TransferFacts,
    TransferRequest,
    count_individuals,
    decide_transfer,
)
from onshore.transfer.facts import dataset_facts

FILE = Path(__file__).resolve().parents[1] / "vectors" / "transfer" / "scenarios.yaml"
TABLE = yaml.safe_load(FILE.read_text(encoding="utf-8"))
PACK = onshore.load_pack()


def _merge(base: dict[str, Any], over: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (over or {}).items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and key in out else value
    return out


def _people(spec: dict[str, Any]) -> dict[str, bool]:
    sensitive = bool(spec.get("sensitive", False))
    if "ids" in spec:
        return dict.fromkeys(spec["ids"], sensitive)
    lo, hi = spec["range"]
    return {f"person-{i}": sensitive for i in range(lo, hi)}


def _classified(spec: dict[str, Any]) -> tuple[dict[str, bool], dict[str, Any]]:
    """The individuals of ``rows`` (id → sensitive) and the facts the gate classifies from them."""
    table = pa.table({c: [r[i] for r in spec["values"]] for i, c in enumerate(spec["columns"])})
    facts = dataset_facts(table.to_batches(max_chunksize=2), PACK)
    current = dict(
        zip(*(facts.subjects.column(c).to_pylist() for c in ("subject", "sensitive")), strict=True)
    )
    return current, {
        "important_rules": list(facts.important_rules),
        "categories": list(facts.categories),
        "has_personal": facts.has_personal,
    }


def _approval(key: str) -> Approval:
    raw = dict(TABLE["approvals"][key])
    return Approval(
        id=key,
        kind=raw.pop("kind"),
        issued=raw.pop("issued"),
        categories=tuple(raw.pop("categories", ())),
        **raw,
    )


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["title"] for c in TABLE["cases"]])
def test_scenario(case: dict[str, Any]) -> None:
    d = TABLE["defaults"]
    today: dt.date = case.get("today", d["today"])
    request = TransferRequest.from_mapping(_merge(d["request"], case.get("request")))
    settings = ProcessorSettings(**_merge(d["settings"], case.get("settings")))
    facts_raw = _merge(d["facts"], case.get("facts"))
    if "transfer" in case or "rows" in case:
        history = [
            PastTransfer(h["date"], h["recipient"], h["purpose"], _people(h))
            for h in case.get("history", [])
        ]
        classified: dict[str, Any] = {}
        if "rows" in case:
            current, classified = _classified(case["rows"])
        else:
            current = _people(case["transfer"])
        counts = count_individuals(
            current,
            history,
            year=today.year,
            recipient=request.recipient.name,
            purpose=request.purpose,
        )
        facts_raw |= {
            "individuals": counts.individuals,
            "sensitive_individuals": counts.sensitive_individuals,
            "cumulative_non_sensitive": counts.cumulative_non_sensitive,
            "cumulative_sensitive": counts.cumulative_sensitive,
            "group_individuals": counts.group_individuals,
            "categories": ["vehicle.identity.vin", "location.trajectory"]
            if counts.cumulative_sensitive
            else facts_raw["categories"],
        } | classified
    facts = TransferFacts(
        year=today.year,
        important_rules=tuple(facts_raw["important_rules"]),
        categories=tuple(facts_raw["categories"]),
        has_personal=facts_raw["has_personal"],
        individuals=facts_raw["individuals"],
        sensitive_individuals=facts_raw["sensitive_individuals"],
        cumulative_non_sensitive=facts_raw["cumulative_non_sensitive"],
        cumulative_sensitive=facts_raw["cumulative_sensitive"],
        group_individuals=facts_raw["group_individuals"],
    )
    approvals = [_approval(k) for k in case.get("approvals", [])]
    decision = decide_transfer(request, facts, approvals, settings, PACK, today=today)
    expect = case["expect"]
    explain = decision.to_dict()
    assert decision.mechanism == expect["mechanism"], explain
    assert decision.allowed == expect["allowed"], explain
    assert decision.allowed == (not decision.missing)
    if "approval_used" in expect:
        assert decision.approval_used == expect["approval_used"]
    if "missing_contains" in expect:
        assert any(expect["missing_contains"] in m for m in decision.missing), decision.missing
    for rid in expect.get("reasons", []):
        assert rid in [r.rule_id for r in decision.reasons], explain
    for key in ("individuals", "cumulative_non_sensitive", "cumulative_sensitive"):
        if key in expect:
            assert decision.counts[key] == expect[key]
    for r in decision.reasons:
        assert r.ref.article, r


def test_at_least_thirty_scenarios() -> None:
    assert len(TABLE["cases"]) >= 30


def test_bad_request_names_the_field() -> None:
    with pytest.raises(onshore.BadInput, match="access_mode"):
        TransferRequest.from_mapping(
            {
                "dataset": "d",
                "purpose": "p",
                "recipient": {"name": "R", "country": "DE"},
                "access_mode": "ftp",
            }
        )
