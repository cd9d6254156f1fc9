"""The data home: where Onshore keeps state, and the stores it may write to.

A data home (``$ONSHORE_HOME`` or ``./onshore-data``) holds::

    meta.db        metadata and ledger (SQLite), unless ONSHORE_DB / --db names PostgreSQL
    keys/          the keystore (ledger signing key, pseudonymization key)
    lake/          the default store's Parquet lake: dataset=NAME/date=YYYY-MM-DD/part-*.parquet

The home is owner-only (``0700``) whatever the umask, and so is what the storage layer writes in
it (folders ``0700``, files ``0600``); an existing home others may enter is fixed at open with a
warning (:mod:`onshore.private`).

Every store declares a jurisdiction and a location. The default store ``local`` is declared on
first use with the jurisdiction in ``$ONSHORE_JURISDICTION`` or, failing that, the pack's (CN
for cn-auto): the operator vouches for where the home's disk is. Other stores are declared with
:meth:`DataHome.add_store` (``onshore store add``).

Data subjects appear in the ledger only as keyed pseudonyms (HMAC-SHA256 of the VIN under the
keystore's ``hmac-sha256`` key): :meth:`DataHome.subject_ref`.

>>> import tempfile
>>> with DataHome(tempfile.mkdtemp(), environ={}) as home:
...     local = home.store()
>>> local.name, local.jurisdiction
('local', 'CN')
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Unpack

from onshore.errors import BadInput, StorageError
from onshore.keystore import HMAC_KEY, Keystore, onshore_home
from onshore.ledger import Activity, EntryFields, Ledger, LedgerEntry, SignedTreeHead, utc_now
from onshore.packs import Pack, load_pack
from onshore.private import secure_home
from onshore.settings import env_setting
from onshore.store.db import MetaDB, iso
from onshore.store.fs import LakeRoot, has_password, lake_root, redact_uri

DEFAULT_STORE = "local"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_JURISDICTION_RE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


@dataclass(frozen=True)
class StoreInfo:
    """A store: its name, where it is by law (ISO 3166 code) and in fact, and its lake folder
    (``lake``: a local folder or any file system URI, see :mod:`onshore.store.fs`)."""

    name: str
    jurisdiction: str
    location: str
    path: str
    lake: LakeRoot

    @property
    def root(self) -> Path:
        """The lake folder on the local disk; a store on another file system has none (use
        :attr:`lake`, which every store has)."""
        if self.lake.local is None:
            raise StorageError(
                f"store {self.name!r} is not on the local disk ({self.where}); "
                "this operation needs a local lake"
            )
        return self.lake.local

    @property
    def where(self) -> str:
        """The lake folder as a user reads it (a path, or the URI without credentials)."""
        return str(self.lake.local) if self.lake.local is not None else redact_uri(self.path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "location": self.location,
            "path": self.where,
        }


class DataHome:
    """The metadata database, ledger, keystore, pack and stores of one data home."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        db: str | None = None,
        pack: Pack | None = None,
        keystore: Keystore | None = None,
        clock: Any = utc_now,
        actor: str = "onshore",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.path = Path(path) if path is not None else onshore_home(self.environ)
        secure_home(self.path)
        self.db_url = db
        self.pack = pack or load_pack()
        self.keystore = keystore or Keystore(self.path / "keys", environ=self.environ)
        self.clock = clock
        self.actor = actor
        self.meta = MetaDB(db, home=self.path)
        self._ledger: Ledger | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> DataHome:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        self.meta.close()

    @property
    def ledger(self) -> Ledger:
        """The home's ledger, opened on first use (same database as the metadata)."""
        if self._ledger is None:
            self._ledger = Ledger.open(
                self.db_url, home=self.path, keystore=self.keystore, clock=self.clock
            )
        return self._ledger

    def now(self) -> datetime:
        moment: datetime = self.clock()
        return moment

    def record(self, kind: Activity | str, **fields: Unpack[EntryFields]) -> SignedTreeHead:
        """Append a ledger entry by this home's actor (``fields``: an entry's ``EntryFields``)."""
        return self.ledger.record(kind, actor=self.actor, **fields)

    def entry(self, kind: Activity | str, **fields: Unpack[EntryFields]) -> LedgerEntry:
        """A ledger entry by this home's actor, not yet appended (``ledger.append_many``)."""
        return self.ledger.build(kind, actor=self.actor, **fields)

    # -- stores ---------------------------------------------------------------------------------
    def _info(self, row: tuple[Any, ...]) -> StoreInfo:
        name, jurisdiction, location, path = row
        return StoreInfo(name, jurisdiction, location, path, lake_root(path, home=self.path))

    def stores(self) -> list[StoreInfo]:
        """Every declared store (the default one is declared on first use)."""
        self.store(DEFAULT_STORE)
        rows = self.meta.query(
            "SELECT name, jurisdiction, location, path FROM stores ORDER BY name"
        )
        return [self._info(r) for r in rows]

    def store(self, name: str = DEFAULT_STORE) -> StoreInfo:
        """The store ``name``; ``local`` is declared on first use."""
        rows = self.meta.query(
            "SELECT name, jurisdiction, location, path FROM stores WHERE name = ?", (name,)
        )
        if rows:
            return self._info(rows[0])
        if name != DEFAULT_STORE:
            known = ", ".join(s.name for s in self.stores())
            raise BadInput(f"no store {name!r} (declared: {known})", field="store")
        jurisdiction = env_setting("jurisdiction", self.environ) or self.pack.jurisdiction
        return self.add_store(
            DEFAULT_STORE,
            jurisdiction=jurisdiction,
            location=f"local disk of the data home ({self.path.resolve()})",
            path="lake",
            exist_ok=True,
        )

    def add_store(
        self,
        name: str,
        *,
        jurisdiction: str,
        location: str,
        path: str | None = None,
        exist_ok: bool = False,
    ) -> StoreInfo:
        """Declare a store. ``path`` is its lake folder (default ``stores/NAME`` in the home): a
        path, or a file system URI (``s3://bucket/lake?endpoint_override=…``, ``hdfs://…``),
        checked by opening it."""
        if not _NAME_RE.match(name):
            raise BadInput(f"bad store name {name!r} (lower-case letters, digits, - and _)")
        jurisdiction = jurisdiction.upper()
        if not _JURISDICTION_RE.match(jurisdiction):
            raise BadInput(
                f"bad jurisdiction {jurisdiction!r}: an ISO 3166 code such as CN, DE, US-CA",
                field="jurisdiction",
            )
        if not location.strip():
            raise BadInput("a store must say where it is (--location)", field="location")
        path = path or f"stores/{name}"
        if has_password(path):
            raise BadInput(
                f"the lake URI {redact_uri(path)} holds a password, which would be kept in the"
                " metadata database: give credentials in the environment (AWS_ACCESS_KEY_ID,"
                " AWS_SECRET_ACCESS_KEY for S3; Kerberos for HDFS)",
                field="path",
            )
        lake_root(path, home=self.path).check()  # a lake that cannot be reached is refused
        with self.meta.transaction():
            existing = self.meta.query("SELECT name FROM stores WHERE name = ?", (name,))
            if existing and not exist_ok:
                raise BadInput(f"store {name!r} is already declared", field="store")
            if not existing:
                self.meta.execute(
                    "INSERT INTO stores VALUES (?, ?, ?, ?, ?)",
                    (name, jurisdiction, location, path, iso(self.now())),
                )
        return self.store(name)

    # -- datasets -------------------------------------------------------------------------------
    def dataset_origin(self, dataset: str) -> str | None:
        rows = self.meta.query("SELECT origin FROM datasets WHERE name = ?", (dataset,))
        return str(rows[0][0]) if rows else None

    # -- pseudonyms -----------------------------------------------------------------------------
    def subject_ref(self, vin: str) -> str:
        """The pseudonym a vehicle carries in the ledger: ``vin:KEYID:HMAC``."""
        key = self.keystore.get_or_create(HMAC_KEY)
        return _ref(key.key_id, key.material, vin)

    def subject_refs(self, vin: str) -> list[str]:
        """The vehicle's pseudonym under every pseudonymization key, old ones included."""
        self.keystore.get_or_create(HMAC_KEY)
        return [_ref(k.key_id, k.material, vin) for k in self.keystore.keys(HMAC_KEY)]


def _ref(key_id: str, material: bytes, vin: str) -> str:
    digest = hmac.new(material, b"onshore-subject:vin:" + vin.encode(), hashlib.sha256)
    return f"vin:{key_id}:{digest.hexdigest()[:32]}"
