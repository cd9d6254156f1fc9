"""Windows of a frame to run a detector on again: only where the frame changed, with context.

After masking, a frame differs from the one the detectors saw only inside the masks, and a
detector's answer differs only near them (a convolution network sees a bounded neighbourhood).
The re-check therefore runs on windows around the masks instead of the whole frame. Each
window is laid on the network input's 32-pixel grid, so the window sees the same pixels, in
the same alignment, as the whole frame would; a guard band around it gives the network its
context, and only detections centred inside the window proper (``inner``) are kept. When the
windows would cover most of the input (a crowd), the whole frame runs instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]

GRID = 32  # the coarsest stride of both image models
GUARD = 64  # input pixels of context around each window
MAX_SHARE = 0.6  # windows covering more of the input than this: run the whole frame


@dataclass(frozen=True)
class Window:
    """A part of the network input (input pixels, ``x1, y1, x2, y2``)."""

    inner: tuple[int, int, int, int]  # detections centred here are kept
    outer: tuple[int, int, int, int]  # what the network sees: inner plus the guard, on the grid


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def windows(
    regions: Sequence[Box],
    scale_x: float,
    scale_y: float,
    width: int,
    height: int,
    *,
    grid: int = GRID,
    guard: int = GUARD,
    max_share: float = MAX_SHARE,
) -> list[Window] | None:
    """Windows of a ``width`` x ``height`` network input that cover ``regions`` (frame pixels,
    mapped by ``scale_x``, ``scale_y``); ``None`` when they would cover more than
    ``max_share`` of the input. Windows whose outer parts overlap are merged."""
    out: list[Window] = []
    for x1, y1, x2, y2 in regions:
        ix1 = int(np.clip(np.floor(x1 * scale_x), 0, width))
        iy1 = int(np.clip(np.floor(y1 * scale_y), 0, height))
        ix2 = int(np.clip(np.ceil(x2 * scale_x), 0, width))
        iy2 = int(np.clip(np.ceil(y2 * scale_y), 0, height))
        if ix2 <= ix1 or iy2 <= iy1:
            continue
        out.append(
            Window((ix1, iy1, ix2, iy2), _outer((ix1, iy1, ix2, iy2), width, height, grid, guard))
        )
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                if _overlap(out[i].outer, out[j].outer):
                    a, b = out[i].inner, out[j].inner
                    inner = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    out[i] = Window(inner, _outer(inner, width, height, grid, guard))
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    area = sum((w.outer[2] - w.outer[0]) * (w.outer[3] - w.outer[1]) for w in out)
    if area > max_share * width * height:
        return None
    return out


def _outer(
    inner: tuple[int, int, int, int], width: int, height: int, grid: int, guard: int
) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = inner
    return (
        max(0, (x1 - guard) // grid * grid),
        max(0, (y1 - guard) // grid * grid),
        min(width, -(-(x2 + guard) // grid) * grid),
        min(height, -(-(y2 + guard) // grid) * grid),
    )


def centred_in(boxes: np.ndarray, inner: tuple[int, int, int, int]) -> np.ndarray:
    """Which of ``boxes`` (input pixels, ``(n, 4)``) have their centre inside ``inner``."""
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    x1, y1, x2, y2 = inner
    result: np.ndarray = (cx >= x1) & (cx < x2) & (cy >= y1) & (cy < y2)
    return result
