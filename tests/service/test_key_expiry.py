"""API keys expire and rotate: the library, ``onshore serve keys``, and the service's 401."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from onshore.cli import cli
from onshore.errors import BadInput
from onshore.ledger import Activity
from onshore.service import ApiKeys, ServiceSettings, create_app
from onshore.service.apikeys import MIGRATIONS
from onshore.store import DataHome, MetaDB

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def keys(tmp_path: Path):  # type: ignore[no-untyped-def]
    with DataHome(tmp_path / "home", environ={}) as home:
        yield ApiKeys(home.meta)


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_key_expires_after_365_days_by_default(keys: ApiKeys) -> None:
    made = keys.add("auditor", name="audit", now=NOW)
    assert made.record.expires_at == "2027-11-03T12:00:00.000Z"
    day_before = NOW + timedelta(days=364)
    assert keys.authenticate(made.key, now=day_before) is not None
    assert keys.refusal(made.key, now=day_before) is None
    after = NOW + timedelta(days=365)
    assert keys.authenticate(made.key, now=after) is None
    assert keys.refusal(made.key, now=after) == "expired"
    assert keys.get(made.record.id).status(after) == "expired"
    assert keys.refusal("onshore_000000000000_" + "a" * 43) == "unknown"


def test_expiry_by_date_never_and_limits(keys: ApiKeys) -> None:
    at = keys.add("ingest", name="gw", now=NOW, validity=datetime(2027, 1, 1, tzinfo=UTC))
    assert at.record.expires_at == "2027-01-01T00:00:00.000Z"
    forever = keys.add("ingest", name="gw", now=NOW, validity=None)
    assert forever.record.expires_at is None
    assert keys.authenticate(forever.key, now=NOW + timedelta(days=5000)) is not None
    with pytest.raises(BadInput, match="future"):
        keys.add("ingest", name="gw", now=NOW, validity=NOW - timedelta(days=1))
    with pytest.raises(BadInput, match="3650 days"):
        keys.add("ingest", name="gw", now=NOW, validity=timedelta(days=4000))


def test_rotation_with_a_grace_period(keys: ApiKeys) -> None:
    made = keys.add("operator", name="pipeline", country="DE", now=NOW)
    old, new = keys.rotate(made.record.id, grace=timedelta(hours=24), now=NOW)
    assert (new.record.name, new.record.role, new.record.country) == ("pipeline", "operator", "DE")
    assert new.key != made.key and old.replaced_by == new.record.id
    assert old.revoked_at == "2026-11-04T12:00:00.000Z" and old.status(NOW) == "retiring"
    soon = NOW + timedelta(hours=23)
    assert keys.authenticate(made.key, now=soon) is not None  # both work during the grace
    assert keys.authenticate(new.key, now=soon) is not None
    later = NOW + timedelta(hours=24)
    assert keys.authenticate(made.key, now=later) is None
    assert keys.refusal(made.key, now=later) == "revoked"
    assert keys.authenticate(new.key, now=later) is not None
    with pytest.raises(BadInput, match="already rotated"):
        keys.rotate(made.record.id, now=NOW)
    # revoking a retiring key cuts its grace short
    assert keys.revoke(made.record.id, now=soon).status(soon) == "revoked"


def test_rotation_without_grace_and_of_revoked_or_expired_keys(keys: ApiKeys) -> None:
    made = keys.add("auditor", name="a", now=NOW)
    old, new = keys.rotate(made.record.id, now=NOW)
    assert keys.authenticate(made.key, now=NOW) is None
    assert keys.authenticate(new.key, now=NOW) is not None
    gone = keys.add("auditor", name="b", now=NOW)
    keys.revoke(gone.record.id, now=NOW)
    with pytest.raises(BadInput, match="revoked"):
        keys.rotate(gone.record.id, now=NOW)
    short = keys.add("auditor", name="c", now=NOW, validity=timedelta(days=1))
    later = NOW + timedelta(days=2)
    old, fresh = keys.rotate(short.record.id, grace=timedelta(hours=5), now=later)
    assert keys.authenticate(fresh.key, now=later) is not None  # an expired key is reissued
    assert keys.authenticate(short.key, now=later) is None
    assert old.revoked_at == "2026-11-05T12:00:00.000Z"  # no grace for what had expired


def test_keys_made_before_expiry_existed_never_expire(tmp_path: Path) -> None:
    """Migration 2 adds the columns; an older key keeps working, listed as never expiring."""
    db = MetaDB(f"sqlite:///{tmp_path / 'meta.db'}")
    db.apply_migrations("service", MIGRATIONS[:1])
    db.execute(
        "INSERT INTO service_api_keys VALUES (?, ?, ?, NULL, ?, ?, ?, NULL)",
        ("0123456789ab", "old", "auditor", "x" * 64, "2025-01-01T00:00:00.000Z", "t"),
    )
    keys = ApiKeys(db)
    old = keys.get("0123456789ab")
    assert old.expires_at is None and old.status(NOW + timedelta(days=9999)) == "active"
    versions = db.query("SELECT version FROM onshore_migrations WHERE component = 'service'")
    assert sorted(v for (v,) in versions) == [1, 2]
    db.close()


def test_cli_expires_rotate_list_and_the_service(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    made = json.loads(
        _run("serve", "keys", "add", "--role", "auditor", "--name", "A", "--json", "--home", home)
    )
    expires = datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=364) < expires - datetime.now(UTC) <= timedelta(days=365)
    day = (datetime.now(UTC) + timedelta(days=100)).date().isoformat()
    dated = json.loads(
        _run("serve", "keys", "add", "--role", "ingest", "--name", "B", "--expires", day,
             "--json", "--home", home)
    )  # fmt: skip
    assert dated["expires_at"] == f"{day}T00:00:00.000Z"
    never = json.loads(
        _run("serve", "keys", "add", "--role", "ingest", "--name", "C", "--expires", "never",
             "--json", "--home", home)
    )  # fmt: skip
    assert never["expires_at"] is None
    bad = CliRunner().invoke(
        cli, ["serve", "keys", "add", "--role", "ingest", "--name", "D", "--expires", "0",
              "--home", home],
    )  # fmt: skip
    assert isinstance(bad.exception, BadInput) and "--expires" in str(bad.exception)
    rotated = json.loads(
        _run("serve", "keys", "rotate", made["id"], "--grace", "1", "--json", "--home", home)
    )
    assert rotated["old"]["status"] == "retiring" and rotated["new"]["name"] == "A"
    assert rotated["old"]["replaced_by"] == rotated["new"]["id"]
    listed = {
        k["id"]: k for k in json.loads(_run("serve", "keys", "list", "--json", "--home", home))
    }
    assert listed[made["id"]]["status"] == "retiring"
    assert listed[never["id"]]["expires_at"] is None
    table = _run("serve", "keys", "list", "--home", home)
    assert "expires" in table and "never" in table and "retiring" in table
    app = create_app(ServiceSettings(home=Path(home)), environ={})
    with TestClient(app) as client:
        for key in (made["key"], rotated["key"]):  # both work during the grace period
            assert client.get("/v1/ledger/head", headers={"X-API-Key": key}).status_code == 200
        now_rotated = json.loads(
            _run("serve", "keys", "rotate", rotated["new"]["id"], "--json", "--home", home)
        )
        assert (
            client.get("/v1/ledger/head", headers={"X-API-Key": rotated["key"]}).status_code == 401
        )
        # an expired key is refused (its expiry moved into the past, as time would)
        keys = app.state.onshore.keys
        keys.meta.execute(
            "UPDATE service_api_keys SET expires_at = ? WHERE id = ?",
            ("2020-01-01T00:00:00.000Z", now_rotated["new"]["id"]),
        )
        refused = client.get("/v1/ledger/head", headers={"X-API-Key": now_rotated["key"]})
        assert refused.status_code == 401
        assert refused.json()["reason"] == "expired" and "expired" in refused.json()["detail"]
        assert keys.refusal(now_rotated["key"]) == "expired"
    with DataHome(home, environ={}) as data_home:
        decisions = [e.decision or "" for _i, e in data_home.ledger.entries(kind=Activity.USE)]
    assert any("rotated" in d for d in decisions) and any("expires never" in d for d in decisions)
