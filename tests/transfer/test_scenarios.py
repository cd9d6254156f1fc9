"""The transfer gate against its scenario table (tests/vectors/transfer/scenarios.yaml)."""

from __future__ import annotations

import dataclasses
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
from onshore.transfer.policy import transfer_policy

FILE = Path(__file__).resolve().parents[1] / "vectors" / "transfer" / "scenarios.yaml"
TABLE = yaml.safe_load(FILE.read_text(encoding="utf-8"))
PACK = onshore.load_pack()


def _merge(base: dict[str, Any], over: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (over or {}).items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and key in out else value
    return out


def _people(spec: dict[str, Any]) -> dict[str, bool | tuple[bool, bool]]:
    """``sensitive: true`` for sensitive PI only, ``both: true`` for both kinds."""
    kinds: bool | tuple[bool, bool] = bool(spec.get("sensitive", False))
    if spec.get("both"):
        kinds = (True, True)
    if "ids" in spec:
        return dict.fromkeys(spec["ids"], kinds)
    lo, hi = spec["range"]
    return {f"person-{i}": kinds for i in range(lo, hi)}


def _classified(
    spec: dict[str, Any],
) -> tuple[dict[str, bool | tuple[bool, bool]], dict[str, Any]]:
    """The individuals of ``rows`` (id → kinds) and the facts the gate classifies from them."""
    table = pa.table({c: [r[i] for r in spec["values"]] for i, c in enumerate(spec["columns"])})
    facts = dataset_facts(table.to_batches(max_chunksize=2), PACK)
    cols = (facts.subjects.column(c).to_pylist() for c in ("subject", "sensitive", "non_sensitive"))
    current: dict[str, bool | tuple[bool, bool]] = {
        subject: (s, n) for subject, s, n in zip(*cols, strict=True)
    }
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
            people_with_both=transfer_policy(PACK).counting.people_with_both,
        )
        facts_raw |= {
            "cumulative_individuals": counts.cumulative_individuals,
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
        cumulative_individuals=facts_raw.get("cumulative_individuals"),
        without_outbound_consent=facts_raw.get("without_outbound_consent"),
    )
    approvals = [_approval(k) for k in case.get("approvals", [])]
    pack = PACK
    if "pi_over_100k_is_important" in case:
        transfer = dict(PACK.extra["transfer"])
        transfer["important_data"] = dict(transfer["important_data"]) | {
            "pi_over_100k_is_important": case["pi_over_100k_is_important"]
        }
        pack = dataclasses.replace(PACK, extra=dict(PACK.extra) | {"transfer": transfer})
    decision = decide_transfer(request, facts, approvals, settings, pack, today=today)
    expect = case["expect"]
    explain = decision.to_dict()
    assert decision.mechanism == expect["mechanism"], explain
    assert decision.allowed == expect["allowed"], explain
    assert decision.allowed == (not decision.missing)
    if "approval_used" in expect:
        assert decision.approval_used == expect["approval_used"]
    if "missing_contains" in expect:
        assert any(expect["missing_contains"] in m for m in decision.missing), decision.missing
    for absent in expect.get("missing_absent", []):
        assert not any(absent in m for m in decision.missing), decision.missing
    if "other_reading" in expect:
        assert decision.reading["other_reading"]["mechanism"] == expect["other_reading"], explain
    if "reading_over" in expect:
        assert decision.reading["over"] == expect["reading_over"], explain
    for rid in expect.get("reasons", []):
        assert rid in [r.rule_id for r in decision.reasons], explain
    for key in (
        "individuals",
        "cumulative_non_sensitive",
        "cumulative_sensitive",
        "cumulative_individuals",
    ):
        if key in expect:
            assert decision.counts[key] == expect[key]
    for r in decision.reasons:
        assert r.ref.article, r


def test_at_least_thirty_scenarios() -> None:
    assert len(TABLE["cases"]) >= 30


def test_every_decision_with_personal_data_states_the_100k_reading() -> None:
    """2024 Provisions Art. 2 against Provisions 2021 Art. 3(5): always say which applied."""
    request = TransferRequest.from_mapping(TABLE["defaults"]["request"])
    facts = TransferFacts(2026, (), ("vehicle.identity.vin",), True, 5, 0, 5, 0, 5, None, 0)
    d = decide_transfer(request, facts, [], ProcessorSettings("A"), PACK, today=dt.date(2026, 5, 1))
    assert d.reading["setting"] == "important_data.pi_over_100k_is_important"
    assert d.reading["other_reading"]["mechanism"] == d.mechanism == "none_required"
    assert "cn-auto/transfer/pi-over-100k-reading" in [r.rule_id for r in d.reasons]


def test_new_scenarios_quote_the_text_they_enforce() -> None:
    for case in TABLE["cases"]:
        if case.get("issue") == 18:
            assert case.get("quote"), case["title"]


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
