"""Plate numbers read as text: enlarged numbers painted on trucks (放大号), foreign plates.

The pattern rules are plain unit tests; the detector runs on the real photos of
../shared/data/real (skipped where absent): HyperLPR's ``dataset_2.jpg`` (a light truck with
its number painted on the cargo box), ``hongkang1.jpg`` (a Hong Kong plate above a
cross-border one), and WIDER photos whose signs and shirts must not read as plates.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rapidocr_onnxruntime")

from onshore.media.detectors import Detectors, DetectorSettings
from onshore.media.frames import anonymize_frame
from onshore.media.geometry import Detection, boxes_array, iou_matrix
from onshore.media.masking import MaskSettings
from onshore.media.painted import PaintedDetector, PaintedSettings, plate_text
from onshore.media.runtime import require

STREET = "plate_street_photos_no_gt"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("川A·UE022", "川AUE022"),
        ("京N·12345", "京N12345"),
        ("沪A·F71017", "沪AF71017"),  # new energy: six after the letter
        ("粤ZR066港", "粤ZR066"),  # a cross-border plate ends with 港
        ("湘A·OPQ76", "湘A0PQ76"),  # O is read where 0 is
        ("川AUE0", "川AUE0"),  # cut off at the frame's edge
        ("川A", "川A"),  # the rest hidden behind bars
        ("AUE022", "AUE022"),  # the province worn off
        ("SN 6497", "SN6497"),  # Hong Kong
        ("16826 SH", "16826SH"),
        ("B MW 1234", "BMW1234"),
        ("AB12 CDE", "AB12CDE"),
    ],
)
def test_plate_numbers_are_read(text: str, number: str) -> None:
    assert plate_text(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "美味",
        "川味小吃",
        "四川AIRLINES",  # a province inside a word
        "2019",
        "TEL 8888-6666",
        "0755-12345678",
        "EXPO FAIR",
        "Benicio",  # OCR's I and O are not digits in words
        "GIVEITI",
        "RLIY 60",
        "1621E20",  # route numbers on a road sign
        "A380",
        "P13",
        "",
    ],
)
def test_signs_and_words_are_not_plates(text: str) -> None:
    assert plate_text(text) is None


def test_foreign_numbers_only_when_asked() -> None:
    assert plate_text("AB12 CDE") == "AB12CDE"
    assert plate_text("AB12 CDE", foreign=False) is None
    assert plate_text("16826 SH", foreign=False) is None
    # a letter and five more with three digits reads as a mainland number without its province
    assert plate_text("AB-123-CD", foreign=False) == "AB123CD"
    assert plate_text("川A·UE022", foreign=False) == "川AUE022"


@pytest.fixture(scope="module")
def painted() -> PaintedDetector:
    return PaintedDetector()


def _covered(frame_shape: tuple[int, ...], dets: list[Detection]) -> np.ndarray:
    cv2 = require("cv2")
    area = np.zeros(frame_shape[:2], np.uint8)
    for d in dets:
        cv2.fillConvexPoly(area, np.round(d.points).astype(np.int32), 1)
    return area.astype(bool)


def test_runs_only_next_to_a_plate_by_default(painted: PaintedDetector) -> None:
    frame = np.full((240, 320, 3), 200, np.uint8)
    assert painted(frame, ()) == []
    assert painted.settings.with_plate


@pytest.mark.real_data
def test_the_number_painted_on_a_truck_is_masked(real_data: Path) -> None:
    """dataset_2.jpg: the plate reads 川A·UE022; the cargo box carries 川A UE0… in large
    blue letters behind bars and a latch, cut off at the right edge (x 335..640, y 195..285)."""
    cv2 = require("cv2")
    frame = cv2.imread(str(real_data / STREET / "hyperlpr" / "dataset_2.jpg"))
    painted_area = (335, 195, 640, 285)
    plates_only = Detectors(DetectorSettings(faces=False, painted=False))
    with_text = Detectors(DetectorSettings(faces=False))
    before = plates_only(frame)
    assert max(iou_matrix(boxes_array(before), np.array([painted_area]))[:, 0]) < 0.1
    found = with_text(frame)
    assert found[: len(before)] == before
    extra = found[len(before) :]
    assert len(extra) == 1
    covered = _covered(frame.shape, extra)
    x1, y1, x2, y2 = painted_area
    assert covered[y1:y2, x1:x2].mean() > 0.9
    # masked, nothing is left to read there and the frame has no residual
    out = frame.copy()
    result = anonymize_frame(out, with_text, MaskSettings())
    assert result.residuals == ()
    assert not any(plate_text(line.text) for line in PaintedDetector().read(out[180:300, 300:]))


@pytest.mark.real_data
def test_video_frames_can_leave_the_text_out(real_data: Path) -> None:
    cv2 = require("cv2")
    frame = cv2.imread(str(real_data / STREET / "hyperlpr" / "dataset_2.jpg"))
    detectors = Detectors(DetectorSettings(faces=False))
    assert len(detectors(frame, text=False)) == len(detectors(frame)) - 1


@pytest.mark.real_data
def test_a_hong_kong_plate_is_read(real_data: Path, painted: PaintedDetector) -> None:
    cv2 = require("cv2")
    frame = cv2.imread(str(real_data / STREET / "we0091234" / "hongkang1.jpg"))
    plates = Detectors(DetectorSettings(faces=False, painted=False)).plate
    assert plates is not None
    found = painted(frame, plates(frame))
    # SN 6497, two rows, above the cross-border plate 粤Z·R066港 (x 310..440, y 540..625)
    ious = iou_matrix(boxes_array(found), np.array([(310.0, 540.0, 440.0, 625.0)]))
    assert len(found) == 1 and ious[0, 0] > 0.6


@pytest.mark.real_data
@pytest.mark.slow
def test_no_plate_text_on_wider_signs_and_shirts(real_data: Path) -> None:
    """Every WIDER photo read, plate or not (``with_plate`` off): signs, banners and shirts
    must not read as plates. The one foreign plate among them (a car in 14_Traffic_505,
    ``16826 SH``) is the only number found."""
    cv2 = require("cv2")
    detector = PaintedDetector(PaintedSettings(with_plate=False))
    found = {}
    for path in sorted((real_data / "faces_widerface_val" / "images").rglob("*.jpg")):
        dets = detector(cv2.imread(str(path)))
        if dets:
            found[path.name] = len(dets)
    assert found == {"14_Traffic_Traffic_14_505.jpg": 1}


@pytest.mark.real_data
@pytest.mark.parametrize(("option", "plates"), [("with-plate", 2), ("off", 1)])
def test_cli_plate_text_option(
    real_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, plates: int
) -> None:
    from onshore.cli import cli
    from onshore.cli._common import run_guarded

    src = real_data / STREET / "hyperlpr" / "dataset_2.jpg"
    args = ["media", "anonymize", str(src), str(tmp_path / "out.jpg"), "--no-faces", "--json"]
    code = run_guarded(cli, [*args, "--plate-text", option])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["summary"]["found"]["plates"] == plates
