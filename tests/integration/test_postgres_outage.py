"""PostgreSQL going away and coming back: a clear StorageUnavailable while it is gone, and the
data home's database works again by itself once it is back (issue 16).

The outage is real at the socket level: the database is reached through a small TCP relay in
front of the real server at 127.0.0.1:5432, and the relay drops every connection and refuses new
ones for a while, as a restarted server or a broken network does.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from onshore.database import Database
from onshore.errors import StorageUnavailable

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.integration

BASE_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Relay:
    """A TCP relay to the PostgreSQL server that can be cut and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for pair in self.pairs:
                for s in pair:
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                    s.close()
            self.pairs.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def relay() -> Iterator[Relay]:
    try:
        psycopg.connect(BASE_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"no PostgreSQL at {BASE_URL}: {exc}")
    parts = urlsplit(BASE_URL)
    r = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield r
    r.close()


def test_the_database_reports_the_outage_and_comes_back_by_itself(relay: Relay) -> None:
    parts = urlsplit(BASE_URL)
    user = f"{parts.username}@" if parts.username else ""
    schema = f"t_outage_{uuid.uuid4().hex[:8]}"
    url = f"postgresql://{user}127.0.0.1:{relay.port}{parts.path}?schema={schema}"
    db = Database(url, label="metadata database")
    try:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.execute("INSERT INTO t VALUES (?)", (1,))
        relay.cut()
        with pytest.raises(StorageUnavailable) as lost:
            db.query("SELECT COUNT(*) FROM t")
        assert "127.0.0.1" in str(lost.value) and "postgres@" not in str(lost.value)
        with pytest.raises(StorageUnavailable):  # still down: a clear error again, no hang
            db.execute("INSERT INTO t VALUES (?)", (2,))
        relay.restore()
        with db.transaction():
            db.execute("INSERT INTO t VALUES (?)", (3,))
        assert db.query("SELECT x FROM t ORDER BY x") == [(1,), (3,)]
    finally:
        relay.restore()
        db.drop_schema()
        db.close()
