"""Detections as values: a kind, a score and a four-corner polygon (rotated boxes for plates)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Detection:
    """One face or plate. ``quad`` lists the corners clockwise from the top left, in pixels."""

    kind: str
    score: float
    quad: Quad
    carried: bool = False  # True when it was carried over from a neighbouring video frame

    @classmethod
    def from_box(
        cls, kind: str, score: float, x1: float, y1: float, x2: float, y2: float
    ) -> Detection:
        return cls(kind, float(score), ((x1, y1), (x2, y1), (x2, y2), (x1, y2)))

    @classmethod
    def from_points(cls, kind: str, score: float, points: np.ndarray) -> Detection:
        pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
        quad = tuple((float(x), float(y)) for x, y in pts)
        return cls(kind, float(score), quad)  # type: ignore[arg-type]

    @property
    def points(self) -> np.ndarray:
        return np.asarray(self.quad, dtype=np.float64)

    @cached_property
    def box(self) -> tuple[float, float, float, float]:
        """The axis-aligned bounds ``(x1, y1, x2, y2)`` (computed once: video dilation asks
        for them of every detection in the window, for every frame)."""
        xs = [float(x) for x, _ in self.quad]
        ys = [float(y) for _, y in self.quad]
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def height(self) -> float:
        _x1, y1, _x2, y2 = self.box
        return y2 - y1

    def expanded(self, margin: float) -> np.ndarray:
        """The corners pushed out from the centre by ``margin`` of the size, each way."""
        pts = self.points
        centre = pts.mean(axis=0)
        out: np.ndarray = centre + (pts - centre) * (1.0 + 2.0 * margin)
        return out

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "score": round(self.score, 4),
            "box": [round(v, 1) for v in self.box],
        }
        if self.kind == "plate":
            out["quad"] = [[round(x, 1), round(y, 1)] for x, y in self.quad]
        if self.carried:
            out["carried"] = True
        return out


def boxes_array(detections: Sequence[Detection]) -> np.ndarray:
    """An ``(n, 4)`` float array of axis-aligned bounds."""
    if not detections:
        return np.zeros((0, 4), dtype=np.float64)
    return np.asarray([d.box for d in detections], dtype=np.float64)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b`` (x1, y1, x2, y2)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        overlap = iou_matrix(boxes[i : i + 1], boxes[order[1:]])[0]
        order = order[1:][overlap < threshold]
    return np.asarray(keep, dtype=np.int64)
