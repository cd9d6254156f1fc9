"""Idempotency keys are per dataset: (dataset, vin, ts, kind). Rows sent to one dataset do not
suppress the same rows sent to another; the same rows twice to one dataset are stored once.
Migration 2 rebuilds the global keys of migration 1 with each key's dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_support import T0_MS, json_message, vin

from onshore.ingest import Ingestor, KeyIndex
from onshore.ingest.keys import MIGRATIONS
from onshore.store import DataHome, Lake, MetaDB


def _stored(home: DataHome, dataset: str) -> int:
    return sum(f.rows for f in Lake(home).files(dataset=dataset))


def check_keys_per_dataset(home: DataHome) -> None:
    ing = Ingestor(home, worker="t")
    messages = [json_message(i, 0) for i in range(4)]
    first = ing.ingest("fleet_a", "json", messages)
    other = ing.ingest("fleet_b", "json", messages)
    assert (first.stored, first.duplicates) == (4, 0)
    assert (other.stored, other.duplicates) == (4, 0)  # another dataset: not duplicates
    again = ing.ingest("fleet_a", "json", [*messages, json_message(9, 0)])
    assert (again.stored, again.duplicates) == (1, 4)  # the same dataset: deduplicated
    assert again.files and not ing.ingest("fleet_b", "json", messages).files
    assert _stored(home, "fleet_a") == 5 and _stored(home, "fleet_b") == 4


def test_same_rows_to_two_datasets_are_both_stored(tmp_path: Path) -> None:
    with DataHome(tmp_path / "home", environ={}) as home:
        check_keys_per_dataset(home)


def test_recovery_releases_only_its_own_datasets_claims(tmp_path: Path) -> None:
    with DataHome(tmp_path / "home", environ={}) as home:
        Ingestor(home, worker="a").ingest("fleet_a", "json", [json_message(1, 0)])
        index = KeyIndex(home, "b")
        claim = index.claim("fleet_b", "national_monitoring", [(vin(1), T0_MS, "json")])
        assert claim.new == [True]
        index.keep_only(claim.batch, set(), [])  # nothing of fleet_b was stored: released
        again = Ingestor(home, worker="a").ingest("fleet_a", "json", [json_message(1, 0)])
        assert again.duplicates == 1  # fleet_a's claim of the same key was left alone


def migrate_from_v1(meta: MetaDB) -> None:
    """A database as migration 1 left it: global keys, two batches of two datasets."""
    meta.apply_migrations("ingest", MIGRATIONS[:1])
    meta.executemany(
        "INSERT INTO ingest_batches VALUES (?, 'w', ?, 'p', 'stored', 't', 't', 0, '[]')",
        [("b1", "fleet_a"), ("b2", "fleet_b")],
    )
    meta.executemany(
        "INSERT INTO ingest_keys (vin, ts, kind, batch) VALUES (?, ?, ?, ?)",
        [("V1", 1, "json", "b1"), ("V2", 2, "json", "b2"), ("V3", 3, "json", "gone")],
    )


def check_migration(meta: MetaDB, home: DataHome) -> None:
    index = KeyIndex(home, "w")  # migrates
    rows = meta.query("SELECT dataset, vin, ts, kind, batch FROM ingest_keys ORDER BY vin")
    assert rows == [("fleet_a", "V1", 1, "json", "b1"), ("fleet_b", "V2", 2, "json", "b2")]
    versions = meta.query("SELECT version FROM onshore_migrations WHERE component = 'ingest'")
    assert sorted(int(v) for (v,) in versions) == [1, 2, 3, 4]
    # the migrated keys keep deduplicating within their dataset, and only there
    claim = index.claim("fleet_a", "p", [("V1", 1, "json"), ("V2", 2, "json")])
    assert claim.new == [False, True]


def test_migration_2_gives_every_key_its_batchs_dataset(tmp_path: Path) -> None:
    home_path = tmp_path / "home"
    meta = MetaDB(None, home=home_path)
    migrate_from_v1(meta)
    meta.close()
    with DataHome(home_path, environ={}) as home:
        check_migration(home.meta, home)


@pytest.mark.parametrize("within", [True, False])
def test_duplicates_within_one_batch_still_count(tmp_path: Path, within: bool) -> None:
    with DataHome(tmp_path / "home", environ={}) as home:
        ing = Ingestor(home, worker="t")
        out = ing.ingest("d", "json", [json_message(1, 0)] * (2 if within else 1))
        assert (out.stored, out.duplicates) == (1, 1 if within else 0)
