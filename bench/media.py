"""Onshore against the ``deface`` CLI on the same video: frames per second and face recall.

The video is built from the real photos in ``../shared/data/real`` (WIDER FACE street and
parade scenes with face boxes, CCPD parking photos with plate corners): each photo is
letterboxed into 1280x720 and held for ``--hold`` frames while it pans slowly, so every
frame has ground truth. Both tools run with their defaults except that both fill masks
solid (deface ``--replacewith solid``, Onshore ``--mode solid``), so that the output itself
shows what was masked: a face counts as masked when at least half of its box is black in
the output and was not black in the input. Recall is over faces at least 24 px tall.

    .venv/bin/python bench/media.py [--photos 12] [--plates 4] [--hold 10] [--repeat 2]
                                    [--precision auto|int8|fp32]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from onshore.media.evaluation import parse_ccpd_name, parse_wider  # noqa: E402

REAL = (REPO / ".." / "shared" / "data" / "real").resolve()
W, H = 1280, 720
PAN = 2  # pixels per frame


def _letterbox(img: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    h, w = img.shape[:2]
    s = min((W - PAN * 40) / w, H / h)
    small = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return small, s, (W - small.shape[1]) // 2 - PAN * 20, (H - small.shape[0]) // 2


def build_video(path: Path, photos: int, plates: int, hold: int) -> list[dict]:
    """Write the test video; return per frame the face boxes and plate corners in pixels."""
    wider = REAL / "faces_widerface_val"
    truth = parse_wider((wider / "wider_face_val_bbx_gt_subset.txt").read_text())
    names = sorted(truth)[:: max(1, len(truth) // photos)][:photos]
    items = [(wider / "images" / n, [f.box for f in truth[n] if not f.invalid], []) for n in names]
    ccpd = sorted((REAL / "ccpd_samples" / "images").glob("*.jpg"))[:plates]
    items += [(p, [], [parse_ccpd_name(p.name).corners]) for p in ccpd]
    frames_truth = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "18"}
        for img_path, faces, corners in items:
            small, s, x0, y0 = _letterbox(cv2.imread(str(img_path)))
            for k in range(hold):
                dx = x0 + PAN * k
                canvas = np.full((H, W, 3), 96, np.uint8)
                canvas[y0 : y0 + small.shape[0], max(0, dx) : dx + small.shape[1]] = small[
                    :, max(0, -dx) : W - dx
                ]
                frames_truth.append(
                    {
                        "faces": [
                            (b[0] * s + dx, b[1] * s + y0, b[2] * s + dx, b[3] * s + y0)
                            for b in faces
                        ],
                        "plates": [c * s + [dx, y0] for c in corners],
                    }
                )
                for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="bgr24")):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return frames_truth


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def recall(src: Path, out: Path, truth: list[dict], min_height: int = 24) -> dict[str, float]:
    """Share of ground-truth faces (and plates) that are solid-masked in the output."""
    before, after = _frames(src), _frames(out)
    n = min(len(before), len(after))
    faces = faces_hit = plates = plates_hit = 0
    for i in range(n):
        black = (after[i].max(axis=2) < 24) & (before[i].max(axis=2) >= 24)
        for x1, y1, x2, y2 in truth[i]["faces"]:
            if y2 - y1 < min_height:
                continue
            box = black[int(y1) : int(y2), int(x1) : int(x2)]
            orig = (before[i].max(axis=2) >= 24)[int(y1) : int(y2), int(x1) : int(x2)]
            faces += 1
            faces_hit += bool(orig.sum()) and box.sum() >= 0.5 * orig.sum()
        for corners in truth[i]["plates"]:
            quad = np.zeros(black.shape, np.uint8)
            cv2.fillConvexPoly(quad, np.round(corners).astype(np.int32), 1)
            inside = quad.astype(bool) & (before[i].max(axis=2) >= 24)
            plates += 1
            plates_hit += inside.any() and black[inside].mean() >= 0.9
    return {
        "frames_compared": n,
        "face_instances": faces,
        "face_recall": faces_hit / faces if faces else float("nan"),
        "plate_instances": plates,
        "plate_recall": plates_hit / plates if plates else float("nan"),
    }


def run_timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--photos", type=int, default=12, help="WIDER photos in the video")
    ap.add_argument("--plates", type=int, default=4, help="CCPD photos in the video")
    ap.add_argument("--hold", type=int, default=10, help="frames per photo")
    ap.add_argument(
        "--repeat", type=int, default=2, help="runs of each tool, alternating; the best counts"
    )
    ap.add_argument(
        "--precision",
        choices=["auto", "int8", "fp32"],
        default="auto",
        help="Onshore's face model (auto: int8 on CPUs with VNNI or dotprod)",
    )
    args = ap.parse_args()
    if not REAL.is_dir():
        raise SystemExit(f"real data not found at {REAL}")
    deface = shutil.which("deface") or str(Path(sys.executable).with_name("deface"))
    onshore = shutil.which("onshore") or str(Path(sys.executable).with_name("onshore"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "street.mp4"
        truth = build_video(src, args.photos, args.plates, args.hold)
        frames = len(truth)
        print(
            f"video: {frames} frames {W}x{H} from {args.photos} WIDER + {args.plates} CCPD photos"
        )

        on_cmd = [onshore, "media", "anonymize", str(src), str(tmp / "onshore.mp4")]
        on_cmd += ["--mode", "solid", "--json", "--precision", args.precision]
        df_cmd = [deface, str(src), "-o", str(tmp / "deface.mp4"), "--replacewith", "solid"]
        load_before = os.getloadavg()[0]
        times_on, times_df = [], []
        for _ in range(max(1, args.repeat)):  # alternate, so both see the same machine load
            t, stdout = run_timed(on_cmd)
            times_on.append(t)
            times_df.append(run_timed(df_cmd)[0])
        report = json.loads(stdout)["files"][0]
        t_on, t_df = min(times_on), min(times_df)
        print(
            f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
            f"({os.cpu_count()} CPUs); seconds onshore {[round(t, 1) for t in times_on]}, "
            f"deface {[round(t, 1) for t in times_df]}"
        )
        r_on = recall(src, tmp / "onshore.mp4", truth)
        r_df = recall(src, tmp / "deface.mp4", truth)

    fps_on, fps_df = frames / t_on, frames / t_df
    print(f"{'':10} {'fps':>7} {'face recall':>12} {'plate recall':>13}")
    print(f"{'onshore':10} {fps_on:7.2f} {r_on['face_recall']:12.3f} {r_on['plate_recall']:13.3f}")
    print(f"{'deface':10} {fps_df:7.2f} {r_df['face_recall']:12.3f} {r_df['plate_recall']:13.3f}")
    print(f"ratio onshore/deface fps: {fps_on / fps_df:.2f}x  (wall clock, model loading included)")
    d = report["details"]
    face = next(x for x in report["detectors"] if x["kind"] == "face")
    print(f"onshore face model: {face['name']} ({face['package']} {face['version']})")
    print(
        f"onshore: {report['found']['faces']} faces and {report['found']['plates']} plates found, "
        f"{d['frames_carried']} of {d['frames']} frames relied on temporal dilation "
        f"(window {d['dilation_window']}), {d['frames_verified']} frames re-checked, "
        f"residual {report['residual']}, pipeline {d['processing_fps']} fps"
    )
    print(
        f"face instances compared: {r_on['face_instances']}, "
        f"plate instances: {r_on['plate_instances']}"
    )


if __name__ == "__main__":
    main()
