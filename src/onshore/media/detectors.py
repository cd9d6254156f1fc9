"""The detector bundle that every media kind shares: faces and plates on one frame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onshore.media.faces import FaceDetector, FaceSettings
from onshore.media.geometry import Detection
from onshore.media.painted import PaintedDetector, PaintedSettings
from onshore.media.plates import PlateDetector, PlateSettings
from onshore.media.regions import Box


@dataclass(frozen=True)
class DetectorSettings:
    faces: bool = True
    plates: bool = True
    painted: bool = True  # plate numbers read as text: 放大号 on trucks, other countries' plates
    face: FaceSettings = field(default_factory=FaceSettings)
    plate: PlateSettings = field(default_factory=PlateSettings)
    text: PaintedSettings = field(default_factory=PaintedSettings)


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
        self.painted = (
            PaintedDetector(self.settings.text, threads=threads)
            if self.settings.painted and self.settings.plates
            else None
        )

    def __call__(
        self,
        frame: np.ndarray,
        regions: Sequence[Box] | None = None,
        *,
        text: bool = True,
        plate_regions: Sequence[Box] | None = None,
    ) -> list[Detection]:
        """Everything found in ``frame``; with ``regions`` (the re-check) the face and plate
        detectors look only there (see :mod:`onshore.media.regions`), the plate detector in
        ``plate_regions`` instead where given (an empty list: nowhere). Plate numbers are read
        as text (:mod:`onshore.media.painted`) only with ``text`` (video: some frames)."""
        found: list[Detection] = []
        if self.face is not None:
            found.extend(self.face(frame, regions))
        if self.plate is not None:
            plates = self.plate(frame, regions if plate_regions is None else plate_regions)
            found.extend(plates)
            if self.painted is not None and text:
                found.extend(self.painted(frame, plates))
        return found

    def describe(self) -> list[dict[str, Any]]:
        """Names, versions, licences and thresholds, for the audit sidecar."""
        out = []
        for det in (self.face, self.plate, self.painted):
            if det is not None:
                out.append({"kind": det.kind, **det.card.as_dict(), "thresholds": det.thresholds()})
        return out


def count_kinds(detections: list[Detection]) -> dict[str, int]:
    return {
        "faces": sum(d.kind == "face" for d in detections),
        "plates": sum(d.kind == "plate" for d in detections),
    }
