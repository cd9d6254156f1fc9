"""Files and folders: dispatch each file by kind, report and skip the broken ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from onshore.errors import BadInput, OnshoreError
from onshore.media.audio import AUDIO_SUFFIXES, SpeechMode, anonymize_audio
from onshore.media.classification import MediaKind, Origin, classify_media, guess_origin
from onshore.media.detectors import Detectors, DetectorSettings
from onshore.media.images import IMAGE_SUFFIXES, anonymize_image
from onshore.media.masking import MaskSettings
from onshore.media.report import SIDECAR_SUFFIX, BatchReport, FileReport
from onshore.media.speech import SpeechDetector, SpeechSettings
from onshore.media.video import VIDEO_SUFFIXES, VideoSettings, anonymize_video, has_audio
from onshore.packs import Pack, load_pack


def media_kind(path: Path) -> MediaKind | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return None


def output_path(src: Path, out: Path, kind: MediaKind) -> Path:
    """Videos are always written as MP4/H.264; images and audio keep their format."""
    return out.with_suffix(".mp4") if kind == "video" else out


@dataclass(frozen=True)
class AnonymizeSettings:
    detect: DetectorSettings = field(default_factory=DetectorSettings)
    mask: MaskSettings = field(default_factory=MaskSettings)
    video: VideoSettings = field(default_factory=VideoSettings)
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    speech_mode: SpeechMode = "mute"
    origin: Origin | None = None  # None: guessed from the path (cabin, dms, interior …)
    sidecars: bool = True
    max_residual: int = 0  # a file with more residual detections is not done (``residual``)


class MediaAnonymizer:
    """Anonymize files or folders; models load on first use and are reused for every file."""

    def __init__(
        self,
        settings: AnonymizeSettings | None = None,
        *,
        pack: Pack | None = None,
        threads: int | None = None,
    ):
        self.settings = settings or AnonymizeSettings()
        self.pack = pack or load_pack("cn-auto")
        self.threads = threads
        self._detectors: Detectors | None = None
        self._video_detectors: Detectors | None = None
        self._speech: SpeechDetector | None = None

    @property
    def detectors(self) -> Detectors:
        if self._detectors is None:
            self._detectors = Detectors(self.settings.detect, threads=self.threads)
        return self._detectors

    @property
    def video_detectors(self) -> Detectors:
        """The same detectors with the video rule for the upscaled face pass."""
        if self._video_detectors is None:
            d = self.settings.detect
            limit = min(d.face.upscale_max_pixels, self.settings.video.upscale_max_pixels)
            plate_limit = min(d.plate.upscale_max_pixels, self.settings.video.upscale_max_pixels)
            face = replace(d.face, upscale_max_pixels=limit)
            plate = replace(d.plate, upscale_max_pixels=plate_limit)
            self._video_detectors = Detectors(
                replace(d, face=face, plate=plate), threads=self.threads
            )
        return self._video_detectors

    @property
    def speech(self) -> SpeechDetector:
        if self._speech is None:
            self._speech = SpeechDetector(self.settings.speech)
        return self._speech

    def plan(self, src: Path, out: Path) -> list[tuple[Path, Path]]:
        """``(input, output)`` pairs: one file, or every media file under a folder (recursive,
        same relative layout). An output folder inside the input folder is not read back."""
        if src.is_file():
            if out.exists() and out.is_dir():
                out = out / src.name
            return [(src, out)]
        if not src.is_dir():
            raise BadInput("no such file or folder", file=str(src))
        out_res = out.resolve()
        pairs = []
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            if out_res in path.resolve().parents or path.name.endswith(SIDECAR_SUFFIX):
                continue
            if media_kind(path) is not None:
                pairs.append((path, out / path.relative_to(src)))
        return pairs

    def run(
        self,
        src: Path,
        out: Path,
        on_progress: Callable[[int, int, str], None] | None = None,
    ) -> BatchReport:
        pairs = self.plan(src, out)
        report = BatchReport()
        for n, (path, dst) in enumerate(pairs):
            if on_progress is not None:
                on_progress(n, len(pairs), path.name)
            report.files.append(self.anonymize_file(path, dst))
        if on_progress is not None:
            on_progress(len(pairs), len(pairs), "")
        return report

    @staticmethod
    def weight(path: Path) -> int:
        """Work units of a file for progress: its declared frames for a video, else 1."""
        if media_kind(path) != "video":
            return 1
        try:
            import av

            with av.open(str(path)) as c:
                return max(1, int(c.streams.video[0].frames or 1))
        except Exception:  # a broken file is reported when it is processed
            return 1

    def anonymize_file(
        self, src: Path, dst: Path, on_frame: Callable[[int, int], None] | None = None
    ) -> FileReport:
        """One file; a broken file comes back ``skipped`` with the reason, never raised.
        ``on_frame(done, declared)`` is called after each video frame (for progress bars)."""
        kind = media_kind(src)
        if kind is None:
            return FileReport(str(src), None, "unknown", "skipped", "not a supported media file")
        dst = output_path(src, dst, kind)
        origin = self.settings.origin or guess_origin(src)
        report = FileReport(str(src), str(dst), kind, origin=origin)
        started = time.perf_counter()
        try:
            if src.resolve() == dst.resolve():
                raise BadInput("the output would overwrite the input", file=str(src))
            dst.parent.mkdir(parents=True, exist_ok=True)
            if kind == "audio":
                report.detectors = [
                    {
                        "kind": "speech",
                        **self.speech.card.as_dict(),
                        "thresholds": self.speech.thresholds(),
                    }
                ]
                report.masking = {"speech": self.settings.speech_mode}
                anonymize_audio(src, dst, self.speech, self.settings.speech_mode, report)
            else:
                report.detectors = self.detectors.describe()
                report.masking = asdict(self.settings.mask)
                if kind == "image":
                    anonymize_image(src, dst, self.detectors, self.settings.mask, report)
                else:
                    report.detectors = self.video_detectors.describe()
                    cleans_audio = self.settings.video.audio == "clean" and has_audio(src)
                    if cleans_audio:
                        report.detectors.append(
                            {
                                "kind": "speech",
                                **self.speech.card.as_dict(),
                                "thresholds": self.speech.thresholds(),
                            }
                        )
                        report.masking = {
                            **report.masking,
                            "speech": self.settings.speech_mode,
                        }
                    anonymize_video(
                        src,
                        dst,
                        self.video_detectors,
                        self.settings.mask,
                        self.settings.video,
                        report,
                        on_frame,
                        speech=self.speech if cleans_audio else None,
                        speech_mode=self.settings.speech_mode,
                    )
        except (OnshoreError, OSError, MemoryError) as exc:
            dst.unlink(missing_ok=True)
            reason = exc.message if isinstance(exc, BadInput) else str(exc)
            return FileReport(
                str(src),
                None,
                kind,
                "skipped",
                reason,
                origin=origin,
                seconds=time.perf_counter() - started,
            )
        self._label(report, kind, origin)
        report.check_residual(self.settings.max_residual)
        report.seconds = time.perf_counter() - started
        if self.settings.sidecars:
            from onshore import __version__

            report.write_sidecar(__version__)
        return report

    def _label(self, report: FileReport, kind: MediaKind, origin: Origin) -> None:
        def label(counts: dict[str, int]) -> object:
            return classify_media(
                self.pack,
                path=report.input,
                origin=origin,
                kind=kind,
                faces=counts.get("faces"),
                plates=counts.get("plates"),
            )

        report.before = label(report.found)  # type: ignore[assignment]
        report.after = label(report.residual)  # type: ignore[assignment]
