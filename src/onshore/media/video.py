"""Video (MP4 and other FFmpeg containers) through PyAV, written as MP4/H.264 (libx264).

Three stages overlap on their own threads: a decoder thread turns packets into BGR arrays,
the calling thread detects (onnxruntime spreads each inference over the cores), and an
encoder thread masks and encodes. FFmpeg and onnxruntime release the GIL, so decode, detect
and encode run at the same time on different cores.

The first audio track is kept with its speech removed, as in WAV files: it is decoded (mono
stays mono, anything else becomes stereo), the Silero VAD finds the speech, those segments are
muted or replaced by a tone, the VAD runs again on the result, and the track is written as AAC
next to the video. ``VideoSettings(audio="drop")`` writes no audio at all.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from onshore.errors import BadInput
from onshore.media.audio import Pcm, SpeechMode, replace_segments
from onshore.media.cuts import SceneCuts
from onshore.media.detectors import Detectors, count_kinds
from onshore.media.frames import mask_and_verify
from onshore.media.geometry import Detection
from onshore.media.masking import MaskSettings, apply_masks
from onshore.media.report import FileReport
from onshore.media.runtime import require
from onshore.media.speech import SpeechDetector
from onshore.media.temporal import TemporalDilation

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".avi"}
_END = object()
_MAX_BOXES = 20_000  # boxes listed in the sidecar; counts are always complete


@dataclass(frozen=True)
class VideoSettings:
    window: int = 5  # frames before and after that a detection also masks
    # The 2x face pass costs four times a native one: in video it runs only on small frames
    # (up to 640x390), where temporal dilation cannot make up for faces too small to see.
    upscale_max_pixels: int = 1_000_000
    verify_every: int = 10  # re-detect on every n-th output frame (1: all)
    # plate numbers read as text (painted 放大号, foreign plates) on every n-th frame and at
    # each scene cut, carried to the frames between by the window (at most the window apart)
    text_every: int = 3
    crf: int = 20
    preset: str = "veryfast"
    audio: Literal["clean", "drop"] = "clean"  # clean: keep the sound, speech removed


@dataclass(frozen=True)
class CleanAudio:
    """A video's first audio track, decoded, with its speech muted or replaced."""

    samples: np.ndarray  # (frames, channels) float32 in [-1, 1]
    rate: int
    layout: str  # "mono" or "stereo"
    codec_in: str
    channels_in: int
    mode: SpeechMode
    segments: list[tuple[float, float]]
    residual: list[tuple[float, float]]

    def details(self) -> dict[str, Any]:
        return {
            "codec": "aac",
            "codec_in": self.codec_in,
            "rate": self.rate,
            "channels_in": self.channels_in,
            "layout": self.layout,
            "duration_s": round(len(self.samples) / self.rate, 3),
            "speech_mode": self.mode,
            "speech_segments": len(self.segments),
            "speech_s": round(sum(e - s for s, e in self.segments), 3),
            "residual_speech_segments": len(self.residual),
            "speech": [{"start_s": round(s, 3), "end_s": round(e, 3)} for s, e in self.segments],
        }


def has_audio(src: Path) -> bool:
    """Whether ``src`` opens and has an audio track (a broken file is reported later)."""
    av = require("av")
    try:
        with av.open(str(src)) as container:
            return bool(container.streams.audio)
    except (av.FFmpegError, OSError):
        return False


