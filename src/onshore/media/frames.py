"""One frame, start to finish: detect, mask, detect again on the result.

The second look tells two things apart. A detection that lies inside an area already masked
is the detector reacting to the blurred blob where a face was: nothing more can be read
there, so it is counted (``in_masks``) but is no residual. A detection mostly outside the
masks is something the first pass missed: it is masked too (one more round) and only what
the detectors still find after that is reported as residual.

The second look runs only where the frame changed: on windows around the masks, each widened
by its own size plus 32 px (``REACH``), with 64 px of context around that (see
:mod:`onshore.media.regions`); where masks cover most of the frame (a crowd) it runs on the
whole frame. Elsewhere the pixels are those the first pass saw, and everything it found there
is masked. After a second round of masks only the windows around those run again; the rest
keeps the answer of the second look. The plate detector looks again only around plate masks
(:func:`_plates_changed`). Measured on the 77 real photos (docs/media.md) this
finds the same faces to mask; what it leaves out are near-threshold detections (score about
0.21 for a threshold of 0.2) that appeared far from any change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from onshore.media.detectors import Detectors
from onshore.media.geometry import Detection
from onshore.media.masking import MaskSettings, apply_masks, mask_polygons
from onshore.media.regions import Box
from onshore.media.runtime import require

_INSIDE = 0.5  # share of a re-detection's box that must be masked already to count as inside
REACH = (1.0, 32.0)  # a change reaches this far: the mask's size times the first, plus pixels


@dataclass(frozen=True)
class FrameResult:
    detections: tuple[Detection, ...]  # found by the first pass
    masked: int
    residuals: tuple[Detection, ...]  # still found outside every mask after the last round
    masked_on_verify: tuple[Detection, ...] = ()  # found by the second look, then masked
    in_masks: int = 0  # re-detections on already masked areas (not residuals)


def coverage(
    frame_shape: tuple[int, ...], masked: Sequence[Detection], mask: MaskSettings
) -> np.ndarray:
    """A boolean image of every pixel that the masks cover."""
    cv2 = require("cv2")
    area = np.zeros(frame_shape[:2], dtype=np.uint8)
    for _, poly in mask_polygons(masked, mask):
        cv2.fillConvexPoly(area, np.round(poly).astype(np.int32), 1)
    return area.astype(bool)


def split_residuals(found: Sequence[Detection], covered: np.ndarray) -> tuple[list[Detection], int]:
    """Detections mostly outside ``covered``, and how many were inside."""
    h, w = covered.shape
    outside, inside = [], 0
    for det in found:
        x1, y1, x2, y2 = (round(v) for v in det.box)
        x1, x2 = max(0, x1), min(w, max(x2, x1 + 1))
        y1, y2 = max(0, y1), min(h, max(y2, y1 + 1))
        patch = covered[y1:y2, x1:x2]
        if patch.size and patch.mean() >= _INSIDE:
            inside += 1
        else:
            outside.append(det)
    return outside, inside


def changed(masked: Sequence[Detection], mask: MaskSettings) -> list[Box]:
    """Where masking ``masked`` may change what the detectors find: each painted polygon's
    bounds widened by :data:`REACH`."""
    share, pixels = REACH
    out = []
    for _, poly in mask_polygons(masked, mask):
        x1, y1 = poly.min(axis=0)
        x2, y2 = poly.max(axis=0)
        r = pixels + share * max(x2 - x1, y2 - y1)
        out.append((float(x1 - r), float(y1 - r), float(x2 + r), float(y2 + r)))
    return out


def _plates_changed(masked: Sequence[Detection], mask: MaskSettings) -> list[Box]:
    """Where the plate detector looks again: around the plate masks only. A masked face
    neither hides nor reveals a plate, so around face masks the plate model would answer what
    it answered (on the 77 real photos the re-check adds the same 75 masks and leaves the same
    7 photos with a residual either way; on crowds it saves a whole-frame plate run)."""
    return changed([d for d in masked if d.kind == "plate"], mask)


def _centred(det: Detection, regions: Sequence[Box]) -> bool:
    x1, y1, x2, y2 = det.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return any(a <= cx < c and b <= cy < d for a, b, c, d in regions)


def anonymize_frame(
    frame: np.ndarray,
    detectors: Detectors,
    mask: MaskSettings,
    *,
    extra: Sequence[Detection] = (),
    verify: bool = True,
) -> FrameResult:
    """Mask every face and plate in ``frame`` (BGR ``uint8``, changed in place).

    ``extra`` are detections to mask as well (carried over from neighbouring video frames).
    With ``verify`` the detectors run again on the masked frame (see the module docstring).
    """
    found = detectors(frame)
    return mask_and_verify(frame, found, detectors, mask, extra=extra, verify=verify)


def mask_and_verify(
    frame: np.ndarray,
    found: Sequence[Detection],
    detectors: Detectors,
    mask: MaskSettings,
    *,
    extra: Sequence[Detection] = (),
    verify: bool = True,
) -> FrameResult:
    to_mask = [*found, *extra]
    masked = apply_masks(frame, to_mask, mask)
    if not verify or not to_mask:
        # Nothing masked means the frame is unchanged and was just screened clean.
        return FrameResult(tuple(found), masked, ())
    again = detectors(frame, changed(to_mask, mask), plate_regions=_plates_changed(to_mask, mask))
    outside, inside = split_residuals(again, coverage(frame.shape, to_mask, mask))
    second: list[Detection] = []
    if outside:
        second = outside
        masked += apply_masks(frame, second, mask)
        to_mask.extend(second)
        near = changed(second, mask)
        kept = [d for d in again if not _centred(d, near)]
        fresh = [
            d
            for d in detectors(frame, near, plate_regions=_plates_changed(second, mask))
            if _centred(d, near)
        ]
        outside, inside = split_residuals([*kept, *fresh], coverage(frame.shape, to_mask, mask))
    return FrameResult(tuple(found), masked, tuple(outside), tuple(second), inside)
