"""What the service holds while it runs: the data home, its keys, the gate, the ingestors.

Requests that change the data home (ingest, consents, approvals, transfers, deletion) run one
at a time on the writer's :class:`DataHome` (:meth:`ServiceState.session` with ``write=True``
holds the writer lock): the embedded metadata database takes one writer at a time anyway, and
the pipeline is CPU-bound. Read-only requests (``write=False``) do not wait for that lock: each
borrows one of a few reader homes, a :class:`DataHome` with database connections of its own
(SQLite in WAL mode lets readers run during a write; PostgreSQL connections are independent),
for the length of the request. The ledger entries a read makes (``view``, or the export of a
remote read from abroad) are appended on the reader's own connections, as a second process on
the same home would: the ledger takes its own lock for every append. Each home, the writer's
or a reader's, serves one request at a time, so the request's key can be its ledger actor.
API keys are checked on a connection of their own, so authentication never waits either.

``readers=0`` (``onshore serve --readers 0``) serialises every request behind the writer lock.

Several service processes (``onshore serve --workers N``, or services on several hosts over one
PostgreSQL) each hold a state of their own; the writer lock is per process, and what they share
is serialized where it is kept: the ledger locks its state row for every append, the ingest key
index decides which process stores a row. Such a process (``worker=None``, what ``onshore
serve`` runs) names itself ``http-service-HOST-PID`` in the key index and beats a heartbeat, so
a sibling that meets its batch in progress waits for it (503, ``Retry-After``) while it lives
and settles it once it is dead; at start, and then at most every ``TAKEOVER_AFTER`` seconds
before an ingest, it settles what dead service processes left pending.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from onshore.config import Config, load_config
from onshore.ingest import Ingestor, PipelineOptions, recover
from onshore.ingest.keys import TAKEOVER_AFTER, Heartbeat
from onshore.packs import load_pack
from onshore.service.apikeys import ApiKey, ApiKeys
from onshore.settings import Settings
from onshore.store import DEFAULT_STORE, DataHome, MetaDB
from onshore.transfer.execute import TransferGate

if TYPE_CHECKING:
    from onshore.geo import AreaIndex

WORKER = "http-service"
DEFAULT_MAX_BODY = 64 << 20
DEFAULT_READERS = 4
CLOSE_WAIT_S = 30.0
# The home of the session this request (thread, task) is in: what gate() and ingestor() use.
_CURRENT: ContextVar[DataHome | None] = ContextVar("onshore_service_home", default=None)


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs: where its data home is and what it accepts.

    ``home``, ``db``, ``pack``, ``areas``, ``config`` and ``default_purpose`` left ``None`` are
    resolved as every command resolves them (:class:`onshore.settings.Settings`: environment,
    then the ``defaults:`` of the home's ``config.yaml``, then built-in defaults), so
    ``onshore serve`` and ``onshore store put`` on one home agree, and ``onshore config show``
    says where each came from. :class:`ServiceState` holds them resolved."""

    home: Path | None = None
    db: str | None = None
    pack: str | None = None
    areas: str | None = None
    config: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    default_purpose: str | None = None
    readers: int = DEFAULT_READERS  # read-only requests at once; 0: every request in turn
    # Its name in the ingest key index; None: one of several processes, named per process.
    worker: str | None = WORKER

    def resolve(self, environ: Mapping[str, str] | None = None) -> tuple[ServiceSettings, Settings]:
        """These settings with every ``None`` resolved, and the resolution (with origins)."""
        resolved = Settings.resolve(
            {
                "home": self.home,
                "db": self.db,
                "pack": self.pack,
                "areas": self.areas,
                "config": self.config,
                "purpose": self.default_purpose,
            },
            environ=environ,
        )
        given_config = resolved.origin("config") != "default"
        return (
            replace(
                self,
                home=resolved.home,
                db=resolved.db,
                pack=resolved.pack,
                areas=resolved.areas,
                config=str(resolved.config) if given_config else None,
                default_purpose=resolved.purpose,
            ),
            resolved,
        )


