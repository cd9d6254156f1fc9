"""Temporal dilation: a detection also masks its neighbouring frames.

A detector that finds a face in frame 10 and 12 but not in 11 (motion blur, a turned head)
would leave frame 11 readable. Each frame is therefore masked with its own detections plus
those of the ``window`` frames before and after it. Frames whose masking needed a carried
detection (one that no own detection overlaps) are counted: that is how many frames relied
on the dilation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import numpy as np

from onshore.media.geometry import Detection, boxes_array, iou_matrix

T = TypeVar("T")


@dataclass(frozen=True)
class Dilated(Generic[T]):
    index: int
    payload: T
    own: tuple[Detection, ...]
    carried: tuple[Detection, ...]


def carried_over(
    own: list[Detection], neighbours: list[Detection], overlap: float = 0.3
) -> list[Detection]:
    """Neighbour detections that no own detection (or earlier carried one) already covers."""
    kept: list[Detection] = []
    for det in neighbours:
        boxes = boxes_array([*own, *kept])
        if len(boxes):
            same_kind = np.asarray([d.kind == det.kind for d in [*own, *kept]])
            ious = iou_matrix(boxes_array([det]), boxes)[0]
            if (ious[same_kind] >= overlap).any():
                continue
        kept.append(replace(det, carried=True))
    return kept


class TemporalDilation(Generic[T]):
    """Feed ``(payload, detections)`` in frame order; get each frame back ``window`` frames
    later with the detections of its neighbours added (call :meth:`flush` at the end)."""

    def __init__(self, window: int):
        self.window = max(0, window)
        self._buffer: deque[tuple[int, T, list[Detection]]] = deque()
        self._past: deque[list[Detection]] = deque(maxlen=self.window)
        self._next = 0
        self.frames_carried = 0

    def push(self, payload: T, detections: list[Detection]) -> Iterator[Dilated[T]]:
        self._buffer.append((self._next, payload, detections))
        self._next += 1
        while len(self._buffer) > self.window:
            yield self._emit()

    def flush(self) -> Iterator[Dilated[T]]:
        while self._buffer:
            yield self._emit()

    def _emit(self) -> Dilated[T]:
        index, payload, own = self._buffer.popleft()
        future = [d for _, _, dets in list(self._buffer)[: self.window] for d in dets]
        past = [d for dets in self._past for d in dets]
        carried = carried_over(own, [*reversed(past), *future]) if self.window else []
        if carried:
            self.frames_carried += 1
        if self.window:
            self._past.append(own)
        return Dilated(index, payload, tuple(own), tuple(carried))
