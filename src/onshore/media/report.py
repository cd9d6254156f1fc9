"""What one anonymized file proves: the audit sidecar and the batch summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onshore.media.classification import MediaLabel

SIDECAR_SUFFIX = ".anonymize.json"


def sidecar_path(out: Path) -> Path:
    """Where a file's audit sidecar goes: beside the output (``clip.mp4.anonymize.json``)."""
    return out.with_name(out.name + SIDECAR_SUFFIX)


@dataclass
class FileReport:
    """The outcome for one input file. ``status``: ``done``; ``residual`` (written, but the
    detectors still find more faces, plates or speech in the output than allowed: not done,
    ``error`` says what is left); or ``skipped`` (nothing written, ``error`` says why)."""

    input: str
    output: str | None
    kind: str
    status: str = "done"
    error: str | None = None
    origin: str | None = None
    detectors: list[dict[str, Any]] = field(default_factory=list)
    masking: dict[str, Any] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    masked: int = 0
    residual: dict[str, int] = field(default_factory=dict)
    boxes: list[dict[str, Any]] = field(default_factory=list)
    residual_boxes: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    before: MediaLabel | None = None
    after: MediaLabel | None = None
    seconds: float = 0.0

    @property
    def residual_total(self) -> int:
        """Faces, plates and speech segments still found in the output."""
        return sum(int(v) for v in self.residual.values())

    def check_residual(self, max_residual: int) -> None:
        """Mark a written file ``residual`` (not done) when more than ``max_residual`` faces,
        plates or speech segments are still found in it."""
        if self.status != "done" or self.residual_total <= max_residual:
            return
        left = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in self.residual.items() if v)
        self.status = "residual"
        self.error = (
            f"still found after masking: {left} (more than --max-residual {max_residual}); "
            "the output is not anonymized"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "origin": self.origin,
            "detectors": self.detectors,
            "masking": self.masking,
            "found": self.found,
            "masked": self.masked,
            "residual": self.residual,
            "details": self.details,
            "classification": {
                "before": self.before.as_dict() if self.before else None,
                "after": self.after.as_dict() if self.after else None,
            },
            "seconds": round(self.seconds, 3),
            "boxes": self.boxes,
            "residual_boxes": self.residual_boxes,
        }

    def write_sidecar(self, tool_version: str) -> Path | None:
        if self.output is None:
            return None
        path = sidecar_path(Path(self.output))
        payload = {"tool": {"name": "onshore", "version": tool_version}, **self.as_dict()}
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return path


@dataclass
class BatchReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def skipped(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "skipped"]

    @property
    def with_residuals(self) -> list[FileReport]:
        """Files written with more residuals than allowed: not done."""
        return [f for f in self.files if f.status == "residual"]

    def summary(self) -> dict[str, Any]:
        done = [f for f in self.files if f.status in ("done", "residual")]  # processed

        def total(attr: str, key: str) -> int:
            return sum(int(getattr(f, attr).get(key, 0)) for f in done)

        return {
            "files": len(self.files),
            "done": sum(1 for f in self.files if f.status == "done"),
            "residual_files": len(self.with_residuals),
            "skipped": len(self.skipped),
            "found": {"faces": total("found", "faces"), "plates": total("found", "plates")},
            "masked": sum(f.masked for f in done),
            "residual": {
                "faces": total("residual", "faces"),
                "plates": total("residual", "plates"),
                "speech_segments": total("residual", "speech_segments"),
            },
            "speech_segments": sum(int(f.details.get("speech_segments", 0)) for f in done),
            "frames_carried": sum(int(f.details.get("frames_carried", 0)) for f in done),
        }

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "files": [f.as_dict() for f in self.files]}