class ServiceState:
    """The open data home and everything built on it, shared by the requests."""

    def __init__(self, settings: ServiceSettings, environ: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        if settings.readers < 0:
            raise ValueError("readers must be 0 or more")
        self._keys_lock = threading.Lock()
        self._lock = threading.RLock()  # the writer lock
        self._readers: queue.LifoQueue[DataHome] = queue.LifoQueue()
        self._reader_homes: list[DataHome] = []
        # The console overview's figures, by what they were computed from (see its route).
        self.figures_lock = threading.Lock()
        self.figures: dict[tuple[object, ...], dict[str, object]] = {}
        self._heartbeat: Heartbeat | None = None
        self._settle_due = 0.0
        self.closed = True
        self.open()

    def open(self) -> None:
        """Open the data home (again, after :meth:`close`: each app lifespan opens it)."""
        with self._lock:
            if not self.closed:
                return
            settings, self.resolved = self.settings.resolve(self.environ)
            self.settings = settings
            self.home = DataHome(
                settings.home,
                db=settings.db,
                pack=load_pack(self.resolved.pack),
                environ=self.environ,
            )
            self.home.actor = "service"
            self.keys = ApiKeys(MetaDB(settings.db, home=self.home.path))
            self.areas: AreaIndex | None = None
            areas = settings.areas  # resolved: HOME/areas.geojson when present and none named
            if areas is not None:
                from onshore.geo import AreaIndex, load_areas

                catalogue = load_areas(areas, kinds=self.home.pack.area_buffers())
                self.areas = AreaIndex.build(catalogue)
            self.config: Config = load_config(settings.config, home=self.home.path)
            self._ingestors: dict[tuple[str, str, str | None], Ingestor] = {}
            self.worker = settings.worker or f"{WORKER}-{socket.gethostname()}-{os.getpid()}"
            index = self.ingestor(self.default_purpose).index
            if settings.worker is None:  # one of several processes: live, and settle the dead
                self._heartbeat = Heartbeat(index)
                index.settle_dead()
                self._settle_due = time.monotonic() + TAKEOVER_AFTER
            else:  # batches a killed service left between claiming and storing settle first
                recover(index)
            self._open_readers()
            self.closed = False

    def _open_readers(self) -> None:
        """The reader homes, opened now (their schema checks and ledger opening take the
        database's write lock for a moment, which a long write would make them wait for)."""
        self._readers = queue.LifoQueue()
        self._reader_homes = []
        for _ in range(self.settings.readers):
            reader = DataHome(
                self.home.path,
                db=self.settings.db,
                pack=self.home.pack,
                keystore=self.home.keystore,
                environ=self.environ,
            )
            reader.actor = "service"
            _ = reader.ledger
            self._reader_homes.append(reader)
            self._readers.put(reader)

    def authenticate(self, key: str) -> ApiKey | None:
        with self._keys_lock:
            return self.keys.authenticate(key)

    def key_refusal(self, key: str) -> str | None:
        """Why ``key`` does not authenticate: ``unknown``, ``revoked`` or ``expired``."""
        with self._keys_lock:
            return self.keys.refusal(key)

    @property
    def default_purpose(self) -> str:
        """The purpose of collection where a request names none (resolved by ``Settings``)."""
        purpose = self.settings.default_purpose
        if purpose is None:  # ServiceSettings.resolve always fills it
            raise RuntimeError("the service's settings were not resolved")
        return purpose

    @contextmanager
    def session(self, actor: str, *, write: bool = True) -> Iterator[DataHome]:
        """A data home for one request, with ``actor`` on its ledger entries.

        ``write=True``: the writer's home, one writing request at a time (the writer lock).
        ``write=False``, for a request that only reads: a reader home of its own, whatever a
        writer is doing; it waits only when every reader home is busy. Such a request may still
        append to the ledger (its ``view`` entry, the export of a remote read from abroad):
        that takes the database's write lock for a moment, as another process on the home
        would, not the writer lock. A session inside a session goes on with the outer one's
        home.
        """
        outer = _CURRENT.get()
        if outer is not None:
            with self._acting(outer, actor):
                yield outer
            return
        if write or not self._reader_homes:
            with self._lock, self._acting(self.home, actor):
                token = _CURRENT.set(self.home)
                try:
                    yield self.home
                finally:
                    _CURRENT.reset(token)
            return
        readers = self._readers
        reader = readers.get()
        try:
            with self._acting(reader, actor):
                token = _CURRENT.set(reader)
                try:
                    yield reader
                finally:
                    _CURRENT.reset(token)
        finally:
            readers.put(reader)

    @staticmethod
    @contextmanager
    def _acting(home: DataHome, actor: str) -> Iterator[None]:
        """``actor`` on ``home``'s ledger entries meanwhile (the home is this request's alone)."""
        previous = home.actor
        home.actor = actor
        try:
            yield
        finally:
            home.actor = previous

    def _home(self) -> DataHome:
        """The home of the current session (the writer's outside any)."""
        return _CURRENT.get() or self.home

    def ingestor(
        self, purpose: str, store: str = DEFAULT_STORE, origin: str | None = None
    ) -> Ingestor:
        """The batch ingestor for a purpose and store (inside a writing session)."""
        home = self._home()
        options = PipelineOptions(purpose=purpose, store=store, origin=origin)
        if home is not self.home:
            return Ingestor(home, worker=self.worker, options=options, areas=self.areas)
        key = (purpose, store, origin)
        if key not in self._ingestors:
            self._ingestors[key] = Ingestor(
                home, worker=self.worker, options=options, areas=self.areas
            )
        ingestor = self._ingestors[key]
        if self._heartbeat is not None and time.monotonic() >= self._settle_due:
            # What a sibling that died since the start left pending (its rows may never be
            # sent again), at most once per takeover interval.
            self._settle_due = time.monotonic() + TAKEOVER_AFTER
            ingestor.index.settle_dead()
        return ingestor

    def gate(self) -> TransferGate:
        """The transfer gate on the current session's data home."""
        return TransferGate(self._home(), self.config, areas=self.areas)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.keys.meta.close()
            # Reads still running get a moment to finish (a lifespan ends after its requests).
            deadline = time.monotonic() + CLOSE_WAIT_S
            for _ in self._reader_homes:
                try:
                    self._readers.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            for reader in self._reader_homes:
                reader.close()
            self._reader_homes = []
            if self._heartbeat is not None:
                self._heartbeat.close()
                self._heartbeat = None
            self.home.close()
            self.closed = True
