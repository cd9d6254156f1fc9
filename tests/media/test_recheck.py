"""The re-check runs where masking changed the frame: windows, and what they still find."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onshore.media.detectors import Detectors, DetectorSettings
from onshore.media.evaluation import parse_wider
from onshore.media.faces import FaceSettings
from onshore.media.frames import changed, mask_and_verify
from onshore.media.geometry import Detection, boxes_array, iou_matrix
from onshore.media.images import decode_image
from onshore.media.masking import MaskSettings
from onshore.media.regions import GRID, windows


def _best_iou(det: Detection, others: list[Detection]) -> float:
    if not others:
        return 0.0
    return float(iou_matrix(boxes_array([det]), boxes_array(others)).max())


def test_windows_lie_on_the_grid_and_overlapping_ones_merge() -> None:
    near = windows([(100, 100, 140, 150), (150, 120, 190, 160)], 1.0, 1.0, 1024, 768)
    assert near is not None and len(near) == 1
    (win,) = near
    assert win.inner == (100, 100, 190, 160)
    assert all(v % GRID == 0 for v in win.outer[:2])
    assert win.outer[0] <= 100 - 64 and win.outer[2] >= 190 + 64  # the guard band
    apart = windows([(10, 10, 40, 40), (900, 600, 940, 640)], 1.0, 1.0, 1024, 768)
    assert apart is not None and len(apart) == 2
    # mapped to the network input: a 2x pass doubles the window
    doubled = windows([(100, 100, 140, 150)], 2.0, 2.0, 2048, 1536)
    assert doubled is not None and doubled[0].inner == (200, 200, 280, 300)


def test_windows_over_most_of_the_frame_mean_the_whole_frame() -> None:
    assert windows([(0, 0, 900, 700)], 1.0, 1.0, 1024, 768) is None
    assert windows([], 1.0, 1.0, 1024, 768) == []


def test_a_face_found_in_a_window_is_the_face_found_in_the_frame(
    astronaut: np.ndarray, detectors: Detectors
) -> None:
    assert detectors.face is not None
    whole = detectors.face(astronaut)
    face = max(whole, key=lambda d: d.score)
    part = detectors.face(astronaut, changed([face], MaskSettings()))
    assert _best_iou(face, part) >= 0.8
    assert detectors.face(astronaut, [(0.0, 0.0, 20.0, 20.0)]) == []  # nothing centred there


def test_the_recheck_finds_a_face_that_a_too_small_mask_left_visible(
    astronaut: np.ndarray, detectors: Detectors
) -> None:
    assert detectors.face is not None
    face = max(detectors.face(astronaut), key=lambda d: d.score)
    x1, y1, x2, y2 = face.box
    sliver = Detection.from_box("face", face.score, x1, y1, x1 + (x2 - x1) / 4, y1 + (y2 - y1) / 4)
    frame = astronaut.copy()
    result = mask_and_verify(frame, [sliver], detectors, MaskSettings())
    assert _best_iou(face, list(result.masked_on_verify)) >= 0.5


@pytest.mark.real_data
@pytest.mark.slow
def test_the_recheck_masks_a_face_missed_beside_masked_ones(real_data: Path) -> None:
    """In a crowd (a real WIDER photo, fp32 for the same answer on every CPU), a face the
    first pass missed next to faces it masked is found by the second look and masked."""
    wider = real_data / "faces_widerface_val"
    name = "0--Parade/0_Parade_Parade_0_102.jpg"
    assert name in parse_wider((wider / "wider_face_val_bbx_gt_subset.txt").read_text())
    image = decode_image((wider / "images" / name).read_bytes(), name)
    detectors = Detectors(DetectorSettings(face=FaceSettings(precision="fp32")))
    assert detectors.face is not None
    faces = sorted(detectors.face(image), key=lambda d: -d.score)
    assert len(faces) >= 5
    mask = MaskSettings()
    checked = 0
    for left_out in faces[:3]:  # the three clearest faces, each left out in turn
        others = [d for d in faces if d is not left_out]
        frame = image.copy()
        result = mask_and_verify(frame, others, detectors, mask)
        assert _best_iou(left_out, list(result.masked_on_verify)) >= 0.5, left_out.box
        assert _best_iou(left_out, list(result.residuals)) < 0.5
        checked += 1
    assert checked == 3
