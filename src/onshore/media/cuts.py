"""Scene cuts: where a video jumps to another shot, so detections are not carried across.

Each frame is reduced to a 32 x 18 thumbnail (block means of a strided sample) and compared
with the frame before by two measures: the mean absolute difference of the thumbnails (what
moved or changed, 0-1) and the L1 distance of their 16-bin histograms per channel (what the
picture is made of, 0-1). A cut is a frame where *both* are large: a pan or a passing lorry
changes the first but not the second, a tunnel entrance dims the whole picture but keeps its
layout (the thumbnails, normalized by their mean, hardly differ). Thresholds are conservative:
a missed cut only means a mask carried a few frames too far, as before; a false cut means a
frame that relied on a neighbour's detection loses it.

>>> import numpy as np
>>> cuts = SceneCuts()
>>> a = np.zeros((72, 128, 3), np.uint8); a[:36] = 200
>>> b = np.zeros((72, 128, 3), np.uint8); b[:, :64] = (40, 160, 90)
>>> [cuts.push(f) for f in (a, a, b, b)]
[False, False, True, False]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THUMB = (18, 32)  # rows, columns
BINS = 16


@dataclass(frozen=True)
class CutSettings:
    """When a frame starts a new shot: both differences at least these (0-1)."""

    min_difference: float = 0.12  # mean absolute difference of the normalized thumbnails
    min_histogram: float = 0.2  # L1 distance of the colour histograms (half the sum)


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A ``THUMB``-sized float32 image: block means of a strided sample of the frame (every
    n-th pixel, 4 x 4 samples per block; about 1 ms for 1280x720)."""
    rows, cols = THUMB
    img = frame if frame.ndim == 3 else frame[:, :, None]
    h, w = img.shape[:2]
    step = max(1, min(h // (rows * 4), w // (cols * 4)))
    sample = img[::step, ::step]
    bh, bw = max(1, sample.shape[0] // rows), max(1, sample.shape[1] // cols)
    crop = sample[: bh * rows, : bw * cols].astype(np.float32)
    if crop.shape[0] < rows or crop.shape[1] < cols:  # a frame smaller than the thumbnail
        return crop
    means: np.ndarray = crop.reshape(rows, bh, cols, bw, -1).mean(axis=(1, 3))
    return means


def histogram(thumb: np.ndarray) -> np.ndarray:
    """``BINS`` bins per channel, each channel summing to 1."""
    channels = thumb.shape[-1]
    idx = np.clip((thumb.reshape(-1, channels) * (BINS / 256.0)).astype(np.int64), 0, BINS - 1)
    idx += np.arange(channels, dtype=np.int64) * BINS
    counts = np.bincount(idx.ravel(), minlength=BINS * channels).astype(np.float64)
    shares: np.ndarray = counts.reshape(channels, BINS) / max(1, idx.shape[0])
    return shares


class SceneCuts:
    """Push frames in order; :meth:`push` says whether the frame starts a new shot."""

    def __init__(self, settings: CutSettings | None = None) -> None:
        self.settings = settings or CutSettings()
        self._thumb: np.ndarray | None = None
        self._hist: np.ndarray | None = None
        self.cuts: list[int] = []  # frame indices that start a shot (the first frame excluded)
        self._index = -1

    def push(self, frame: np.ndarray) -> bool:
        self._index += 1
        thumb = thumbnail(frame)
        hist = histogram(thumb)
        shape = (thumb / max(1.0, float(thumb.mean()))).astype(np.float32)  # brightness apart
        prev, prev_hist = self._thumb, self._hist
        self._thumb, self._hist = shape, hist
        if prev is None or prev_hist is None or prev.shape != shape.shape:
            return False
        diff = float(np.abs(shape - prev).mean()) / 2.0  # normalized values: ~0-2
        hist_distance = float(np.abs(hist - prev_hist).sum(axis=1).mean()) / 2.0
        cut = diff >= self.settings.min_difference and hist_distance >= self.settings.min_histogram
        if cut:
            self.cuts.append(self._index)
        return cut
