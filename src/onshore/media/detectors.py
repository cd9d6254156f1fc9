"""The detector bundle that every media kind shares: faces and plates on one frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onshore.media.faces import FaceDetector, FaceSettings
from onshore.media.geometry import Detection
from onshore.media.plates import PlateDetector, PlateSettings


@dataclass(frozen=True)
class DetectorSettings:
    faces: bool = True
    plates: bool = True
    face: FaceSettings = field(default_factory=FaceSettings)
    plate: PlateSettings = field(default_factory=PlateSettings)


class Detectors:
    """Faces and plates on a BGR frame. Loading the models is the slow part: build once."""

    def __init__(self, settings: DetectorSettings | None = None, *, threads: int | None = None):
        self.settings = settings or DetectorSettings()
        self.face = (
            FaceDetector(self.settings.face, threads=threads) if self.settings.faces else None
        )
        self.plate = (
            PlateDetector(self.settings.plate, threads=threads) if self.settings.plates else None
        )

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        found: list[Detection] = []
        if self.face is not None:
            found.extend(self.face(frame))
        if self.plate is not None:
            found.extend(self.plate(frame))
        return found

    def describe(self) -> list[dict[str, Any]]:
        """Names, versions, licences and thresholds, for the audit sidecar."""
        out = []
        for det in (self.face, self.plate):
            if det is not None:
                out.append({"kind": det.kind, **det.card.as_dict(), "thresholds": det.thresholds()})
        return out


def count_kinds(detections: list[Detection]) -> dict[str, int]:
    return {
        "faces": sum(d.kind == "face" for d in detections),
        "plates": sum(d.kind == "plate" for d in detections),
    }
