from __future__ import annotations

import numpy as np

from onshore.media.geometry import Detection, iou_matrix, nms
from onshore.media.plates import order_corners, priors
from onshore.media.temporal import TemporalDilation


def test_iou_and_nms_keep_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=float)
    assert iou_matrix(boxes[:1], boxes[:1])[0, 0] == 1.0
    assert iou_matrix(boxes[:1], boxes[2:])[0, 0] == 0.0
    keep = nms(boxes, np.array([0.5, 0.9, 0.7]), 0.3)
    assert keep.tolist() == [1, 2]


def test_expanded_grows_around_the_centre() -> None:
    d = Detection.from_box("face", 0.9, 10, 10, 20, 30)
    pts = d.expanded(0.5)
    assert pts[:, 0].min() == 5 and pts[:, 0].max() == 25
    assert pts[:, 1].min() == 0 and pts[:, 1].max() == 40
    assert d.height == 20


def test_corners_are_ordered_clockwise_from_top_left() -> None:
    pts = np.array([[10, 12], [0, 10], [0, 0], [10, 2]], dtype=float)  # CCPD order RB LB LT RT
    assert order_corners(pts).tolist() == [[0, 0], [10, 2], [10, 12], [0, 10]]


def test_priors_match_the_model_layout() -> None:
    p = priors(64, 96)
    # 3 levels (steps 8, 16, 32) with 2 anchor sizes each
    assert len(p) == 2 * (8 * 12 + 4 * 6 + 2 * 3)
    assert np.allclose(p[0], [0.5 * 8 / 96, 0.5 * 8 / 64, 24 / 96, 24 / 64])


def _face(x: float) -> Detection:
    return Detection.from_box("face", 0.9, x, 0, x + 10, 10)


def test_temporal_dilation_fills_a_missed_frame_and_counts_it() -> None:
    dil: TemporalDilation[int] = TemporalDilation(window=2)
    seen = [[_face(0)], [], [_face(1)], [], [], [], [], []]
    out = []
    for i, dets in enumerate(seen):
        out.extend(dil.push(i, dets))
    out.extend(dil.flush())
    assert [o.payload for o in out] == list(range(8))
    assert out[1].carried and all(d.carried for d in out[1].carried)
    assert not out[0].carried  # its own face overlaps frame 2's: nothing new carried
    assert [bool(o.carried) for o in out] == [False, True, False, True, True, False, False, False]
    assert dil.frames_carried == 3


def test_no_window_carries_nothing() -> None:
    dil: TemporalDilation[int] = TemporalDilation(window=0)
    items = [*dil.push(0, [_face(0)]), *dil.push(1, []), *dil.flush()]
    assert [o.carried for o in items] == [(), ()] and dil.frames_carried == 0