def clean_audio(src: Path, speech: SpeechDetector, mode: SpeechMode) -> CleanAudio | None:
    """Decode the first audio track of ``src`` and remove its speech; None without audio."""
    av = require("av")
    with av.open(str(src)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        channels = int(ctx.layout.nb_channels) if ctx.layout is not None else 1
        layout = "mono" if channels == 1 else "stereo"
        rate = int(ctx.sample_rate or 48_000)
        width = 1 if layout == "mono" else 2
        resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
        chunks: list[np.ndarray] = []
        for frame in container.decode(stream):
            chunks.extend(f.to_ndarray().reshape(-1, width) for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray().reshape(-1, width) for f in resampler.resample(None))
        codec_in = str(ctx.name)
    samples = np.concatenate(chunks) if chunks else np.zeros((0, width), np.float32)
    segments = speech.segments(samples.mean(axis=1), rate) if len(samples) else []
    cleaned = replace_segments(Pcm(samples, rate, 2), segments, mode).samples
    residual = speech.segments(cleaned.mean(axis=1), rate) if segments else []
    return CleanAudio(
        cleaned.astype(np.float32), rate, layout, codec_in, channels, mode, segments, residual
    )


def _decode(
    container: Any, stream: Any, out: queue.Queue[Any], errors: list[BaseException]
) -> None:
    try:
        for frame in container.decode(stream):
            out.put(frame.to_ndarray(format="bgr24"))
    except BaseException as exc:  # handed to the main thread, which reports the file
        errors.append(exc)
    finally:
        out.put(_END)


def _frames(container: Any, stream: Any, errors: list[BaseException]) -> Iterator[np.ndarray]:
    q: queue.Queue[Any] = queue.Queue(maxsize=8)
    t = threading.Thread(target=_decode, args=(container, stream, q, errors), daemon=True)
    t.start()
    while (item := q.get()) is not _END:
        yield item
    t.join()


class _Encoder:
    """Masks and encodes on its own thread; counts residuals on sampled frames."""

    def __init__(
        self,
        path: Path,
        rate: Any,
        size: tuple[int, int],
        settings: VideoSettings,
        mask: MaskSettings,
        verify: Detectors | None,
        audio: CleanAudio | None = None,
    ):
        av = require("av")
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(settings.crf), "preset": settings.preset}
        self.stream.thread_type = "AUTO"
        if audio is not None:
            self._write_audio(av, audio)
        self.size = size
        self.mask = mask
        self.verify = verify
        self.every = max(1, settings.verify_every)
        self.residuals: list[tuple[int, Detection]] = []
        self.masked_on_verify = 0
        self.in_masks = 0
        self.verified = 0
        self.masked = 0
        self.errors: list[BaseException] = []
        self._q: queue.Queue[Any] = queue.Queue(maxsize=8)
        self._av = av
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _write_audio(self, av: Any, audio: CleanAudio) -> None:
        """The whole cleaned track, written before the first video packet (MP4 interleaves
        by its sample tables, not by write order)."""
        stream = self.container.add_stream("aac", rate=audio.rate, layout=audio.layout)
        step = audio.rate  # one second per frame handed to the encoder
        for start in range(0, len(audio.samples), step):
            chunk = np.ascontiguousarray(audio.samples[start : start + step]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout=audio.layout)
            frame.sample_rate, frame.pts = audio.rate, start
            for packet in stream.encode(frame):
                self.container.mux(packet)
        for packet in stream.encode(None):
            self.container.mux(packet)

    def put(self, index: int, frame: np.ndarray, dets: list[Detection]) -> None:
        if self.errors:
            raise self.errors[0]
        self._q.put((index, frame, dets))

    def _run(self) -> None:
        w, h = self.size
        try:
            while (item := self._q.get()) is not _END:
                index, frame, dets = item
                if self.verify is not None and index % self.every == 0:
                    result = mask_and_verify(frame, dets, self.verify, self.mask)
                    self.verified += 1
                    self.masked += result.masked
                    self.masked_on_verify += len(result.masked_on_verify)
                    self.in_masks += result.in_masks
                    self.residuals.extend((index, d) for d in result.residuals)
                elif dets:
                    self.masked += apply_masks(frame, dets, self.mask)
                vf = self._av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(frame[:h, :w]), format="bgr24"
                )
                for packet in self.stream.encode(vf):
                    self.container.mux(packet)
        except BaseException as exc:
            self.errors.append(exc)
            while self._q.get() is not _END:  # drain so the producer never blocks
                pass

    def close(self) -> None:
        self._q.put(_END)
        self._t.join()
        if not self.errors:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()
        if self.errors:
            raise self.errors[0]


