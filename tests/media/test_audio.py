from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from tests.media.scenes import speech, tone

from onshore.errors import BadInput
from onshore.media.audio import Pcm, read_wav, replace_segments, write_wav
from onshore.media.speech import SpeechDetector, SpeechSettings, segments_from_probabilities

RATE = 16_000


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_wav_roundtrip_at_every_width(width: int) -> None:
    x = np.stack([tone(0.1), -tone(0.1)], axis=1)
    back = read_wav(write_wav(Pcm(x, RATE, width)), "a.wav")
    assert back.rate == RATE and back.width == width and back.samples.shape == x.shape
    assert np.abs(back.samples - x).max() < 2.0 / (1 << (8 * width - 1)) + 1e-6


def test_truncated_or_foreign_wav_is_refused() -> None:
    data = write_wav(Pcm(tone(0.5)[:, None], RATE, 2))
    with pytest.raises(BadInput, match="truncated WAV"):
        read_wav(data[: len(data) // 2], "a.wav")
    with pytest.raises(BadInput, match="not a readable PCM WAV"):
        read_wav(b"RIFF\x00\x00", "a.wav")


def test_hysteresis_and_duration_rules() -> None:
    s = SpeechSettings(threshold=0.5, min_speech_ms=250, min_silence_ms=100, pad_ms=0)
    step = 512 / RATE
    probs = np.array([0.0] * 5 + [0.9] * 10 + [0.4] * 2 + [0.9] * 10 + [0.0] * 5 + [0.9] * 3)
    segs = segments_from_probabilities(probs, s, len(probs) * step)
    assert len(segs) == 1  # 0.4 stays above the off threshold; the last blip is too short
    assert segs[0] == pytest.approx((5 * step, 27 * step))


@pytest.fixture(scope="module")
def vad() -> SpeechDetector:
    return SpeechDetector()


def test_speech_is_found_and_tone_and_noise_are_not(vad: SpeechDetector) -> None:
    noise = 0.05 * np.random.default_rng(1).standard_normal(RATE * 2).astype(np.float32)
    x = np.concatenate([tone(2.0), noise, speech(), np.zeros(RATE, np.float32)])
    segs = vad.segments(x, RATE)
    assert len(segs) == 1
    start, end = segs[0]
    assert 3.9 < start < 4.2 and 6.5 < end < 6.8


def test_other_sample_rates_are_resampled_for_the_vad(vad: SpeechDetector) -> None:
    from scipy.signal import resample_poly

    x = np.concatenate([tone(1.0), speech(), tone(1.0)])
    x44 = resample_poly(x, 441, 160).astype(np.float32)
    segs = vad.segments(x44, 44_100)
    assert len(segs) == 1 and 0.9 < segs[0][0] < 1.2 and 3.5 < segs[0][1] < 3.8


def test_mute_and_tone_replace_only_the_segments() -> None:
    x = np.stack([tone(3.0)] * 2, axis=1)
    pcm = Pcm(x, RATE, 2)
    muted = replace_segments(pcm, [(1.0, 2.0)], "mute")
    assert np.abs(muted.samples[int(1.01 * RATE) : int(1.99 * RATE)]).max() == 0
    assert np.array_equal(muted.samples[: RATE - 10], x[: RATE - 10])
    assert np.array_equal(muted.samples[2 * RATE + 200 :], x[2 * RATE + 200 :])
    beeped = replace_segments(pcm, [(1.0, 2.0)], "tone")
    mid = beeped.samples[int(1.1 * RATE) : int(1.9 * RATE), 0]
    spectrum = np.abs(np.fft.rfft(mid))
    assert np.argmax(spectrum) * RATE / len(mid) == pytest.approx(1000, abs=5)


def test_audio_file_speech_is_muted_and_the_rest_kept(tmp: Path, anonymizer) -> None:  # type: ignore[no-untyped-def]
    x = np.concatenate([tone(2.0), speech(), tone(2.0)])
    src = tmp / "cabin" / "mic.wav"
    src.parent.mkdir()
    src.write_bytes(write_wav(Pcm(np.stack([x, x], axis=1), RATE, 2)))
    report = anonymizer.anonymize_file(src, tmp / "out" / "mic.wav")
    assert report.status == "done", report.error
    assert report.origin == "cabin" and report.before.level == "sensitive_personal"
    assert report.found == {"speech_segments": 1} and report.residual == {"speech_segments": 0}
    with wave.open(io.BytesIO((tmp / "out" / "mic.wav").read_bytes())) as w:
        assert w.getnchannels() == 2 and w.getframerate() == RATE
    out = read_wav((tmp / "out" / "mic.wav").read_bytes(), "mic.wav").samples[:, 0]
    assert np.abs(out[int(2.2 * RATE) : int(4.5 * RATE)]).max() == 0
    assert np.abs(out[: int(1.8 * RATE)] - x[: int(1.8 * RATE)]).max() < 1e-3
    assert np.abs(out[int(4.9 * RATE) :] - x[int(4.9 * RATE) :]).max() < 1e-3
