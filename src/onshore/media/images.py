"""Still images (JPEG, PNG): decode with integrity checks, anonymize, encode in the same format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from onshore.errors import BadInput
from onshore.media.detectors import Detectors, count_kinds
from onshore.media.frames import anonymize_frame
from onshore.media.masking import MaskSettings
from onshore.media.report import FileReport
from onshore.media.runtime import require

IMAGE_SUFFIXES = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}


def decode_image(data: bytes, name: str) -> np.ndarray:
    """A BGR ``uint8`` image; a truncated or corrupt file raises :class:`BadInput`.

    OpenCV decodes a truncated JPEG silently (grey bottom rows), so the container's end marker
    is checked first: JPEG must end with EOI (FF D9), PNG must hold its IEND chunk.
    """
    cv2 = require("cv2")
    fmt = IMAGE_SUFFIXES.get(Path(name).suffix.lower())
    if data[:3] == b"\xff\xd8\xff":
        if fmt == "png":
            fmt = "jpeg"
        if b"\xff\xd9" not in data[-64:]:
            raise BadInput("truncated JPEG (no end-of-image marker)", file=name)
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        if b"IEND" not in data[-32:]:
            raise BadInput("truncated PNG (no IEND chunk)", file=name)
    else:
        raise BadInput("not a JPEG or PNG image", file=name)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput("corrupt image: it does not decode", file=name)
    return np.ascontiguousarray(image)


def encode_image(image: np.ndarray, suffix: str, *, quality: int = 92) -> bytes:
    cv2 = require("cv2")
    fmt = IMAGE_SUFFIXES.get(suffix.lower(), "png")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "jpeg" else []
    ok, buf = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", image, params)
    if not ok:  # pragma: no cover - OpenCV failure
        raise BadInput(f"could not encode {fmt}")
    return bytes(buf)


def anonymize_image(
    src: Path, dst: Path, detectors: Detectors, mask: MaskSettings, report: FileReport
) -> None:
    """Anonymize one image file into ``dst``; fills ``report`` (counts, boxes, residuals)."""
    image = decode_image(src.read_bytes(), str(src))
    result = anonymize_frame(image, detectors, mask)
    dst.write_bytes(encode_image(image, dst.suffix))
    report.found = count_kinds(list(result.detections))
    report.masked = result.masked
    report.residual = count_kinds(list(result.residuals))
    report.boxes = [d.as_dict() for d in (*result.detections, *result.masked_on_verify)]
    report.residual_boxes = [d.as_dict() for d in result.residuals]
    report.details = {
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "masked_on_verify": len(result.masked_on_verify),
        "redetected_in_masks": result.in_masks,
    }
