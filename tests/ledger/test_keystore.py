"""The keystore: 0600 files, refusal of readable files, environment keys, rotation."""

from __future__ import annotations

import multiprocessing as mp
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from onshore.errors import StorageError
from onshore.keystore import HMAC_KEY, LEDGER_KEY, Keystore, onshore_home


def test_created_on_first_use_with_private_permissions(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys", environ={})
    assert ks.current_key_id(LEDGER_KEY) is None
    key = ks.get_or_create(LEDGER_KEY)
    assert ks.get_or_create(LEDGER_KEY) == key
    file = tmp_path / "keys" / LEDGER_KEY / f"{key.key_id}.key"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert "material" not in repr(key) or key.material.hex() not in repr(key)
    # A second keystore object (another process) reads the same key.
    assert Keystore(tmp_path / "keys", environ={}).ledger_signing_key() == key


def test_refuses_a_key_file_readable_by_others(tmp_path: Path) -> None:
    ks = Keystore(tmp_path, environ={})
    key = ks.get_or_create(HMAC_KEY)
    file = tmp_path / HMAC_KEY / f"{key.key_id}.key"
    os.chmod(file, 0o644)
    with pytest.raises(StorageError, match=r"chmod 600"):
        Keystore(tmp_path, environ={}).get(HMAC_KEY)


def test_rotation_keeps_old_keys(tmp_path: Path) -> None:
    ks = Keystore(tmp_path, environ={})
    first = ks.get_or_create(HMAC_KEY)
    second = ks.rotate(HMAC_KEY)
    assert ks.current_key_id(HMAC_KEY) == second.key_id != first.key_id
    assert ks.get(HMAC_KEY, first.key_id) == first
    assert {k.key_id for k in ks.keys(HMAC_KEY)} == {first.key_id, second.key_id}


def test_key_from_the_environment(tmp_path: Path) -> None:
    material = bytes(range(32)).hex()
    ks = Keystore(tmp_path, environ={"ONSHORE_KEY_LEDGER_ED25519": material})
    key = ks.get_or_create(LEDGER_KEY)
    assert key.source == "env" and key.material.hex() == material
    assert not (tmp_path / LEDGER_KEY).exists()
    with pytest.raises(StorageError, match="ONSHORE_KEY_LEDGER_ED25519"):
        ks.rotate(LEDGER_KEY)
    with pytest.raises(StorageError, match="32 bytes"):
        Keystore(tmp_path, environ={"ONSHORE_KEY_LEDGER_ED25519": "abcd"}).get(LEDGER_KEY)


def test_home_defaults(tmp_path: Path) -> None:
    assert onshore_home({}) == Path("onshore-data")
    assert onshore_home({"ONSHORE_HOME": str(tmp_path)}) == tmp_path
    assert Keystore(environ={"ONSHORE_HOME": str(tmp_path)}).path == tmp_path / "keys"


def test_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unknown key kind"):
        Keystore(tmp_path, environ={}).get_or_create("rsa")


def _create(path: str) -> str:
    return Keystore(path, environ={}).get_or_create(LEDGER_KEY).key_id


def test_concurrent_first_use_makes_one_key(tmp_path: Path) -> None:
    # An executor, not a Pool: a worker that dies fails the test instead of hanging it.
    with ProcessPoolExecutor(4, mp_context=mp.get_context("spawn")) as pool:
        ids = list(pool.map(_create, [str(tmp_path)] * 8, timeout=300))
    assert len(set(ids)) == 1
    assert len(list((tmp_path / LEDGER_KEY).glob("*.key"))) == 1
