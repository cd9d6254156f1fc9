"""Media anonymization: faces and licence plates in images and video, speech in audio.

Needs the ``media`` extra (onnxruntime, OpenCV, PyAV and the packages that ship the model
weights); ``import onshore`` works without it, and every entry point here fails with a clear
:class:`~onshore.errors.BadInput` naming the extra when it is missing. Nothing is downloaded
at run time: the weights are read from inside installed packages.

>>> from onshore.media import MediaAnonymizer  # doctest: +SKIP
>>> report = MediaAnonymizer().run(Path("clips"), Path("clips-anon"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onshore.media.anonymizer import AnonymizeSettings, MediaAnonymizer
    from onshore.media.detectors import Detectors, DetectorSettings
    from onshore.media.geometry import Detection
    from onshore.media.masking import MaskSettings
    from onshore.media.report import BatchReport, FileReport

__all__ = [
    "AnonymizeSettings",
    "BatchReport",
    "Detection",
    "DetectorSettings",
    "Detectors",
    "FileReport",
    "MaskSettings",
    "MediaAnonymizer",
]

_WHERE = {
    "AnonymizeSettings": "onshore.media.anonymizer",
    "MediaAnonymizer": "onshore.media.anonymizer",
    "Detectors": "onshore.media.detectors",
    "DetectorSettings": "onshore.media.detectors",
    "Detection": "onshore.media.geometry",
    "MaskSettings": "onshore.media.masking",
    "BatchReport": "onshore.media.report",
    "FileReport": "onshore.media.report",
}


def __getattr__(name: str) -> Any:
    """Lazy: importing ``onshore.media`` loads nothing heavy."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
