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


def test_the_service_resolves_its_settings_as_the_cli_does(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from onshore.service import ServiceSettings, create_app

    home = _home(tmp_path, "  purpose: maintenance\n")
    home.chmod(0o700)
    (home / "areas.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    env = {"ONSHORE_HOME": str(home), "ONSHORE_PACK": "cn-auto"}
    cli_side = Settings.resolve({}, environ=env)
    app = create_app(ServiceSettings(), environ=env)
    state = app.state.onshore
    for name in ("home", "db", "pack", "areas", "purpose", "config"):
        assert state.resolved.values[name] == cli_side.values[name], name
        assert state.resolved.origin(name) == cli_side.origin(name), name
    assert state.home.path == home and state.settings.default_purpose == "maintenance"
    assert state.resolved.origin("pack") == "environment ONSHORE_PACK"
    # a flag (a ServiceSettings field) wins, as a CLI flag does
    flagged = create_app(ServiceSettings(default_purpose="national_monitoring"), environ=env)
    assert flagged.state.onshore.resolved.origin("purpose") == "flag --purpose"
    flagged.state.onshore.close()
    # an ingest request that names no purpose collects for the config's
    key = state.keys.add("ingest", name="gateway").key
    body = json.dumps({"vin": "LSVAU2180N2000001", "ts": "2026-11-03T08:00:00Z"}) + "\n"
    with TestClient(app) as client:
        r = client.post(
            "/v1/ingest/telemetry",
            content=body,
            headers={"X-API-Key": key, "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
    from onshore.ledger import Activity
    from onshore.store import DataHome

    with DataHome(home, environ={}) as opened:
        collected = [e for _i, e in opened.ledger.entries() if e.kind == Activity.COLLECTION]
    assert collected and collected[-1].purpose == "maintenance"


def test_serve_takes_pack_and_purpose_from_the_settings() -> None:
    out = CliRunner().invoke(cli, ["serve", "--help"])
    text = " ".join(out.output.split())
    assert out.exit_code == 0
    assert "$ONSHORE_PURPOSE, HOME/config.yaml, national_monitoring" in text
    assert "[default: national_monitoring]" not in text  # not a flag unless given
