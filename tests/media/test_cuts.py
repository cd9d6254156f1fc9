"""Scene cuts: a detection's window never carries a mask into another shot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.media.test_video import _read, _write

from onshore.media.cuts import SceneCuts
from onshore.media.geometry import Detection
from onshore.media.temporal import TemporalDilation

cv2 = pytest.importorskip("cv2")

SHOT = 10  # frames per shot


def _road(size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """An empty road: grey sky, darker tarmac, a dashed centre line."""
    w, h = size
    frame = np.empty((h, w, 3), np.uint8)
    frame[: h // 2] = (200, 180, 150)
    frame[h // 2 :] = (70, 70, 70)
    for x in range(0, w, 40):
        cv2.rectangle(frame, (x, h * 3 // 4), (x + 20, h * 3 // 4 + 4), (230, 230, 230), -1)
    return frame


def _shots(astronaut: np.ndarray) -> list[np.ndarray]:
    """A face panning for SHOT frames, then a cut to an empty road (panning too)."""
    base = cv2.resize(astronaut, (320, 320))
    road = _road((400, 240))
    faces = [np.roll(base, 2 * i, axis=1)[:240].copy() for i in range(SHOT)]
    roads = [road[:, 3 * i : 3 * i + 320].copy() for i in range(SHOT)]
    return faces + roads


def test_cuts_are_found_where_the_shot_changes_only(astronaut: np.ndarray) -> None:
    frames = _shots(astronaut)
    cuts = SceneCuts()
    found = [i for i, f in enumerate(frames) if cuts.push(f)]
    assert found == [SHOT] and cuts.cuts == [SHOT]
    dimmed = SceneCuts()  # a tunnel: the same picture growing darker is no cut
    assert not any(dimmed.push((frames[0] * (1 - 0.06 * i)).astype(np.uint8)) for i in range(10))


def test_dilation_does_not_carry_across_a_cut() -> None:
    face = Detection.from_box("face", 0.9, 10, 10, 50, 50)
    own = [[face] if i < SHOT else [] for i in range(2 * SHOT)]

    def carried(cut_at: int | None) -> list[int]:
        dilation: TemporalDilation[int] = TemporalDilation(5)
        out = []
        for i, dets in enumerate(own):
            out += list(dilation.push(i, dets, cut=i == cut_at))
        out += list(dilation.flush())
        return [d.index for d in out if d.carried]

    assert carried(None) == [10, 11, 12, 13, 14]  # what the old window did: the next shot masked
    assert carried(SHOT) == []


def test_a_video_with_two_shots_is_not_masked_after_the_cut(
    astronaut: np.ndarray, tmp_path: Path, anonymizer
) -> None:  # type: ignore[no-untyped-def]
    frames = _shots(astronaut)
    src = tmp_path / "front_camera.mp4"
    _write(src, frames)
    report = anonymizer.anonymize_file(src, tmp_path / "out" / "front_camera.mp4")
    assert report.status == "done", report.error
    assert report.details["scene_cuts"] == [SHOT]
    assert report.found["faces"] >= SHOT - 2
    _, out = _read(tmp_path / "out" / "front_camera.mp4")
    _, decoded = _read(src)
    for i in range(SHOT, 2 * SHOT):  # the road: only codec noise, no mask block anywhere
        diff = np.abs(out[i].astype(int) - decoded[i].astype(int)).mean(axis=2)
        blocks = diff.reshape(240 // 16, 16, 320 // 16, 16).mean(axis=(1, 3))
        assert blocks.max() < 6, f"frame {i} was masked"
    face = np.abs(out[3][60:110, 111:151].astype(int) - decoded[3][60:110, 111:151]).mean()
    assert face > 8  # the face shot is masked