def anonymize_video(
    src: Path,
    dst: Path,
    detectors: Detectors,
    mask: MaskSettings,
    settings: VideoSettings,
    report: FileReport,
    on_frame: Callable[[int, int], None] | None = None,
    speech: SpeechDetector | None = None,
    speech_mode: SpeechMode = "mute",
) -> None:
    """Anonymize one video into ``dst`` (MP4/H.264). With a ``speech`` detector and
    ``settings.audio == "clean"`` the first audio track is kept with its speech removed;
    otherwise no audio is written. A truncated or corrupt file raises :class:`BadInput` and
    leaves no output behind."""
    av = require("av")
    try:
        container = av.open(str(src))
    except (av.FFmpegError, OSError) as exc:
        raise BadInput(f"corrupt or unreadable video: {exc}", file=str(src)) from exc
    try:
        if not container.streams.video:
            raise BadInput("no video stream", file=str(src))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        declared = int(stream.frames or 0)
        rate = stream.average_rate or stream.guessed_rate or 25
        size = (int(stream.codec_context.width) // 2 * 2, int(stream.codec_context.height) // 2 * 2)
        if size[0] < 2 or size[1] < 2:
            raise BadInput("video has no frame size", file=str(src))
        audio = None
        if container.streams.audio and speech is not None and settings.audio == "clean":
            audio = clean_audio(src, speech, speech_mode)
        _run(
            container,
            stream,
            src,
            dst,
            detectors,
            mask,
            settings,
            report,
            rate,
            size,
            declared,
            on_frame,
            audio,
        )
        if audio is not None:
            report.found["speech_segments"] = len(audio.segments)
            report.residual["speech_segments"] = len(audio.residual)
            report.details["audio"] = audio.details()
        elif container.streams.audio:
            report.details["audio"] = (
                "dropped (--video-audio drop)" if settings.audio == "drop" else "not copied"
            )
        else:
            report.details["audio"] = "none"
    except av.FFmpegError as exc:  # translated once, here: a video FFmpeg cannot handle
        dst.unlink(missing_ok=True)
        raise BadInput(f"video could not be processed: {exc}", file=str(src)) from exc
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    finally:
        container.close()


def _run(
    container: Any,
    stream: Any,
    src: Path,
    dst: Path,
    detectors: Detectors,
    mask: MaskSettings,
    settings: VideoSettings,
    report: FileReport,
    rate: Any,
    size: tuple[int, int],
    declared: int,
    on_frame: Callable[[int, int], None] | None,
    audio: CleanAudio | None = None,
) -> None:
    av = require("av")
    started = time.perf_counter()
    encoder = _Encoder(
        dst, rate, size, settings, mask, detectors if settings.verify_every else None, audio
    )
    dilation: TemporalDilation[np.ndarray] = TemporalDilation(settings.window)
    shots = SceneCuts()
    errors: list[BaseException] = []
    found: list[tuple[int, Detection]] = []
    frames = 0
    try:
        text_every = max(1, min(settings.text_every, settings.window)) if settings.window else 1
        for frame in _frames(container, stream, errors):
            cut = shots.push(frame) if settings.window else False
            dets = detectors(frame, text=cut or frames % text_every == 0)
            found.extend((frames, d) for d in dets)
            frames += 1
            for item in dilation.push(frame, dets, cut=cut):
                encoder.put(item.index, item.payload, [*item.own, *item.carried])
            if on_frame is not None:
                on_frame(frames, declared)
        for item in dilation.flush():
            encoder.put(item.index, item.payload, [*item.own, *item.carried])
    finally:
        encoder.close()
    if errors:
        exc = errors[0]
        if isinstance(exc, av.FFmpegError):
            raise BadInput(f"corrupt video after frame {frames}: {exc}", file=str(src)) from exc
        raise exc
    if frames == 0:
        raise BadInput("no frame decodes", file=str(src))
    if declared and frames < declared * 0.98 - 1:
        raise BadInput(f"truncated video: {frames} of {declared} frames decode", file=str(src))
    elapsed = time.perf_counter() - started
    kinds = count_kinds([d for _, d in found])
    report.found = kinds
    report.masked = encoder.masked
    report.residual = count_kinds([d for _, d in encoder.residuals])
    report.boxes = [{"frame": i, **d.as_dict()} for i, d in found[:_MAX_BOXES]]
    report.residual_boxes = [{"frame": i, **d.as_dict()} for i, d in encoder.residuals[:_MAX_BOXES]]
    report.details = {
        "frames": frames,
        "width": size[0],
        "height": size[1],
        "fps_in": float(rate),
        "frames_with_detections": len({i for i, _ in found}),
        "frames_carried": dilation.frames_carried,
        "carried_masks": dilation.carried_masks,
        "dilation_window": settings.window,
        "plate_text_every": text_every,
        "scene_cuts": shots.cuts[:_MAX_BOXES],
        "frames_verified": encoder.verified,
        "masked_on_verify": encoder.masked_on_verify,
        "redetected_in_masks": encoder.in_masks,
        "verify_every": settings.verify_every,
        "codec": "h264 (libx264)",
        "boxes_listed": min(len(found), _MAX_BOXES),
        "processing_fps": round(frames / elapsed, 2) if elapsed > 0 else None,
    }
