from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.media.scenes import YELLOW, plate_scene, speech, tone

from onshore.cli import cli
from onshore.cli._common import run_guarded
from onshore.media.audio import Pcm, write_wav
from onshore.media.images import encode_image


@pytest.fixture
def fleet(tmp: Path, astronaut: np.ndarray) -> Path:
    root = tmp / "fleet"
    for sub in ("front", "rear/2026", "cabin"):
        (root / sub).mkdir(parents=True)
    (root / "front" / "a.jpg").write_bytes(encode_image(astronaut, ".jpg"))
    scene, _ = plate_scene(YELLOW)
    (root / "rear" / "2026" / "b.png").write_bytes(encode_image(scene, ".png"))
    x = np.concatenate([tone(1.0), speech(), tone(1.0)])
    (root / "cabin" / "mic.wav").write_bytes(write_wav(Pcm(x[:, None], 16_000, 2)))
    good = encode_image(astronaut, ".jpg")
    (root / "front" / "broken.jpg").write_bytes(good[: len(good) // 3])
    (root / "notes.txt").write_text("not media")
    return root


def test_folder_is_anonymized_keeping_layout_and_bad_files_are_skipped(
    fleet: Path, tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp / "anon"
    code = run_guarded(cli, ["media", "anonymize", str(fleet), str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 2  # one file was bad; the others were still done
    assert "broken.jpg" in captured.err and "skipped" in captured.err
    report = json.loads(captured.out)
    assert report["summary"]["files"] == 4 and report["summary"]["skipped"] == 1
    assert report["summary"]["found"] == {"faces": 1, "plates": 1}
    assert report["summary"]["speech_segments"] == 1
    for rel in ("front/a.jpg", "rear/2026/b.png", "cabin/mic.wav"):
        assert (out / rel).is_file()
        sidecar = json.loads((out / (rel + ".anonymize.json")).read_text())
        assert sidecar["tool"]["name"] == "onshore" and sidecar["status"] == "done"
        assert sidecar["detectors"] and all(d["licence"] for d in sidecar["detectors"])
    assert not (out / "front" / "broken.jpg").exists()
    plate = json.loads((out / "rear/2026/b.png.anonymize.json").read_text())
    assert plate["boxes"][0]["kind"] == "plate" and len(plate["boxes"][0]["quad"]) == 4
    assert plate["classification"]["before"]["level"] == "important"
    assert plate["classification"]["after"]["level"] == "personal"
    cabin = json.loads((out / "cabin/mic.wav.anonymize.json").read_text())
    assert cabin["origin"] == "cabin"
    assert cabin["classification"]["before"]["level"] == "sensitive_personal"


def test_single_file_with_options_and_plain_output(
    fleet: Path, tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = fleet / "front" / "a.jpg"
    out = tmp / "a.anon.jpg"
    args = ["media", "anonymize", str(src), str(out), "--mode", "solid", "--no-plates"]
    assert run_guarded(cli, [*args, "--no-sidecar"]) == 0
    text = capsys.readouterr().out
    assert "1 of 1 files anonymized" in text and "1 faces" in text
    assert out.is_file() and not Path(str(out) + ".anonymize.json").exists()


def test_bad_usage_exits_2(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp / "empty").mkdir()
    assert run_guarded(cli, ["media", "anonymize", str(tmp / "empty"), str(tmp / "o")]) == 2
    assert "no JPEG, PNG, video or WAV" in " ".join(capsys.readouterr().err.split())
    assert run_guarded(cli, ["media", "anonymize", str(tmp / "missing"), str(tmp / "o")]) == 2
    f = tmp / "x.wav"
    f.write_bytes(b"")
    code = run_guarded(cli, ["media", "anonymize", str(f), str(tmp / "o.wav"), "--margin", "5"])
    assert code == 2


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_guarded(cli, ["media", "anonymize", "--help"]) == 0
    assert "onshore media anonymize dashcam/" in capsys.readouterr().out
