from __future__ import annotations

import numpy as np
import pytest

from onshore.media.geometry import Detection
from onshore.media.masking import MASK_MODES, MaskSettings, apply_masks


def _noise() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)


@pytest.mark.parametrize("mode", MASK_MODES)
def test_masks_change_the_polygon_and_nothing_else(mode: str) -> None:
    frame = _noise()
    before = frame.copy()
    det = Detection.from_box("face", 0.9, 40, 30, 80, 70)
    assert apply_masks(frame, [det], MaskSettings(mode=mode, face_margin=0.0)) == 1  # type: ignore[arg-type]
    changed = (frame != before).any(axis=2)
    assert changed[32:68, 42:78].mean() > 0.9
    outside = changed.copy()
    outside[30:70, 40:80] = False
    assert not outside.any()
    if mode == "solid":
        assert (frame[30:70, 40:80] == 0).all()
    # the detail is gone: far less variance than the noise it replaced
    assert frame[32:68, 42:78].std() < before[32:68, 42:78].std() / 3


def test_margin_widens_the_mask() -> None:
    frame = _noise()
    before = frame.copy()
    det = Detection.from_box("face", 0.9, 60, 40, 80, 60)
    apply_masks(frame, [det], MaskSettings(mode="solid", face_margin=0.25))
    assert (frame[35:65, 55:85] == 0).all()
    assert (frame[:30] == before[:30]).all()


def test_rotated_plate_is_masked_by_its_quadrilateral() -> None:
    frame = np.full((100, 200, 3), 200, np.uint8)
    quad = np.array([[50, 40], [150, 20], [152, 50], [52, 70]], dtype=float)
    det = Detection.from_points("plate", 0.9, quad)
    apply_masks(frame, [det], MaskSettings(mode="solid", plate_margin=0.0))
    assert (frame[45, 100] == 0).all()  # centre of the plate
    assert (frame[22, 55] == 200).all()  # inside the axis-aligned box, outside the quad
    assert (frame[68, 148] == 200).all()


def test_degenerate_and_offscreen_boxes_are_skipped() -> None:
    frame = _noise()
    dets = [Detection.from_box("face", 0.9, 500, 500, 600, 600)]
    assert apply_masks(frame, dets, MaskSettings()) == 0
