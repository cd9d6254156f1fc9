"""Plate numbers as text: enlarged numbers painted on trucks (放大号) and plates of other places.

GB 7258 makes trucks, trailers and buses carry their plate number enlarged (at least 2.5
times) on the rear or the cargo box. Painted on a body panel, those characters have no plate
outline or proportions, so the plate detector does not fire on them; a Hong Kong or European
plate has the outline but not the characters it was trained on. Both are read here as text.

PP-OCRv4 (the ONNX text detector and recognizer shipped inside the ``rapidocr-onnxruntime``
package, Apache-2.0; its own Python code is not used) finds text lines and reads them; a line
whose text reads as a plate number (:func:`plate_text`) becomes a ``plate`` detection, masked
like any plate and checked again on the masked frame. By default this runs only on frames in
which the plate detector found a plate: a truck's painted number comes with its plate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from onshore.errors import BadInput
from onshore.media.geometry import Detection
from onshore.media.runtime import ModelCard, model_file, package_version, require, session

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_DET = "models/ch_PP-OCRv4_det_infer.onnx"
_REC = "models/ch_PP-OCRv4_rec_infer.onnx"
_REC_HEIGHT = 48
# separators that OCR reads on plates: the dot of 川A·UE022, spaces, dashes, bolts
_SEPARATORS = re.compile(r"[\s·•.\-_:：,，'\"`*。・|]")
# mainland plates use neither I nor O; OCR reads the digits as these letters
_TO_DIGIT = str.maketrans({"O": "0", "I": "1"})
_CJK = "\u4e00-\u9fff"
# a province, at the start of the line or after a character that is not Chinese, and what
# follows it up to the end or to a Chinese character (港, 澳, 挂, 学, 警 close some plates)
_MAINLAND = re.compile(
    rf"(?:^|(?<=[^{_CJK}]))([{PROVINCES}])([A-Z])([A-Z0-9]{{0,6}})(?=$|[{_CJK}])"
)
MAINLAND_LENGTH = 7  # province, letter, five more (new-energy plates have six)
_HONG_KONG = re.compile(r"[A-Z]{2}[0-9]{2,4}")
_BRITISH = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z]{3}")


def painted_card() -> ModelCard:
    return ModelCard(
        name="PP-OCRv4 text detection and recognition (ch)",
        package="rapidocr-onnxruntime",
        version=package_version("rapidocr-onnxruntime"),
        licence="Apache-2.0 (rapidocr-onnxruntime package, which ships the weights)",
        file=f"rapidocr_onnxruntime/{_DET}, rapidocr_onnxruntime/{_REC}",
        origin="PaddlePaddle/PaddleOCR PP-OCRv4, converted to ONNX by RapidAI/RapidOCR",
    )


def _tail(chars: str) -> str:
    """The serial of a mainland plate: O and I are read where 0 and 1 are (plates use neither
    letter)."""
    return chars.translate(_TO_DIGIT)


def plate_text(text: str, *, foreign: bool = True) -> str | None:
    """The plate number ``text`` reads as, or None.

    Mainland: a province, a letter and 3 to 6 letters or digits (3 for a number cut off at
    the edge or hidden behind a bar), or a line of just the province and the letter (the rest
    unreadable: :class:`PaintedDetector` extends such a line). Without the province (too worn
    or cut off to read), the whole line must be a letter and 5 or 6 more with at least 3
    digits (an O counts as 0, an I does not). With ``foreign``, a whole line of 2 letters and
    2 to 4 digits (Hong Kong), of 5 to 8 letters and digits in at most three groups with at
    least 2 letters and 3 digits (Europe and elsewhere), or a British number (AB12 CDE).
    Lines without a province must be mostly in capitals (``Benicio`` is a name).

    >>> plate_text("川A·UE022")
    '川AUE022'
    >>> plate_text("川AUE0")
    '川AUE0'
    >>> plate_text("川A")
    '川A'
    >>> plate_text("四川AIRLINES") is None
    True
    >>> plate_text("AUEO225")
    'AUE0225'
    >>> plate_text("粤B D12345")
    '粤BD12345'
    >>> plate_text("SN 6497")
    'SN6497'
    >>> plate_text("AB-123-CD")
    'AB123CD'
    >>> plate_text("AB12 CDE")
    'AB12CDE'
    >>> plate_text("AB12 CDE", foreign=False) is None
    True
    >>> signs = ("美味", "2019", "TEL 8888-6666", "WELCOME", "A380", "Benicio", "16 21 E20")
    >>> [plate_text(t) for t in signs]
    [None, None, None, None, None, None, None]
    """
    # full-width Ｒ１ as R1; a 0 behind a bar read as (), an X as the multiplication sign
    text = unicodedata.normalize("NFKC", text).replace("()", "0").replace("×", "X")
    upper = text.upper().strip()
    flat = _SEPARATORS.sub("", upper)
    if not flat:
        return None
    for m in _MAINLAND.finditer(flat):
        province, letter, rest = m.groups()
        if len(rest) >= 3 or m.group(0) == flat:
            return province + letter + _tail(rest)
    if 2 * len(re.findall("[a-z]", text)) > len(re.findall("[A-Za-z]", text)):
        return None
    bare = re.fullmatch(r"([A-Z])([A-Z0-9]{5,6})", flat)
    if bare and sum(c.isdigit() or c == "O" for c in bare.group(2)) >= 3:
        return bare.group(1) + _tail(bare.group(2))
    if not foreign:
        return None
    if _HONG_KONG.fullmatch(flat):
        return flat
    groups = [g for g in re.split(r"[\s\-·•.]+", upper) if g]
    digits = sum(c.isdigit() for c in flat)
    if re.fullmatch(r"[A-Z0-9]{5,8}", flat) and len(groups) <= 3 and 3 <= digits <= len(flat) - 2:
        return flat
    if _BRITISH.fullmatch(flat):
        return flat
    return None


@dataclass(frozen=True)
class PaintedSettings:
    """``long_side``: the text detector's input at most (the frame is downscaled to it, never
    enlarged). Next to a plate found, the input is smaller still: the frame is scaled so
    that the lowest plate is ``plate_px`` high (an enlarged number, 2.5 times the plate's
    characters, and a plate of the same size stay detectable), but its long side is never
    under ``min_long_side``. ``with_plate``: run only on frames in which the plate detector
    found a plate. ``foreign``: also Hong Kong and European-style numbers."""

    long_side: int = 960
    plate_px: int = 32
    min_long_side: int = 320
    pixel_threshold: float = 0.3
    box_threshold: float = 0.5
    min_height: int = 10  # text lines lower than this (frame pixels) are not read
    min_confidence: float = 0.5  # mean probability of the recognized characters
    with_plate: bool = True
    foreign: bool = True


@dataclass(frozen=True)
class TextLine:
    quad: np.ndarray  # (4, 2) corners in frame pixels, clockwise from the top left
    text: str
    confidence: float


class PaintedDetector:
    """Callable on a BGR ``uint8`` frame and the plates already found in it."""

    kind = "plate"

    def __init__(self, settings: PaintedSettings | None = None, *, threads: int | None = None):
        self.settings = settings or PaintedSettings()
        self._cv2 = require("cv2")
        try:
            det = model_file("rapidocr_onnxruntime", "rapidocr-onnxruntime", _DET)
            rec = model_file("rapidocr_onnxruntime", "rapidocr-onnxruntime", _REC)
        except BadInput as exc:
            raise BadInput(
                f"{exc}; plate numbers read as text (enlarged numbers on trucks, other "
                "countries' plates) need it (onshore[media] installs it on Python < 3.13); "
                "--plate-text off goes without them"
            ) from None
        self._det: Any = session(det, threads)
        self._rec: Any = session(rec, threads)
        meta = self._rec.get_modelmeta().custom_metadata_map
        self._chars = ["", *meta["character"].splitlines(), " "]
        self.card = painted_card()

    def thresholds(self) -> dict[str, float | int | bool]:
        s = self.settings
        return {
            "long_side": s.long_side,
            "plate_px": s.plate_px,
            "min_long_side": s.min_long_side,
            "pixel": s.pixel_threshold,
            "box": s.box_threshold,
            "min_height": s.min_height,
            "min_confidence": s.min_confidence,
            "with_plate": s.with_plate,
            "foreign": s.foreign,
        }

    def __call__(self, frame: np.ndarray, plates: Sequence[Detection] = ()) -> list[Detection]:
        if self.settings.with_plate and not plates:
            return []
        out: list[Detection] = []
        lines = self.read(frame, self.scale(frame.shape, plates), skip=plates)
        for line in sorted(lines, key=lambda ln: -float(np.ptp(ln.quad[:, 0]))):  # widest first
            number = plate_text(line.text, foreign=self.settings.foreign)
            if number is None or line.confidence < self.settings.min_confidence:
                continue
            if _inside_any(line.quad, [*plates, *out]):
                continue  # the plate itself (masked already), or a piece of a line kept
            quad = line.quad
            if number[0] in PROVINCES and len(number) < MAINLAND_LENGTH:
                quad = _extend(quad, MAINLAND_LENGTH / len(number), frame.shape)
            out.append(Detection.from_points("plate", line.confidence, quad))
        return out

    def scale(self, shape: tuple[int, ...], plates: Sequence[Detection] = ()) -> float:
        """The text detector's input scale for a frame of ``shape`` with these plates."""
        st = self.settings
        long_side = max(shape[0], shape[1])
        scale = min(1.0, st.long_side / long_side)
        lowest = min((p.height for p in plates), default=0.0)
        if st.plate_px > 0 and lowest > 0:
            scale = min(scale, max(st.plate_px / lowest, st.min_long_side / long_side))
        return scale

    def read(
        self, frame: np.ndarray, scale: float | None = None, *, skip: Sequence[Detection] = ()
    ) -> list[TextLine]:
        """Every text line found, with what it reads (lines too small or upright skipped).

        Pieces of one line split by a bar or a hinge (painted numbers on a cargo door) are
        read joined as well; a line barely twice as wide as high is also read as two rows
        (a Hong Kong or a double-row plate), top row first. Lines whose centre lies in a
        detection of ``skip`` (the plates found) are not read.
        """
        lines = self.lines(frame, self.scale(frame.shape) if scale is None else scale)
        pieces = [
            q for q in lines if _height(q) >= self.settings.min_height and not _inside_any(q, skip)
        ]
        out = [line for line in (self._read_line(frame, q) for q in pieces) if line is not None]
        for run in _joined(pieces):
            quad = _clockwise(_box_points(np.vstack([pieces[i] for i in run])))
            whole = self._read_line(frame, quad)
            # the pieces' own readings, left to right: a bar between them can spoil the whole
            read = [line for i in run for line in out if line.quad is pieces[i]]
            joined = TextLine(
                quad, "".join(r.text for r in read), min((r.confidence for r in read), default=0)
            )
            if whole is None or (plate_text(whole.text) is None and plate_text(joined.text)):
                whole = joined
            out.append(whole)
        return out

    def _read_line(self, frame: np.ndarray, quad: np.ndarray) -> TextLine | None:
        crop = self._crop(frame, quad)
        if crop is None:
            return None
        text, confidence = self._recognize(crop)
        h, w = crop.shape[:2]
        if w < 2.5 * h and h >= 2 * self.settings.min_height:
            top = self._recognize(crop[: h // 2])
            bottom = self._recognize(crop[h // 2 :])
            both = min(top[1], bottom[1])
            if plate_text(top[0] + " " + bottom[0]) is not None and both > confidence / 2:
                text, confidence = top[0] + " " + bottom[0], both
        return TextLine(quad, text, confidence)

    def lines(self, frame: np.ndarray, scale: float) -> list[np.ndarray]:
        """Text line quadrilaterals ``(4, 2)`` in frame pixels (DB post-processing), the
        detector run on the frame resized by ``scale`` (to multiples of 32)."""
        cv2 = self._cv2
        st = self.settings
        h, w = frame.shape[:2]
        ih, iw = max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32)
        image = cv2.resize(frame, (iw, ih), interpolation=cv2.INTER_AREA)
        blob = (image[:, :, ::-1].astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        prob = self._det.run(None, {"x": np.ascontiguousarray(blob)})[0][0, 0]
        bitmap = cv2.dilate((prob > st.pixel_threshold).astype(np.uint8), np.ones((2, 2)))
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        to_frame = np.array([w / iw, h / ih])
        out = []
        for contour in contours[:1000]:
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < 3:
                continue
            pts = cv2.boxPoints(rect)
            if _mean_inside(cv2, prob, pts) < st.box_threshold:
                continue
            # unclip: push each side out by area * 1.6 / perimeter (DB's offset, as a rectangle)
            rw, rh = rect[1]
            d = rw * rh * 1.6 / (2 * (rw + rh))
            grown = cv2.boxPoints((rect[0], (rw + 2 * d, rh + 2 * d), rect[2]))
            quad = _clockwise(grown) * to_frame
            quad[:, 0] = np.clip(quad[:, 0], 0, w)
            quad[:, 1] = np.clip(quad[:, 1], 0, h)
            out.append(quad)
        return out

    def _crop(self, frame: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
        cv2 = self._cv2
        width = float(np.linalg.norm(quad[1] - quad[0]))
        height = float(np.linalg.norm(quad[3] - quad[0]))
        if width < 4 or height < 4 or height > 1.5 * width:
            return None  # upright text (shop signs written top to bottom) is not a number
        target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
        matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
        crop = cv2.warpPerspective(
            frame, matrix, (round(width), round(height)), borderMode=cv2.BORDER_REPLICATE
        )
        return np.asarray(crop)

    def _recognize(self, crop: np.ndarray) -> tuple[str, float]:
        """CTC-decoded text and the mean probability of its characters."""
        cv2 = self._cv2
        h, w = crop.shape[:2]
        rw = max(8, min(1600, round(_REC_HEIGHT * w / max(h, 1))))
        image = cv2.resize(crop, (rw, _REC_HEIGHT))
        blob = (image[:, :, ::-1].astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        probs = self._rec.run(None, {"x": np.ascontiguousarray(blob)})[0][0]
        idx = probs.argmax(axis=1)
        best = probs.max(axis=1)
        keep = np.ones(len(idx), bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        text = "".join(self._chars[i] for i in idx[keep] if i < len(self._chars))
        return text, float(best[keep].mean()) if keep.any() else 0.0


def _joined(pieces: Sequence[np.ndarray]) -> list[list[int]]:
    """Runs of two or more pieces (their indices, left to right) that continue one another
    along a horizontal line: similar height, overlapping rows, a gap under 1.2 heights."""
    boxes = sorted(
        (q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max(), i)
        for i, q in enumerate(pieces)
    )
    out = []
    used: set[int] = set()
    for a, first in enumerate(boxes):
        if first[4] in used:
            continue
        run = [first]
        for nxt in boxes[a + 1 :]:
            last = run[-1]
            h1, h2 = last[3] - last[1], nxt[3] - nxt[1]
            overlap = min(last[3], nxt[3]) - max(last[1], nxt[1])
            gap = nxt[0] - last[2]
            if (
                nxt[4] not in used
                and max(h1, h2) <= 1.5 * min(h1, h2)
                and overlap >= 0.6 * min(h1, h2)
                and -0.5 * min(h1, h2) <= gap <= 1.2 * max(h1, h2)
            ):
                run.append(nxt)
        if len(run) > 1:
            used.update(int(b[4]) for b in run)
            out.append([int(b[4]) for b in run])
    return out


def _box_points(pts: np.ndarray) -> np.ndarray:
    cv2 = require("cv2")
    return np.asarray(cv2.boxPoints(cv2.minAreaRect(pts.astype(np.float32))), dtype=np.float64)


def _extend(quad: np.ndarray, factor: float, shape: tuple[int, ...]) -> np.ndarray:
    """The line made ``factor`` times as long to the right (the characters that a short
    mainland number lacks: hidden behind a bar or cut off), kept inside the frame."""
    out = np.array(quad, dtype=np.float64)
    grow = (factor - 1.0) * (out[1] - out[0])
    out[1] += grow
    out[2] += grow
    out[:, 0] = np.clip(out[:, 0], 0, shape[1])
    out[:, 1] = np.clip(out[:, 1], 0, shape[0])
    return out


def _height(quad: np.ndarray) -> float:
    return float(np.linalg.norm(quad[3] - quad[0]))


def _clockwise(pts: np.ndarray) -> np.ndarray:
    """Corners clockwise from the top left (image coordinates)."""
    pts = np.asarray(pts, dtype=np.float64)
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]])


def _mean_inside(cv2: Any, prob: np.ndarray, pts: np.ndarray) -> float:
    """Mean of ``prob`` inside the polygon ``pts`` (DB's fast box score)."""
    h, w = prob.shape
    x1, y1 = np.clip(np.floor(pts.min(axis=0)).astype(int), 0, [w - 1, h - 1])
    x2, y2 = np.clip(np.ceil(pts.max(axis=0)).astype(int), 0, [w - 1, h - 1])
    mask = np.zeros((y2 - y1 + 1, x2 - x1 + 1), np.uint8)
    cv2.fillPoly(mask, [np.round(pts - [x1, y1]).astype(np.int32)], 1)
    return float(cv2.mean(prob[y1 : y2 + 1, x1 : x2 + 1], mask)[0])


def _inside_any(quad: np.ndarray, plates: Sequence[Detection]) -> bool:
    """True when the line's centre lies in a plate already found."""
    cx, cy = quad.mean(axis=0)
    return any(p.box[0] <= cx <= p.box[2] and p.box[1] <= cy <= p.box[3] for p in plates)
