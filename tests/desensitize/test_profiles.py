"""Profiles in the pack: loaded and checked with the pack; a user's file works the same way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import onshore
from onshore.errors import PackError
from onshore.packs.loader import BUILTIN_DIR
from onshore.packs.profiles import Profile


def test_shipped_profiles_state_their_promise(pack: onshore.Pack) -> None:
    assert set(pack.profiles) >= {"internal-analytics", "export-default", "export-aggregate"}
    assert pack.profile("export-default").promise.level == "sensitive_personal"
    assert pack.profile("export-aggregate").steps[-1].op == "aggregate"
    assert "profiles" not in pack.extra


def test_a_users_profile_file_works_the_same(pack: onshore.Pack, tmp_path: Path) -> None:
    file = tmp_path / "mine.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "name": "mine",
                "promise": {"level": "personal"},
                "steps": [{"op": "drop", "categories": ["location"]}],
            }
        )
    )
    assert isinstance(pack.profile(file), Profile)
    assert pack.profile(str(file)).name == "mine"


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ({"op": "drop", "categories": ["no.such"]}, "unknown category 'no.such'"),
        ({"op": "round", "fields": ["speed"], "step": 0}, "greater than 0"),
        ({"op": "generalize_location"}, "exactly one of 'grid_m' or 'admin_level'"),
        ({"op": "frobnicate"}, "unknown operator 'frobnicate'"),
        ({"op": "remove_sensitive_areas", "kinds": ["moon_base"]}, "unknown area kind"),
    ],
)
def test_bad_steps_are_refused_at_load_naming_file_and_key(
    pack: onshore.Pack, tmp_path: Path, step: dict[str, object], words: str
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(
        yaml.safe_dump({"name": "bad", "promise": {"level": "personal"}, "steps": [step]})
    )
    with pytest.raises(PackError) as err:
        pack.profile(file)
    assert words in str(err.value) and "bad.yaml" in str(err.value)


def test_order_rules(pack: onshore.Pack, tmp_path: Path) -> None:
    file = tmp_path / "order.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "name": "order",
                "promise": {"level": "personal"},
                "steps": [{"op": "generalize_location", "grid_m": 500}, {"op": "trips"}],
            }
        )
    )
    with pytest.raises(PackError, match="'trips' must come before"):
        pack.profile(file)


def test_pack_profiles_file_is_validated(tmp_path: Path) -> None:
    root = tmp_path / "pack"
    shutil.copytree(BUILTIN_DIR / "cn_auto", root)
    data = yaml.safe_load((root / "profiles.yaml").read_text())
    data["profiles"][0]["promise"]["forbid"].append("no/such-rule")
    (root / "profiles.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(PackError) as err:
        onshore.load_pack(root)
    assert "profiles.yaml" in str(err.value) and "promise.forbid" in str(err.value)


def test_unknown_profile_names_the_choices(pack: onshore.Pack) -> None:
    with pytest.raises(PackError, match="export-default"):
        pack.profile("no-such-profile")
