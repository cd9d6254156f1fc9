"""Masking operators: blur, mosaic or solid fill over a detection's polygon, with a margin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from onshore.media.geometry import Detection
from onshore.media.runtime import require

MaskMode = Literal["blur", "mosaic", "solid"]
MASK_MODES: tuple[MaskMode, ...] = ("blur", "mosaic", "solid")


@dataclass(frozen=True)
class MaskSettings:
    """How to mask. ``margin`` widens each polygon by that share of its size on every side."""

    mode: MaskMode = "blur"
    face_margin: float = 0.15
    plate_margin: float = 0.1
    mosaic_blocks: int = 6  # cells across the shorter side of the polygon's bounds

    def margin(self, kind: str) -> float:
        return self.plate_margin if kind == "plate" else self.face_margin


def mask_polygons(
    detections: Sequence[Detection], settings: MaskSettings
) -> list[tuple[str, np.ndarray]]:
    """The polygons actually masked: each detection's corners widened by its margin."""
    return [(d.kind, d.expanded(settings.margin(d.kind))) for d in detections]


def apply_masks(frame: np.ndarray, detections: Sequence[Detection], settings: MaskSettings) -> int:
    """Mask ``detections`` in ``frame`` (BGR ``uint8``) in place; return how many were masked.

    Each polygon is processed on its own bounding region: the region is blurred, pixelated or
    filled, and copied back through the polygon's mask, so a rotated plate is covered by its
    own quadrilateral. Blur strength scales with the region so that large faces are as
    unrecognisable as small ones.
    """
    cv2 = require("cv2")
    h, w = frame.shape[:2]
    done = 0
    for _, poly in mask_polygons(detections, settings):
        x1 = int(np.clip(np.floor(poly[:, 0].min()), 0, w))
        y1 = int(np.clip(np.floor(poly[:, 1].min()), 0, h))
        x2 = int(np.clip(np.ceil(poly[:, 0].max()), 0, w))
        y2 = int(np.clip(np.ceil(poly[:, 1].max()), 0, h))
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        region = frame[y1:y2, x1:x2]
        shape = np.zeros(region.shape[:2], dtype=np.uint8)
        local = np.round(poly - [x1, y1]).astype(np.int32)
        cv2.fillConvexPoly(shape, local, 255)
        covered = _masked(region, settings, cv2)
        sel = shape.astype(bool)
        region[sel] = covered[sel]
        done += 1
    return done


def _masked(region: np.ndarray, settings: MaskSettings, cv2: object) -> np.ndarray:
    rh, rw = region.shape[:2]
    if settings.mode == "solid":
        return np.zeros_like(region)
    if settings.mode == "mosaic":
        cells = max(1, settings.mosaic_blocks)
        side = max(1, min(rh, rw) // cells)
        small = cv2.resize(  # type: ignore[attr-defined]
            region,
            (max(1, rw // side), max(1, rh // side)),
            interpolation=cv2.INTER_AREA,  # type: ignore[attr-defined]
        )
        return cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)  # type: ignore[attr-defined,no-any-return]
    # blur: a kernel about half the region, applied to a downscaled copy twice for speed and
    # strength; the result keeps colour but no identifying detail.
    small_side = max(2, min(rh, rw) // 8)
    scale = small_side / max(1, min(rh, rw))
    sw, sh = max(2, round(rw * scale)), max(2, round(rh * scale))
    small = cv2.resize(region, (sw, sh), interpolation=cv2.INTER_AREA)  # type: ignore[attr-defined]
    k = max(3, (min(sw, sh) // 2) * 2 + 1)
    small = cv2.GaussianBlur(small, (k, k), 0)  # type: ignore[attr-defined]
    small = cv2.GaussianBlur(small, (k, k), 0)  # type: ignore[attr-defined]
    return cv2.resize(small, (rw, rh), interpolation=cv2.INTER_LINEAR)  # type: ignore[attr-defined,no-any-return]
