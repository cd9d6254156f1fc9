"""Recall and precision of the masks against ground truth (WIDER FACE, CCPD).

A ground-truth face counts as masked when the masks (each detection widened by its margin,
as it is actually painted) cover at least half of its box; a plate when they cover at least
90 % of its four-corner quadrilateral, since a half-masked plate can still be read. A mask
is false when it touches no ground-truth object of its kind (IoU under 0.2 with every box
and no box centre inside it). The parsers read the datasets' own published formats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from onshore.media.geometry import Detection, boxes_array, iou_matrix
from onshore.media.masking import MaskSettings, mask_polygons
from onshore.media.runtime import require

if TYPE_CHECKING:
    from onshore.media.detectors import Detectors

FACE_COVER = 0.5
PLATE_COVER = 0.9


@dataclass(frozen=True)
class WiderFace:
    """One WIDER FACE ground-truth box (``x1 y1 w h blur expression illumination invalid
    occlusion pose``)."""

    x1: int
    y1: int
    w: int
    h: int
    blur: int
    invalid: int
    occlusion: int

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x1 + self.w, self.y1 + self.h)


def parse_wider(text: str) -> dict[str, list[WiderFace]]:
    """The official ``wider_face_*_bbx_gt.txt`` format: path, count, then one line per box
    (an image with no face still carries one all-zero line)."""
    lines = [ln.strip() for ln in text.splitlines()]
    out: dict[str, list[WiderFace]] = {}
    i = 0
    while i < len(lines) and lines[i]:
        name, n = lines[i], int(lines[i + 1])
        rows = lines[i + 2 : i + 2 + max(n, 1)][:n]
        out[name] = []
        for row in rows:
            v = [int(x) for x in row.split()]
            out[name].append(WiderFace(v[0], v[1], v[2], v[3], v[4], v[7], v[8]))
        i += 2 + max(n, 1)
    return out


@dataclass(frozen=True)
class CcpdPlate:
    box: tuple[float, float, float, float]
    corners: np.ndarray  # 4 x 2: right-bottom, left-bottom, left-top, right-top
    digits: int  # 7: ordinary plate, 8: green new-energy plate


def parse_ccpd_name(name: str) -> CcpdPlate:
    """CCPD encodes the ground truth in the file name:
    ``area-tilt-x1&y1_x2&y2-RB_LB_LT_RT-plate-brightness-blur.jpg``."""
    parts = name.rsplit(".", 1)[0].split("-")
    (x1, y1), (x2, y2) = (tuple(float(v) for v in p.split("&")) for p in parts[2].split("_"))
    corners = np.array([[float(v) for v in p.split("&")] for p in parts[3].split("_")])
    return CcpdPlate((x1, y1, x2, y2), corners, len(parts[4].split("_")))


def _painted(
    shape: tuple[int, int], masks: Sequence[Detection], settings: MaskSettings
) -> np.ndarray:
    cv2 = require("cv2")
    area = np.zeros(shape, dtype=np.uint8)
    for _, poly in mask_polygons(masks, settings):
        cv2.fillConvexPoly(area, np.round(poly).astype(np.int32), 1)
    return area


def _false_masks(masks: Sequence[Detection], truth: np.ndarray) -> list[Detection]:
    if not masks:
        return []
    pred = boxes_array(masks)
    if len(truth) == 0:
        return list(masks)
    iou = iou_matrix(pred, truth).max(axis=1)
    cx, cy = (truth[:, 0] + truth[:, 2]) / 2, (truth[:, 1] + truth[:, 3]) / 2
    inside = (
        (cx[None] >= pred[:, 0:1])
        & (cx[None] <= pred[:, 2:3])
        & (cy[None] >= pred[:, 1:2])
        & (cy[None] <= pred[:, 3:4])
    ).any(axis=1)
    return [m for m, bad in zip(masks, (iou < 0.2) & ~inside, strict=True) if bad]


@dataclass
class Score:
    """Counts over a data set; ``recall`` is over the objects that count (``eligible``)."""

    eligible: int = 0
    masked: int = 0
    masks: int = 0
    false_masks: int = 0
    masks_large: int = 0  # masks at least ``min_height`` tall
    false_masks_large: int = 0
    missed: list[tuple[str, tuple[float, ...]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.masked / self.eligible if self.eligible else 1.0

    @property
    def precision(self) -> float:
        return 1 - self.false_masks / self.masks if self.masks else 1.0

    @property
    def precision_large(self) -> float:
        return 1 - self.false_masks_large / self.masks_large if self.masks_large else 1.0


def score_faces(
    score: Score,
    name: str,
    shape: tuple[int, int],
    truth: Sequence[WiderFace],
    masks: Sequence[Detection],
    settings: MaskSettings,
    *,
    min_height: int = 24,
) -> None:
    """Add one image: faces ``min_height`` px or taller (and not marked invalid) count."""
    faces = [m for m in masks if m.kind == "face"]
    painted = _painted(shape, faces, settings)
    for gt in truth:
        if gt.invalid or gt.h < min_height or gt.w <= 0:
            continue
        score.eligible += 1
        x1, y1, x2, y2 = (int(v) for v in gt.box)
        patch = painted[max(0, y1) : y2, max(0, x1) : x2]
        if patch.size and patch.mean() >= FACE_COVER:
            score.masked += 1
        else:
            score.missed.append((name, gt.box))
    all_truth = np.array([g.box for g in truth if g.w > 0], dtype=np.float64).reshape(-1, 4)
    false = _false_masks(faces, all_truth)
    score.masks += len(faces)
    score.false_masks += len(false)
    score.masks_large += sum(m.height >= min_height for m in faces)
    score.false_masks_large += sum(m.height >= min_height for m in false)


def score_plates(
    score: Score,
    name: str,
    shape: tuple[int, int],
    truth: Sequence[CcpdPlate],
    masks: Sequence[Detection],
    settings: MaskSettings,
) -> None:
    cv2 = require("cv2")
    plates = [m for m in masks if m.kind == "plate"]
    painted = _painted(shape, plates, settings)
    for gt in truth:
        score.eligible += 1
        quad = np.zeros(shape, dtype=np.uint8)
        cv2.fillConvexPoly(quad, np.round(gt.corners).astype(np.int32), 1)
        inside = quad.astype(bool)
        if inside.any() and painted[inside].mean() >= PLATE_COVER:
            score.masked += 1
        else:
            score.missed.append((name, gt.box))
    false = _false_masks(plates, np.array([g.box for g in truth]).reshape(-1, 4))
    score.masks += len(plates)
    score.false_masks += len(false)
    score.masks_large += len(plates)
    score.false_masks_large += len(false)


def evaluate_wider(
    root: Path, detectors: Detectors, mask: MaskSettings, *, verify: bool = True
) -> Score:
    """Masks on the WIDER FACE subset at ``root`` (``images/`` and the ground-truth file)."""
    from onshore.media.frames import anonymize_frame
    from onshore.media.images import decode_image

    truth = parse_wider((root / "wider_face_val_bbx_gt_subset.txt").read_text())
    score = Score()
    for name, faces in truth.items():
        image = decode_image((root / "images" / name).read_bytes(), name)
        result = anonymize_frame(image, detectors, mask, verify=verify)
        masks = [*result.detections, *result.masked_on_verify]
        score_faces(score, name, image.shape[:2], faces, masks, mask)
    return score


def evaluate_ccpd(
    root: Path, detectors: Detectors, mask: MaskSettings, *, verify: bool = True
) -> tuple[Score, Score]:
    """Plate masks on the CCPD samples at ``root``, and face masks there (CCPD has no face
    ground truth, so every face mask counts as false: an upper bound on false face masks)."""
    from onshore.media.frames import anonymize_frame
    from onshore.media.images import decode_image

    plates, faces = Score(), Score()
    for path in sorted((root / "images").glob("*.jpg")):
        image = decode_image(path.read_bytes(), path.name)
        result = anonymize_frame(image, detectors, mask, verify=verify)
        masks = [*result.detections, *result.masked_on_verify]
        score_plates(plates, path.name, image.shape[:2], [parse_ccpd_name(path.name)], masks, mask)
        found = [m for m in masks if m.kind == "face"]
        faces.masks += len(found)
        faces.false_masks += len(found)
    return plates, faces
