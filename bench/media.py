"""Onshore against ``deface`` on real photos and on video, and Onshore's detector passes.

``--kind photos`` (and ``both``, the default): the ``onshore media anonymize`` and ``deface``
CLIs on the same folder of real photos (50 WIDER FACE, 27 CCPD, from ``../shared/data/real``),
model loading included, ``--repeat`` alternating runs (the best counts), and the recall of each
from its own output. Both fill masks solid (deface ``--replacewith solid``, Onshore ``--mode
solid``), so the output shows what was masked: a WIDER face at least 24 px tall counts when half
of its box is black in the output and was not in the input, a CCPD plate when 90 % of its
quadrilateral is.

``--kind video`` (and ``both``): the two CLIs on a video, frames per second and recall, and the
time of each pass on the video's frames. The video is built from the real photos: each photo
is letterboxed into 1280x720 and held for ``--hold`` frames while it pans slowly, so every
frame has ground truth; masks are solid and counted as above.

``--kind passes``: every detector pass of Onshore on its own on the real photos (the face pass
at native size and 2x, the plate pass at native size and 2x), timed per image, interleaved so
all see the same load, with the recall of each combination (detection only); then the whole
pipeline (detect, mask, re-check) per image with the defaults and with the candidates.

    .venv/bin/python bench/media.py [--kind photos|video|both|passes] [--photos 12]
                                    [--plates 4] [--hold 10] [--repeat 2]
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
from typing import Any

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


def _real_photos() -> list[tuple[str, np.ndarray, list, list]]:
    """``(name, image, WIDER faces, CCPD plates)`` for every real photo with ground truth."""
    wider = REAL / "faces_widerface_val"
    truth = parse_wider((wider / "wider_face_val_bbx_gt_subset.txt").read_text())
    out = [(n, cv2.imread(str(wider / "images" / n)), faces, []) for n, faces in truth.items()]
    for path in sorted((REAL / "ccpd_samples" / "images").glob("*.jpg")):
        out.append((path.name, cv2.imread(str(path)), [], [parse_ccpd_name(path.name)]))
    return out


def _passes(face: Any, plate: Any, image: np.ndarray) -> dict[str, tuple[float, tuple]]:
    """Each detector pass on its own: name → (seconds, raw output)."""
    from onshore.media.faces import input_scales
    from onshore.media.plates import plate_scale

    h, w = image.shape[:2]
    out: dict[str, tuple[float, tuple]] = {}
    for k, (scale, threshold) in enumerate(input_scales(h, w, face.settings)):
        started = time.perf_counter()
        result = face._run(image, scale, threshold)
        out["face 1x" if k == 0 else f"face {scale:g}x"] = (time.perf_counter() - started, result)
    st = plate.settings
    scales = [plate_scale(h, w, max_long_side=st.max_long_side)]
    if st.upscale > 1.0 and h * w * st.upscale**2 <= st.upscale_max_pixels:
        scales.append(st.upscale)
    for k, scale in enumerate(scales):
        started = time.perf_counter()
        result = plate._run(image, scale)
        out["plate 1x" if k == 0 else f"plate {scale:g}x"] = (time.perf_counter() - started, result)
    return out


def _combine(runs: dict[str, tuple[float, tuple]], names: list[str]) -> list:
    """The detections a detector returns when it runs the passes ``names`` (as in its call)."""
    from onshore.media.geometry import Detection, nms
    from onshore.media.plates import _plausible_quad

    dets = []
    faces = [runs[n][1] for n in names if n.startswith("face") and n in runs]
    if faces:
        boxes = np.vstack([b for b, _ in faces])
        scores = np.concatenate([sc for _, sc in faces])
        for i in nms(boxes, scores, 0.3):
            dets.append(Detection.from_box("face", float(scores[i]), *boxes[i]))
    plates = [runs[n][1] for n in names if n.startswith("plate") and n in runs]
    if plates:
        boxes = np.vstack([r[0] for r in plates])
        corners = np.vstack([r[1] for r in plates])
        scores = np.concatenate([r[2] for r in plates])
        for i in nms(boxes, scores, 0.4):
            quad = _plausible_quad(corners[i], boxes[i])
            dets.append(Detection.from_points("plate", float(scores[i]), quad))
    return dets


def photo_passes(precision: str) -> None:
    """Per-pass time and recall on the real photos, then the pipeline per setting."""
    from dataclasses import replace

    from onshore.media.detectors import Detectors, DetectorSettings
    from onshore.media.evaluation import Score, score_faces, score_plates
    from onshore.media.faces import FaceDetector, FaceSettings
    from onshore.media.frames import anonymize_frame
    from onshore.media.masking import MaskSettings
    from onshore.media.plates import PlateDetector, PlateSettings

    photos = _real_photos()
    mask = MaskSettings()
    face = FaceDetector(FaceSettings(precision=precision))
    plate = PlateDetector(PlateSettings())
    seconds: dict[str, float] = {}
    images: dict[str, int] = {}
    per_image = []
    load = os.getloadavg()[0]
    for name, image, faces, plates in photos:
        runs = _passes(face, plate, image)
        for k, (t, _) in runs.items():
            seconds[k] = seconds.get(k, 0.0) + t
            images[k] = images.get(k, 0) + 1
        per_image.append((name, image.shape[:2], faces, plates, runs))
    print(
        f"photos: {sum(1 for p in photos if p[2])} WIDER + {sum(1 for p in photos if p[3])} CCPD; "
        f"face model {face.precision}; load average {load:.1f} ({os.cpu_count()} CPUs, shared)"
    )
    print(f"{'pass':10} {'images':>7} {'seconds':>8}")
    for k in sorted(seconds):
        print(f"{k:10} {images[k]:7d} {seconds[k]:8.2f}")
    combos = {
        "face 1x": ["face 1x"],
        "face 1x+2x": ["face 1x", "face 2x"],
        "plate 1x": ["plate 1x"],
        "plate 1x+2x": ["plate 1x", "plate 2x"],
    }
    print(f"{'passes':12} {'face recall':>12} {'plate recall':>13} {'masks':>6} {'false':>6}")
    for label, names in combos.items():
        fs, ps = Score(), Score()
        for name, shape, faces, plates, runs in per_image:
            dets = _combine(runs, names)
            if faces:
                score_faces(fs, name, shape, faces, dets, mask)
            if plates:
                score_plates(ps, name, shape, plates, dets, mask)
        kind = fs if label.startswith("face") else ps
        print(
            f"{label:12} {fs.recall if fs.eligible else float('nan'):12.3f} "
            f"{ps.recall if ps.eligible else float('nan'):13.3f} {kind.masks:6d} "
            f"{kind.false_masks:6d}"
        )
    no_up = DetectorSettings(
        face=FaceSettings(precision=precision, upscale=1.0), plate=PlateSettings(upscale=1.0)
    )
    settings = {
        "defaults": DetectorSettings(face=FaceSettings(precision=precision)),
        "no 2x passes": no_up,
        "no 2x face pass": replace(no_up, plate=PlateSettings()),
    }
    bundles = {k: Detectors(v) for k, v in settings.items()}
    totals = {k: 0.0 for k in settings}
    scores = {k: (Score(), Score()) for k in settings}
    residual_files = {k: 0 for k in settings}
    for name, image, faces, plates in photos:
        for k, det in bundles.items():  # interleaved: every setting sees the same load
            frame = image.copy()
            started = time.perf_counter()
            result = anonymize_frame(frame, det, mask)
            totals[k] += time.perf_counter() - started
            masks = [*result.detections, *result.masked_on_verify]
            if faces:
                score_faces(scores[k][0], name, image.shape[:2], faces, masks, mask)
            if plates:
                score_plates(scores[k][1], name, image.shape[:2], plates, masks, mask)
            residual_files[k] += bool(result.residuals)
    print("pipeline (detect, mask, re-check), per setting, same images interleaved:")
    print(f"{'setting':16} {'seconds':>8} {'face recall':>12} {'plate recall':>13} {'residual':>9}")
    for k in settings:
        f, p = scores[k]
        print(
            f"{k:16} {totals[k]:8.2f} {f.recall:12.3f} {p.recall:13.3f} "
            f"{residual_files[k]:6d} files"
        )


def video_passes(src: Path, precision: str, every: int = 1) -> None:
    """The time of each detector pass on the bench video's frames (1280x720)."""
    from onshore.media.faces import FaceDetector, FaceSettings
    from onshore.media.plates import PlateDetector, PlateSettings
    from onshore.media.video import VideoSettings

    limit = VideoSettings().upscale_max_pixels  # the video rule for the 2x passes
    face = FaceDetector(FaceSettings(precision=precision, upscale_max_pixels=limit))
    plate = PlateDetector(PlateSettings(upscale_max_pixels=limit))
    seconds: dict[str, float] = {}
    frames = _frames(src)[::every]
    for frame in frames:
        for k, (t, _) in _passes(face, plate, frame).items():
            seconds[k] = seconds.get(k, 0.0) + t
    print(f"video passes over {len(frames)} frames (2x passes only on frames under {limit:,} px):")
    for k in sorted(seconds):
        print(f"  {k:10} {seconds[k]:7.2f} s  {len(frames) / seconds[k]:6.1f} fps")


