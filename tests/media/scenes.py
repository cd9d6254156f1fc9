"""Scenes for the media tests: a drawn licence plate, a tone, a short speech recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"

BLUE = ((160, 60, 0), (255, 255, 255))  # BGR: blue plate, white characters
YELLOW = ((0, 200, 230), (0, 0, 0))
GREEN = ((120, 220, 120), (0, 0, 0))


def plate_scene(
    colours: tuple[tuple[int, int, int], tuple[int, int, int]] = BLUE,
    *,
    size: tuple[int, int] = (640, 480),
    plate: tuple[int, int] = (180, 56),
    angle: float = 0.0,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A grey gradient with a dark bumper and a plate; returns the BGR image and plate box."""
    import cv2

    w, h = size
    pw, ph = plate
    bg, fg = colours
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = np.linspace(60, 140, w)[None, :, None].astype(np.uint8)
    x, y = w // 2 - pw // 2, int(h * 0.69)
    cv2.rectangle(canvas, (x - 20, y - 60), (x + pw + 20, y + ph + 30), (40, 40, 40), -1)
    cv2.rectangle(canvas, (x, y), (x + pw, y + ph), bg, -1)
    cv2.rectangle(canvas, (x + 3, y + 3), (x + pw - 3, y + ph - 3), fg, 2)
    cv2.putText(
        canvas, "A 12345", (x + 10, y + int(ph * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, ph / 48, fg, 3
    )
    if angle:
        m = cv2.getRotationMatrix2D((x + pw / 2, y + ph / 2), angle, 1.0)
        canvas = cv2.warpAffine(canvas, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return canvas, (x, y, x + pw, y + ph)


def speech(rate_check: int = 16_000) -> np.ndarray:
    """2.6 s of Mandarin speech (synthetic, eSpeak NG; see data/README.md), mono float32."""
    from onshore.media.audio import read_wav

    pcm = read_wav((DATA / "speech_zh.wav").read_bytes(), "speech_zh.wav")
    assert pcm.rate == rate_check
    return pcm.samples[:, 0].copy()


def tone(seconds: float, freq: float = 300.0, rate: int = 16_000, amp: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def iou(a: tuple[float, ...] | np.ndarray, b: tuple[float, ...] | np.ndarray) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
