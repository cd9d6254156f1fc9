"""The registry of places that can hold personal data (issue 17): every table and every entry
of the data home is claimed by a place; a table holding a VIN that no place erases stops a
deletion; the quarantine is erased in every encoding; retention covers the outbox and the
quarantine."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from store_support import NOW, T0, VINS, open_home, write_telemetry

from onshore.consent import ConsentRegistry
from onshore.errors import IntegrityError
from onshore.ingest.keys import KeyIndex
from onshore.ingest.quarantine import Quarantine, QuarantinedMessage
from onshore.ledger import Activity
from onshore.pipeline import ingest
from onshore.store.erasers import database_tables, scan_tables
from onshore.store.places import claimed, claimed_tables, count_vin_bytes, mask_vins, places
from onshore.store.purge import purge
from onshore.store.subject import delete_subject


def _scenario(tmp_path: Path) -> Path:
    from onshore.report import incidents
    from onshore.service import apikeys
    from onshore.transfer.registry import Registry

    home_path = tmp_path / "home"
    with open_home(home_path) as home:
        ingest(home, write_telemetry(tmp_path), dataset="telemetry", purpose="national_monitoring")
        ConsentRegistry(home).grant(
            VINS[0], "location.trajectory", "navigation",
            expires_at=NOW + timedelta(days=30), granted_at=T0,
        )  # fmt: skip
        KeyIndex(home, "w1").claim("telemetry", "national_monitoring", [(VINS[0], 1, "json")])
        Registry(home)
        apikeys.migrate(home.meta)
        incidents.migrate(home.meta)
        # a rejected binary message: the VIN only as hex in payload_hex
        Quarantine(home.path / "quarantine").put(
            [QuarantinedMessage("mqtt", "gbt32960", "gbt32960", "bad frame",
                                b"\x23\x23\x02\xfe" + VINS[0].encode() + b"\x01\x00")],
            NOW,
        )  # fmt: skip
    return home_path


def test_every_table_and_every_entry_of_the_home_is_claimed_by_a_place(tmp_path: Path) -> None:
    home_path = _scenario(tmp_path)
    with open_home(home_path) as home:
        tables = set(database_tables(home))
        holding = scan_tables(home, VINS[0])
    assert tables - claimed_tables() == set(), "register these tables in a Place"
    assert {"consents", "ingest_keys"} <= set(holding) <= claimed_tables()
    for entry in home_path.iterdir():
        assert claimed(entry.name) is not None, f"{entry.name} is claimed by no place"
    names = [p.name for p in places()]
    assert len(names) == len(set(names))


def test_a_table_holding_the_vin_that_no_place_erases_stops_the_deletion(tmp_path: Path) -> None:
    home_path = _scenario(tmp_path)
    with open_home(home_path) as home:
        home.meta.execute("CREATE TABLE rogue_cache (vin TEXT)")
        home.meta.execute("INSERT INTO rogue_cache VALUES (?)", (VINS[0],))
        assert "rogue_cache" not in claimed_tables()
        with pytest.raises(IntegrityError, match="metadata-tables: 1"):
            delete_subject(home, VINS[0])
        assert home.meta.query("SELECT status FROM subject_requests") == [("open",)]


def test_deletion_reaches_every_place_and_leaves_no_byte_in_the_database(tmp_path: Path) -> None:
    home_path = _scenario(tmp_path)
    with open_home(home_path) as home:
        result = delete_subject(home, VINS[0])
        entry = [e for _, e in home.ledger.entries(kind=Activity.DELETION)][-1]
        assert home.ledger.verify().ok
    by_place = {p["place"]: p for p in result.places}
    assert by_place["quarantine"]["found"] == 1 and by_place["ingest-keys"]["found"] == 1
    assert by_place["database-files"]["details"]["secure_delete"] is True
    assert result.remaining == 0 and "logs" in result.unchecked
    assert {p["place"] for p in entry.details["places"]} == {p.name for p in places()}
    assert VINS[0] not in json.dumps(entry.to_dict())  # the ledger holds no raw VIN
    for path in home_path.rglob("*"):
        if path.is_file() and path.suffix != ".parquet":
            assert count_vin_bytes(path.read_bytes(), VINS[0]) == 0, path
    line = json.loads((home_path / "quarantine" / "ingest-gbt32960.jsonl").read_text())
    assert line["payload_hex"] is None and line["sha256"] and line["erased"] == result.request_id


def test_purge_ages_out_the_outbox_and_the_quarantine(tmp_path: Path) -> None:
    home_path = _scenario(tmp_path)
    package = home_path / "outbox" / "20260101T000000Z-0123abcd"
    package.mkdir(parents=True)
    (package / "manifest.json").write_text(json.dumps({"categories": ["location.trajectory"]}))
    with open_home(home_path) as home:
        dry = purge(home, now=NOW + timedelta(days=8), dry_run=True)
        assert dry.places["outbox"]["outbox_packages"] == 1 and package.exists()
        done = purge(home, now=NOW + timedelta(days=8))
        entry = [e for _, e in home.ledger.entries(kind=Activity.DELETION)][-1]
    assert not package.exists()
    assert done.places["quarantine"]["quarantine_records"] == 1
    assert entry.counts["outbox_packages"] == 1 and entry.counts["quarantine_records"] == 1
    assert not (home_path / "quarantine" / "ingest-gbt32960.jsonl").exists()


def test_log_records_never_carry_a_vin(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from onshore.logs import install_vin_masking

    install_vin_masking()
    access = logging.getLogger("uvicorn.access")
    # uvicorn's own log configuration (a server an earlier test ran) may have raised this
    # logger's level, stopped its records at it or disabled it; here they must reach the root,
    # where caplog listens
    saved = (access.level, access.propagate, access.disabled)
    access.setLevel(logging.INFO)
    access.propagate, access.disabled = True, False
    try:
        with caplog.at_level(logging.INFO):
            access.info(
                '%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "DELETE", f"/v1/subjects/{VINS[1]}", 200
            )
            logging.getLogger("onshore.ingest").warning("bad message from %s", VINS[1])
    finally:
        access.setLevel(saved[0])
        access.propagate, access.disabled = saved[1], saved[2]
    assert VINS[1] not in caplog.text
    assert '"DELETE /v1/subjects/[VIN] HTTP/1.1"' in caplog.text
    assert "bad message from [VIN]" in caplog.text
    assert mask_vins(os.sep) == os.sep
