"""What the service holds while it runs: the data home, its keys, the gate, the ingestors.

One :class:`DataHome` serves every request, one request at a time (:meth:`ServiceState.session`
holds a lock and names the request's key as the ledger actor): the embedded metadata database
takes one writer at a time anyway, and the pipeline is CPU-bound. API keys are checked on a
connection of their own, so authentication never waits for a long request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from onshore.config import Config, load_config
from onshore.ingest import Ingestor, PipelineOptions, recover
from onshore.packs import load_pack
from onshore.service.apikeys import ApiKey, ApiKeys
from onshore.store import DEFAULT_STORE, DataHome, MetaDB
from onshore.transfer.execute import TransferGate

if TYPE_CHECKING:
    from onshore.geo import AreaIndex

WORKER = "http-service"
DEFAULT_MAX_BODY = 64 << 20


@dataclass(frozen=True)
class ServiceSettings:
    """How the service runs: where its data home is and what it accepts."""

    home: Path | None = None
    db: str | None = None
    pack: str = "cn-auto"
    areas: str | None = None
    config: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    default_purpose: str = "national_monitoring"


class ServiceState:
    """The open data home and everything built on it, shared by the requests."""

    def __init__(self, settings: ServiceSettings, environ: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self._keys_lock = threading.Lock()
        self._lock = threading.RLock()
        self.closed = True
        self.open()

    def open(self) -> None:
        """Open the data home (again, after :meth:`close`: each app lifespan opens it)."""
        with self._lock:
            if not self.closed:
                return
            settings = self.settings
            self.home = DataHome(
                settings.home, db=settings.db, pack=load_pack(settings.pack), environ=self.environ
            )
            self.home.actor = "service"
            self.keys = ApiKeys(MetaDB(settings.db, home=self.home.path))
            self.areas: AreaIndex | None = None
            areas = settings.areas
            if areas is None and (self.home.path / "areas.geojson").is_file():
                areas = str(self.home.path / "areas.geojson")
            if areas is not None:
                from onshore.geo import AreaIndex, load_areas

                catalogue = load_areas(areas, kinds=self.home.pack.area_buffers())
                self.areas = AreaIndex.build(catalogue)
            self.config: Config = load_config(settings.config, home=self.home.path)
            self._ingestors: dict[tuple[str, str, str | None], Ingestor] = {}
            # Batches a killed service left between claiming and storing are settled first.
            recover(self.ingestor(settings.default_purpose).index)
            self.closed = False

    def authenticate(self, key: str) -> ApiKey | None:
        with self._keys_lock:
            return self.keys.authenticate(key)

    @contextmanager
    def session(self, actor: str) -> Iterator[DataHome]:
        """The data home, for one request at a time, with ``actor`` on its ledger entries."""
        with self._lock:
            previous = self.home.actor
            self.home.actor = actor
            try:
                yield self.home
            finally:
                self.home.actor = previous

    def ingestor(
        self, purpose: str, store: str = DEFAULT_STORE, origin: str | None = None
    ) -> Ingestor:
        """The batch ingestor for a purpose and store (inside a session)."""
        key = (purpose, store, origin)
        if key not in self._ingestors:
            self._ingestors[key] = Ingestor(
                self.home,
                worker=WORKER,
                options=PipelineOptions(purpose=purpose, store=store, origin=origin),
                areas=self.areas,
            )
        return self._ingestors[key]

    def gate(self) -> TransferGate:
        """The transfer gate on the data home (inside a session)."""
        return TransferGate(self.home, self.config, areas=self.areas)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.keys.meta.close()
            self.home.close()
            self.closed = True
