"""Temporal dilation: a detection also masks its neighbouring frames.

A detector that finds a face in frame 10 and 12 but not in 11 (motion blur, a turned head)
would leave frame 11 readable. Each frame is therefore masked with its own detections plus
those of the ``window`` frames before and after it (unless an own detection already covers
the same place). A frame *relied* on the dilation when a carried detection marks an object
that the frame's own detections do not touch at all: that is the count reported.

Detections are never carried across a scene cut (:mod:`onshore.media.cuts`): a frame pushed
with ``cut=True`` starts a new shot, and only frames of the same shot lend it their boxes
(else the next shot's crowd would leave mosaic blocks on the empty road before it).
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
    """Neighbour detections that no own detection (or earlier carried one) already covers.

    Greedy in ``neighbours`` order: a neighbour is kept unless it overlaps (IoU at least
    ``overlap``) an own detection or an already kept neighbour of the same kind. Both overlap
    matrices are computed once; only the greedy pass over the neighbours is a loop.
    """
    if not neighbours:
        return []
    boxes = boxes_array(neighbours)
    kinds = np.asarray([d.kind for d in neighbours])
    covered = np.zeros(len(neighbours), dtype=bool)
    if own:
        own_kinds = np.asarray([d.kind for d in own])
        hits = iou_matrix(boxes, boxes_array(own)) >= overlap
        covered = (hits & (kinds[:, None] == own_kinds[None, :])).any(axis=1)
    clash = (iou_matrix(boxes, boxes) >= overlap) & (kinds[:, None] == kinds[None, :])
    taken = np.zeros(len(neighbours), dtype=bool)
    kept: list[Detection] = []
    for i in np.flatnonzero(~covered):
        if (clash[i] & taken).any():
            continue
        taken[i] = True
        kept.append(replace(neighbours[i], carried=True))
    return kept


class TemporalDilation(Generic[T]):
    """Feed ``(payload, detections)`` in frame order; get each frame back ``window`` frames
    later with the detections of its neighbours added (call :meth:`flush` at the end)."""

    def __init__(self, window: int):
        self.window = max(0, window)
        self._buffer: deque[tuple[int, int, T, list[Detection]]] = deque()
        self._past: deque[tuple[int, list[Detection]]] = deque(maxlen=self.window)
        self._next = 0
        self._shot = 0
        self.frames_carried = 0  # frames that relied on a carried detection
        self.carried_masks = 0  # carried detections that touched no own detection
        self.cuts = 0  # scene cuts seen: no detection crossed them

    def push(
        self, payload: T, detections: list[Detection], *, cut: bool = False
    ) -> Iterator[Dilated[T]]:
        """Add the next frame; ``cut``: it starts a new shot (nothing carries across)."""
        if cut and self._next:
            self._shot += 1
            self.cuts += 1
        self._buffer.append((self._next, self._shot, payload, detections))
        self._next += 1
        while len(self._buffer) > self.window:
            yield self._emit()

    def flush(self) -> Iterator[Dilated[T]]:
        while self._buffer:
            yield self._emit()

    def _emit(self) -> Dilated[T]:
        index, shot, payload, own = self._buffer.popleft()
        ahead = list(self._buffer)[: self.window]
        future = [d for _, s, _, dets in ahead if s == shot for d in dets]
        past = [d for s, dets in self._past if s == shot for d in dets]
        carried = carried_over(own, [*reversed(past), *future]) if self.window else []
        relied = carried_over(own, carried, overlap=1e-6) if own else carried
        if relied:
            self.frames_carried += 1
            self.carried_masks += len(relied)
        if self.window:
            self._past.append((shot, own))
        return Dilated(index, payload, tuple(own), tuple(carried))
