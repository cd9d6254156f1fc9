"""Settings: flags > environment > HOME/config.yaml defaults > built-in, each with its origin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from onshore.cli import cli
from onshore.errors import BadInput
from onshore.settings import Settings


def _home(tmp_path: Path, defaults: str = "") -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(
        "processor: {legal_entity: Demo}\n" + (f"defaults:\n{defaults}" if defaults else "")
    )
    return home


def test_each_setting_takes_the_first_source_that_gives_it(tmp_path: Path) -> None:
    home = _home(tmp_path, "  purpose: maintenance\n  store: cold\n  areas: a.geojson\n")
    env = {"ONSHORE_HOME": str(home), "ONSHORE_STORE": "warm"}
    s = Settings.resolve({"areas": "flag.geojson"}, environ=env)
    assert (s.home, s.origin("home")) == (home, "environment ONSHORE_HOME")
    assert (s.areas, s.origin("areas")) == ("flag.geojson", "flag --areas")
    assert (s.store, s.origin("store")) == ("warm", "environment ONSHORE_STORE")
    assert (s.purpose, s.origin("purpose")) == ("maintenance", "config.yaml")
    assert (s.pack, s.origin("pack")) == ("cn-auto", "default")
    assert s.config == home / "config.yaml"


def test_the_home_areas_file_is_the_default_catalogue(tmp_path: Path) -> None:
    home = _home(tmp_path)
    (home / "areas.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    s = Settings.resolve({"home": home}, environ={})
    assert s.areas == str(home / "areas.geojson")
    assert s.origin("areas").startswith("default")


def test_a_bad_defaults_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    home = _home(tmp_path, "  purpse: maintenance\n")
    with pytest.raises(BadInput) as caught:
        Settings.resolve({"home": home}, environ={})
    assert caught.value.field == "defaults.purpse"
    assert caught.value.file == str(home / "config.yaml")
    with pytest.raises(BadInput):
        Settings.resolve({"home": home, "config": tmp_path / "missing.yaml"}, environ={})


def test_config_show_prints_values_and_origins(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    home = _home(tmp_path, "  purpose: maintenance\n")
    monkeypatch.setenv("ONSHORE_PACK", "cn-auto")
    out = CliRunner().invoke(cli, ["config", "show", "--home", str(home), "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["setting"]: r for r in json.loads(out.output)}
    assert rows["purpose"]["value"] == "maintenance" and rows["purpose"]["from"] == "config.yaml"
    assert rows["pack"]["from"] == "environment ONSHORE_PACK"
    assert rows["home"]["from"] == "flag --home"


def test_store_put_takes_its_purpose_from_the_config(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    home = _home(tmp_path, "  purpose: maintenance\n")
    table = pa.table({"vin": ["LSVAU2180N2000001"], "ts": pa.array([0], pa.timestamp("ms", "UTC"))})
    pq.write_table(table, tmp_path / "t.parquet")
    args = ["store", "put", str(tmp_path / "t.parquet"), "--dataset", "t", "--home", str(home)]
    out = CliRunner().invoke(cli, [*args, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["purpose"] == "maintenance"
