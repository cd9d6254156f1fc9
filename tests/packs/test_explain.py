"""docs/regulation.md and ``onshore pack explain``: every rule with the text it implements."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import onshore
from onshore.cli import cli
from onshore.packs.explain import all_rules, explain_rule, readings

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "regulation.md"


def test_regulation_doc_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "regulation_doc.py"), "--check", str(DOC)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_rule_is_in_the_doc_with_its_confidence(pack: onshore.Pack) -> None:
    text = DOC.read_text(encoding="utf-8")
    ids = [r.rule_id for r in all_rules(pack)]
    assert len(ids) == len(set(ids))
    for rule in all_rules(pack):
        assert f"`{rule.rule_id}`" in text
        assert rule.ref.confidence in "CSU" and rule.ref.article


def test_the_readme_links_the_doc_not_the_shared_spec() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/regulation.md" in readme
    assert "../shared/spec/regulation.md" not in readme


def test_readings_name_their_setting_and_default(pack: onshore.Pack) -> None:
    found = {r.setting: r for r in readings(pack)}
    assert found["transfer.yaml important_data.pi_over_100k_is_important"].default == "true"
    assert found["transfer.yaml counting.people_with_both"].default == "both"


@pytest.mark.parametrize(
    "rule_id",
    [
        "cn-auto/consent/sensitive-purpose",
        "cn-auto/consent/exterior-anonymized",
        "cn-auto/important/people-flow-sensitive-area",
        "cn-auto/transfer/ciio",
        "cn-auto/transfer/pipl/impact-assessment",
        "cn-auto/transfer/pipl/outbound-consent",
        "cn-auto/transfer/certification",
        "cn-auto/transfer/pi-over-100k-reading",
    ],
)
def test_the_corrected_rules_have_vectors(rule_id: str) -> None:
    result = CliRunner().invoke(
        cli, ["pack", "explain", rule_id, "--json", "--vectors", str(REPO / "tests")]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["rule_id"] == rule_id and out["ref"]["article"]
    assert out["vectors"], f"{rule_id} has no test vector"


def test_explain_prints_the_rule_its_text_and_vectors() -> None:
    result = CliRunner().invoke(
        cli, ["pack", "explain", "cn-auto/important/people-flow-sensitive-area"]
    )
    assert result.exit_code == 0, result.output
    assert "Art. 3 item 1" in result.output and "Confidence: C" in result.output
    assert "people flow counted inside a military zone" in result.output


def test_explain_of_an_unknown_rule_names_close_matches(pack: onshore.Pack) -> None:
    with pytest.raises(KeyError, match="did you mean"):
        explain_rule(pack, "cn-auto/transfer/pipl")
    from onshore.cli._common import run_guarded

    assert run_guarded(cli, ["pack", "explain", "cn-auto/no/such"]) == 2
