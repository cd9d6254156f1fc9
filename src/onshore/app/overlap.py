"""Overlap reading, classifying and writing: a reader thread ahead of the caller, a writer
thread behind it, each joined to it by a small bounded queue.

Arrow and the geofence kernels release the GIL, so while the caller classifies one batch the
reader decodes the next and the writer encodes the one before. The queues hold at most
``depth`` items, so memory stays bounded by a few batches; order is kept (one thread each side);
an error in either thread is raised again in the caller, at its next step or on close.

>>> with prefetch(iter(range(5)), depth=2) as items:
...     list(items)
[0, 1, 2, 3, 4]
>>> from onshore.app.sinks import Collect
>>> import pyarrow as pa
>>> sink = Collect()
>>> background = BackgroundSink(sink)
>>> background.write(pa.record_batch([pa.nulls(2)], names=["x"]))
>>> background.close()
>>> len(sink.batches), sink.closed
(1, True)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Generic, TypeVar

import pyarrow as pa

from onshore.app.sinks import Sink

T = TypeVar("T")
_POLL_S = 0.1  # how often a blocked thread looks whether it should stop


class _End:
    """Put on a queue after the last item (with the error that ended it, if any)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _Stop(Exception):
    """The other side is gone: stop quietly."""


def _put(q: queue.Queue[object], item: object, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            q.put(item, timeout=_POLL_S)
            return
        except queue.Full:
            continue


class _Prefetch(Generic[T]):
    def __init__(self, items: Iterator[T], depth: int) -> None:
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="onshore-read", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._items:
                _put(self._queue, item, self._stop)
            _put(self._queue, _End(), self._stop)
        except _Stop:
            pass
        except BaseException as exc:  # raised again in the caller
            with suppress(_Stop):
                _put(self._queue, _End(exc), self._stop)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()  # a generator stopped early runs its finally blocks here

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item  # type: ignore[misc]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[Iterator[T]]:
    """Iterate ``items`` in a thread of its own, at most ``depth`` items ahead of the caller.

    An error raised by ``items`` is raised again where the caller iterates; leaving the block
    early (or on an error) stops the thread and closes ``items``."""
    ahead = _Prefetch(items, depth)
    try:
        yield iter(ahead)
    finally:
        ahead.stop()


class BackgroundSink:
    """A :class:`~onshore.app.sinks.Sink` that hands batches to ``sink`` in a thread of its own.

    ``write`` returns once the batch is queued (at most ``depth`` wait); an error in the writer
    thread is raised by the next ``write`` or by ``close``. ``close`` waits for every batch to
    be written, then closes ``sink``; ``abort`` drops what is queued and aborts ``sink``."""

    def __init__(self, sink: Sink, depth: int = 2) -> None:
        self.sink = sink
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="onshore-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if isinstance(item, _End):
                return
            try:
                self.sink.write(item)
            except BaseException as exc:  # raised again in the caller
                self._error = exc
                self._stop.set()
                return

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def write(self, batch: pa.RecordBatch) -> None:
        self._raise()
        try:
            _put(self._queue, batch, self._stop)
        except _Stop:
            self._thread.join()
            self._raise()
            raise RuntimeError("the writer thread has stopped") from None

    def close(self, schema: pa.Schema | None = None) -> None:
        with suppress(_Stop):
            _put(self._queue, _End(), self._stop)
        self._thread.join()
        self._raise()
        self.sink.close(schema)

    def abort(self) -> None:
        self._stop.set()
        self._thread.join()
        self._error = None
        self.sink.abort()
