"""WAV audio: find speech, mute it or replace it with a tone, keep every other sound."""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from onshore.errors import BadInput
from onshore.media.report import FileReport
from onshore.media.speech import SpeechDetector

AUDIO_SUFFIXES = {".wav"}
SpeechMode = Literal["mute", "tone"]
_FADE_S = 0.005


@dataclass(frozen=True)
class Pcm:
    """Interleaved PCM as float32 in [-1, 1], shape ``(frames, channels)``."""

    samples: np.ndarray
    rate: int
    width: int  # bytes per sample in the file

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


def read_wav(data: bytes, name: str) -> Pcm:
    """Decode a PCM WAV; a corrupt, truncated or non-PCM file raises :class:`BadInput`."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            declared = wav.getnframes()
            raw = wav.readframes(declared)
    except (wave.Error, EOFError) as exc:
        raise BadInput(f"not a readable PCM WAV: {exc}", file=name) from exc
    got = len(raw) // (channels * width)
    if got < declared:
        raise BadInput(f"truncated WAV: {got} of {declared} frames", file=name)
    if width == 1:
        ints = np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0
        scale = 128.0
    elif width == 2:
        ints = np.frombuffer(raw, "<i2").astype(np.float32)
        scale = 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float32)
        scale = float(1 << 23)
    elif width == 4:
        ints = np.frombuffer(raw, "<i4").astype(np.float32)
        scale = float(1 << 31)
    else:  # pragma: no cover - wave rejects other widths
        raise BadInput(f"unsupported sample width {width}", file=name)
    return Pcm((ints / scale).reshape(-1, channels), rate, width)


def write_wav(pcm: Pcm) -> bytes:
    x = np.clip(pcm.samples, -1.0, 1.0)
    if pcm.width == 1:
        raw = (np.round(x * 127.0) + 128).astype(np.uint8).tobytes()
    elif pcm.width == 2:
        raw = np.round(x * 32767.0).astype("<i2").tobytes()
    elif pcm.width == 3:
        v = np.round(x * ((1 << 23) - 1)).astype(np.int32).reshape(-1)
        raw = (
            np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=1).astype(np.uint8).tobytes()
        )
    else:
        raw = np.round(x.astype(np.float64) * ((1 << 31) - 1)).astype("<i4").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(pcm.samples.shape[1])
        wav.setsampwidth(pcm.width)
        wav.setframerate(pcm.rate)
        wav.writeframes(raw)
    return buf.getvalue()


def replace_segments(
    pcm: Pcm, segments: Sequence[tuple[float, float]], mode: SpeechMode = "mute"
) -> Pcm:
    """A copy with each segment silenced (``mute``) or replaced by a 1 kHz tone at -20 dBFS
    (``tone``), with 5 ms fades so that no click marks the edges."""
    out = pcm.samples.copy()
    fade = max(1, int(_FADE_S * pcm.rate))
    for start, end in segments:
        a, b = int(start * pcm.rate), min(len(out), int(np.ceil(end * pcm.rate)))
        if b <= a:
            continue
        n = b - a
        gain = np.zeros(n, dtype=np.float32)
        ramp = np.linspace(1.0, 0.0, min(fade, n), dtype=np.float32)
        gain[: len(ramp)] = ramp
        gain[n - len(ramp) :] = np.maximum(gain[n - len(ramp) :], ramp[::-1])
        segment = out[a:b] * gain[:, None]
        if mode == "tone":
            t = np.arange(n, dtype=np.float32) / pcm.rate
            segment = segment + ((1.0 - gain) * 0.1 * np.sin(2 * np.pi * 1000.0 * t))[:, None]
        out[a:b] = segment
    return Pcm(out, pcm.rate, pcm.width)


def anonymize_audio(
    src: Path, dst: Path, detector: SpeechDetector, mode: SpeechMode, report: FileReport
) -> None:
    """Mute or replace the speech in one WAV file; the VAD runs again on the output."""
    pcm = read_wav(src.read_bytes(), str(src))
    mono = pcm.samples.mean(axis=1)
    segments = detector.segments(mono, pcm.rate)
    cleaned = replace_segments(pcm, segments, mode)
    dst.write_bytes(write_wav(cleaned))
    residual = detector.segments(cleaned.samples.mean(axis=1), pcm.rate) if segments else []
    speech_s = sum(e - s for s, e in segments)
    report.found = {"speech_segments": len(segments)}
    report.masked = len(segments)
    report.residual = {"speech_segments": len(residual)}
    report.boxes = [{"start_s": round(s, 3), "end_s": round(e, 3)} for s, e in segments]
    report.residual_boxes = [{"start_s": round(s, 3), "end_s": round(e, 3)} for s, e in residual]
    report.details = {
        "duration_s": round(pcm.duration, 3),
        "rate": pcm.rate,
        "channels": int(pcm.samples.shape[1]),
        "speech_segments": len(segments),
        "speech_s": round(speech_s, 3),
        "mode": mode,
    }