def run_timed(cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"{cmd[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def photo_recall(pairs: list[tuple[np.ndarray, np.ndarray, list, list]]) -> dict[str, float]:
    """Solid masks in the output photos against the ground truth: a WIDER face at least 24 px
    tall (not marked invalid) counts when half of its box is black in the output and was not
    in the input; a CCPD plate when 90 % of its quadrilateral is."""
    faces = faces_hit = plates = plates_hit = 0
    for before, after, truth_faces, truth_plates in pairs:
        lit = before.max(axis=2) >= 24
        black = (after.max(axis=2) < 24) & lit
        for f in truth_faces:
            if f.invalid or f.h < 24 or f.w <= 0:
                continue
            x1, y1, x2, y2 = (int(v) for v in f.box)
            orig = lit[max(0, y1) : y2, max(0, x1) : x2]
            faces += 1
            faces_hit += bool(orig.sum()) and black[max(0, y1) : y2, max(0, x1) : x2].sum() >= (
                0.5 * orig.sum()
            )
        for plate in truth_plates:
            quad = np.zeros(black.shape, np.uint8)
            cv2.fillConvexPoly(quad, np.round(plate.corners).astype(np.int32), 1)
            inside = quad.astype(bool) & lit
            plates += 1
            plates_hit += inside.any() and black[inside].mean() >= 0.9
    return {
        "faces": faces,
        "face_recall": faces_hit / faces if faces else float("nan"),
        "plates": plates,
        "plate_recall": plates_hit / plates if plates else float("nan"),
    }


def photos_against_deface(onshore: str, deface: str, precision: str, repeat: int) -> None:
    """Both CLIs on the same folder of real photos (model loading included), alternating;
    seconds, the ratio, and the recall of each from its own output (solid masks)."""
    photos = _real_photos()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src, df_dir = tmp / "in", tmp / "deface"
        src.mkdir()
        df_dir.mkdir()
        for name, _, faces, _ in photos:
            folder = "faces_widerface_val" if faces else "ccpd_samples"
            shutil.copy(REAL / folder / "images" / name, src / Path(name).name)
            shutil.copy(REAL / folder / "images" / name, df_dir / Path(name).name)
        on_cmd = [onshore, "media", "anonymize", str(src), str(tmp / "onshore"), "--mode", "solid"]
        on_cmd += ["--json", "--precision", precision]
        df_cmd = [deface, str(df_dir), "--replacewith", "solid"]
        load_before = os.getloadavg()[0]
        times_on, times_df = [], []
        stdout = ""
        for _ in range(max(1, repeat)):  # alternate, so both see the same machine load
            shutil.rmtree(tmp / "onshore", ignore_errors=True)
            for old in df_dir.glob("*_anonymized*"):
                old.unlink()
            t, stdout = run_timed(on_cmd, ok=(0, 4))  # 4: some photos kept residuals
            times_on.append(t)
            times_df.append(run_timed(df_cmd)[0])
        report = json.loads(stdout)
        out_on, out_df = [], []
        for name, _, faces, plates in photos:
            stem = Path(name).name
            before = cv2.imread(str(src / stem))
            after_on = cv2.imread(str(tmp / "onshore" / stem))
            after_df = cv2.imread(str(df_dir / stem.replace(".jpg", "_anonymized.jpg")))
            out_on.append((before, after_on, faces, plates))
            out_df.append((before, after_df, faces, plates))
        r_on, r_df = photo_recall(out_on), photo_recall(out_df)
    t_on, t_df = min(times_on), min(times_df)
    files = report["files"]
    face = next(x for x in files[0]["detectors"] if x["kind"] == "face")
    print(
        f"photos: {len(photos)} real photos ({sum(1 for p in photos if p[2])} WIDER, "
        f"{sum(1 for p in photos if p[3])} CCPD), both CLIs on the same folder, model loading "
        f"included; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        f"({os.cpu_count()} CPUs); seconds onshore {[round(t, 1) for t in times_on]}, "
        f"deface {[round(t, 1) for t in times_df]}"
    )
    print(f"{'':10} {'seconds':>8} {'face recall':>12} {'plate recall':>13}")
    print(f"{'onshore':10} {t_on:8.1f} {r_on['face_recall']:12.3f} {r_on['plate_recall']:13.3f}")
    print(f"{'deface':10} {t_df:8.1f} {r_df['face_recall']:12.3f} {r_df['plate_recall']:13.3f}")
    print(f"ratio onshore/deface speed on photos: {t_df / t_on:.2f}x (best of {len(times_on)})")
    print(
        f"onshore face model: {face['name']}; faces {r_on['faces']}, plates {r_on['plates']}; "
        f"{report['summary']['residual_files']} photos kept a residual (exit status 4), "
        f"{sum(f['details']['masked_on_verify'] for f in files)} masks added by the re-check"
    )


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
    ap.add_argument(
        "--kind",
        choices=["photos", "passes", "video", "both"],
        default="both",
        help="photos: the CLI against deface on the real photos; passes: each detector pass "
        "timed with its recall; video: the CLI against deface on a video; both: photos, video",
    )
    args = ap.parse_args()
    if not REAL.is_dir():
        raise SystemExit(f"real data not found at {REAL}")
    deface = shutil.which("deface") or str(Path(sys.executable).with_name("deface"))
    onshore = shutil.which("onshore") or str(Path(sys.executable).with_name("onshore"))
    if args.kind == "passes":
        photo_passes(args.precision)
        return
    if args.kind in ("photos", "both"):
        photos_against_deface(onshore, deface, args.precision, args.repeat)
    if args.kind == "photos":
        return
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
            t, stdout = run_timed(on_cmd, ok=(0, 4))  # 4: residuals (reported below)
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
        video_passes(src, args.precision)

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
