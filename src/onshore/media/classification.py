"""Media files classified by the pack, before and after anonymization.

A media file becomes a one-row Arrow record whose column names the pack maps to categories
(``exterior_image`` → ``exterior.image``, ``faces`` → ``exterior.detection.face`` …), so the
pack's own record rules decide: exterior media with a face or plate is ``important``, cabin
media ``sensitive_personal``. After masking the same record is built from the *residual*
detections, so the output is judged by what a detector can still find in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

import pyarrow as pa

from onshore.packs import Pack

MediaKind = Literal["image", "video", "audio"]
Origin = Literal["exterior", "cabin"]

_CABIN_HINT = re.compile(r"(^|[^a-z])(cabin|dms|interior|driver|cockpit|in[-_]?car)([^a-z]|$)")


def guess_origin(path: str | PurePath) -> Origin:
    """``cabin`` when a folder or file name says so (cabin, dms, interior, driver …)."""
    parts = [p.lower() for p in PurePath(path).parts]
    return "cabin" if any(_CABIN_HINT.search(p) for p in parts) else "exterior"


def media_column(origin: Origin, kind: MediaKind) -> str:
    """The field name the pack maps to ``<origin>.<kind>`` (e.g. ``exterior_image``)."""
    return f"{origin}_{kind}"


@dataclass(frozen=True)
class MediaLabel:
    level: str
    categories: tuple[str, ...]
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "categories": list(self.categories),
            "reasons": list(self.reasons),
        }


def classify_media(
    pack: Pack,
    *,
    path: str,
    origin: Origin,
    kind: MediaKind,
    faces: int | None,
    plates: int | None,
) -> MediaLabel:
    """The pack's verdict on one media file. ``None`` counts mean "not screened"."""
    from onshore.classify import classify

    columns: dict[str, pa.Array] = {media_column(origin, kind): pa.array([path])}
    if kind != "audio":
        columns["faces"] = pa.array([faces], pa.int64())
        columns["plates"] = pa.array([plates], pa.int64())
    assessment = classify(pa.table(columns), pack, source=path).assessment
    reasons = tuple(f.rule_id for f in assessment.record_findings)
    categories = tuple(sorted(assessment.rows_per_category))
    return MediaLabel(assessment.level.label, categories, reasons)
