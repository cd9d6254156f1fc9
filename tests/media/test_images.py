from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.media.scenes import BLUE, GREEN, YELLOW, iou, plate_scene

from onshore.errors import BadInput
from onshore.media.frames import anonymize_frame
from onshore.media.images import decode_image, encode_image
from onshore.media.masking import MaskSettings


def test_truncated_and_corrupt_images_are_refused() -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    jpg, png = encode_image(img, ".jpg"), encode_image(img, ".png")
    assert decode_image(jpg, "a.jpg").shape == (40, 60, 3)
    assert decode_image(png, "a.png").shape == (40, 60, 3)
    with pytest.raises(BadInput, match="truncated JPEG") as err:
        decode_image(jpg[: len(jpg) // 2], "a.jpg")
    assert err.value.file == "a.jpg"
    with pytest.raises(BadInput, match="truncated PNG"):
        decode_image(png[:-20], "a.png")
    with pytest.raises(BadInput, match="not a JPEG or PNG"):
        decode_image(b"hello", "a.jpg")


def test_a_real_face_is_found_and_masked(astronaut: np.ndarray, detectors) -> None:  # type: ignore[no-untyped-def]
    frame = astronaut.copy()
    result = anonymize_frame(frame, detectors, MaskSettings())
    faces = [d for d in result.detections if d.kind == "face"]
    assert len(faces) == 1 and faces[0].score > 0.8
    x1, y1, x2, y2 = faces[0].box
    assert 150 < x1 < 200 and 30 < y1 < 80 and 250 < x2 < 300 and 150 < y2 < 200
    assert result.masked >= 1 and result.residuals == ()
    assert not np.array_equal(frame[100:150, 200:250], astronaut[100:150, 200:250])
    assert np.array_equal(frame[400:, :100], astronaut[400:, :100])


@pytest.mark.parametrize("colours", [BLUE, YELLOW, GREEN], ids=["blue", "yellow", "green"])
def test_plates_of_each_colour_are_found(colours, detectors) -> None:  # type: ignore[no-untyped-def]
    scene, (x1, y1, x2, y2) = plate_scene(colours)
    plates = [d for d in detectors(scene) if d.kind == "plate"]
    assert len(plates) == 1
    # Overlap, not pixel edges: box edges move by several pixels between CPUs (AVX2, AVX-512,
    # NEON) and onnxruntime builds. Measured IoU 0.74-0.78 (int8 and fp32 alike, the right edge
    # ~18 px short); 0.5 is the usual detection criterion and leaves room for 20+ px more drift.
    assert iou(plates[0].box, (x1, y1, x2, y2)) >= 0.5, (plates[0].box, (x1, y1, x2, y2))
    cx, cy = (plates[0].box[0] + plates[0].box[2]) / 2, (plates[0].box[1] + plates[0].box[3]) / 2
    assert x1 < cx < x2 and y1 < cy < y2


def test_a_skewed_plate_gets_a_rotated_quadrilateral(detectors) -> None:  # type: ignore[no-untyped-def]
    scene, _ = plate_scene(BLUE, angle=12)
    plates = [d for d in detectors(scene) if d.kind == "plate"]
    assert len(plates) == 1
    (lt, rt, rb, lb) = plates[0].points
    # the top edge rises to the right (counter-clockwise rotation in image coordinates)
    assert rt[1] < lt[1] - 10 and rb[1] < lb[1] - 10


def test_an_empty_scene_has_no_detection(detectors) -> None:  # type: ignore[no-untyped-def]
    grey = np.full((360, 480, 3), 128, np.uint8)
    assert detectors(grey) == []


def test_image_file_roundtrip_keeps_format(tmp: Path, anonymizer, astronaut) -> None:  # type: ignore[no-untyped-def]
    src = tmp / "front_camera.png"
    src.write_bytes(encode_image(astronaut, ".png"))
    report = anonymizer.anonymize_file(src, tmp / "out" / "front_camera.png")
    assert report.status == "done", report.error
    out = (tmp / "out" / "front_camera.png").read_bytes()
    assert out[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.found == {"faces": 1, "plates": 0} and report.residual["faces"] == 0
    assert report.before.level == "important" and report.after.level == "personal"
