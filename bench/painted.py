"""Recall of the plate-text detector on drawn truck rears: numbers painted at several sizes and
angles, with and without bars in front of them, and its cost.

No system font is used: the numbers are drawn with OpenCV's built-in Hershey font, which has
no Chinese characters, so each number is a letter and five more (``AUE022``), as an enlarged
number reads when its province character is worn off or outside the frame. Each scene is a
1280x720 frame: a grey road, a coloured cargo box panel with some noise (six times the
characters' height), the number painted on it,
optionally two vertical bars (door rods) across it, and the box turned by a perspective yaw.
The plate detector is not run: a plate detection is placed under the number at the height a
GB 7258 enlarged number implies (its characters at least 2.5 times a plate's 90 mm on a 140 mm
plate: the plate is the characters' height / 1.6), which sets the detector's input scale as on
a real photo. A number counts as found when the detections cover 90 % of its box.

    .venv/bin/python bench/painted.py [--per-cell 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from onshore.media.geometry import Detection
from onshore.media.painted import PaintedDetector
from onshore.media.runtime import require

HEIGHTS = (16, 24, 32, 48, 80, 120)  # character height in frame pixels
YAWS = (0.0, 25.0, 45.0)  # degrees the box is turned away
BOX_COLOURS = ((60, 170, 60), (235, 235, 235), (40, 200, 230), (170, 90, 20))  # BGR
INKS = ((170, 80, 30), (30, 30, 200), (20, 20, 20), (250, 250, 250))


def number(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O on mainland plates
    tail = [rng.choice("0123456789") for _ in range(3)] + [
        rng.choice(letters + "0123456789") for _ in range(2)
    ]
    rng.shuffle(tail)
    return rng.choice(letters) + "".join(tail)


def scene(
    rng: random.Random, text: str, height: int, yaw: float, bars: bool
) -> tuple[np.ndarray, np.ndarray, Detection]:
    """The frame, the number's four corners and a plate detection under it."""
    cv2 = require("cv2")
    w, h = 1280, 720
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = np.linspace(70, 150, h)[:, None, None].astype(np.uint8)
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(2, height // 7)
    scale = cv2.getFontScaleFromHeight(font, height, thick)
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    tw += int(height * 0.3) * (len(text) - 1)  # painted numbers are spaced
    margin = max(4, min(2 * height, (w - 60 - tw) // 2))
    base = min(3 * th, 250) + th // 2  # the baseline: the number in the panel's middle
    panel = np.empty((2 * base - th // 2, tw + 2 * margin, 3), np.uint8)
    panel[:] = rng.choice(BOX_COLOURS)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 8, panel.shape)
    panel = np.clip(panel + noise, 0, 255).astype(np.uint8)
    ink = rng.choice(INKS)
    drawn = np.zeros(panel.shape[:2], np.uint8)
    x = margin
    for ch in text:
        for target, colour in ((panel, ink), (drawn, 255)):
            cv2.putText(target, ch, (x, base), font, scale, colour, thick, cv2.LINE_AA)
        x += cv2.getTextSize(ch, font, scale, thick)[0][0] + int(height * 0.3)
    ys, xs = np.nonzero(drawn > 127)  # the number's box: where the ink is
    box = np.array(
        [[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.max(), ys.max()], [xs.min(), ys.max()]],
        np.float64,
    )
    if bars:
        for bx in (0.33, 0.66):
            cx = int(panel.shape[1] * bx)
            cv2.rectangle(panel, (cx - thick, 0), (cx + thick, panel.shape[0]), (150, 150, 150), -1)
    ph, pw = panel.shape[:2]
    # the panel turned by ``yaw``: its far edge shortened and drawn closer
    shrink = np.cos(np.radians(yaw))
    far = 1.0 - 0.25 * np.sin(np.radians(yaw))
    ox, oy = (
        rng.randint(20, max(21, w - int(pw * shrink) - 20)),
        rng.randint(20, max(21, h - ph - 140)),
    )
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    dst = np.array(
        [
            [ox, oy],
            [ox + pw * shrink, oy + ph * (1 - far) / 2],
            [ox + pw * shrink, oy + ph * (1 + far) / 2],
            [ox, oy + ph],
        ],
        np.float32,
    )
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(panel, matrix, (w, h))
    inside = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, (w, h)) > 0
    frame[inside] = warped[inside]
    corners = cv2.perspectiveTransform(box[None].astype(np.float32), matrix)[0]
    plate_h = height / 1.6
    px, py = ox + pw * shrink / 2, min(h - plate_h - 2, oy + ph + 20)
    plate = Detection.from_box(
        "plate", 0.9, px - plate_h * 1.6, py, px + plate_h * 1.6, py + plate_h
    )
    return frame, corners.astype(np.float64), plate


def covered(shape: tuple[int, ...], corners: np.ndarray, found: list[Detection]) -> float:
    cv2 = require("cv2")
    target = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(target, np.round(corners).astype(np.int32), 1)
    mask = np.zeros(shape[:2], np.uint8)
    for d in found:
        cv2.fillConvexPoly(mask, np.round(d.points).astype(np.int32), 1)
    return float((mask & target).sum() / max(1, target.sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-cell", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="write the first scene of each cell here (PNG)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    detector = PaintedDetector()
    print("height yaw bars: found/tried")
    total = found_n = 0
    tally: dict[str, tuple[int, int]] = {}
    seconds = 0.0
    for height in HEIGHTS:
        for yaw in YAWS:
            for bars in (False, True):
                hits = 0
                for k in range(args.per_cell):
                    text = number(rng)
                    frame, corners, plate = scene(rng, text, height, yaw, bars)
                    started = time.perf_counter()
                    found = detector(frame, [plate])
                    seconds += time.perf_counter() - started
                    hits += covered(frame.shape, corners, found) >= 0.9
                    if args.save and k == 0:
                        cv2 = require("cv2")
                        name = f"{args.save}/painted_{height}_{int(yaw)}_{int(bars)}.png"
                        cv2.imwrite(name, frame)
                total += args.per_cell
                found_n += hits
                for key in (f"{height} px", "bars" if bars else "no bars", f"yaw {yaw:.0f}"):
                    done, tried = tally.get(key, (0, 0))
                    tally[key] = (done + hits, tried + args.per_cell)
                print(
                    f"{height:4d} {yaw:4.0f} {'bars' if bars else '    '}: {hits}/{args.per_cell}"
                )
    print("; ".join(f"{k}: {a}/{b}" for k, (a, b) in tally.items()))
    print(
        f"found {found_n}/{total} ({found_n / total:.0%}); "
        f"{seconds / total * 1000:.0f} ms per frame"
    )


if __name__ == "__main__":
    main()
