"""Fixtures for the media tests: the models load once per session; synthetic scenes are drawn.

The media extra is optional: where it is missing these tests skip (the core suite does not
need it); CI installs it through the ``dev`` extra.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")
pytest.importorskip("av")

from onshore.media.anonymizer import AnonymizeSettings, MediaAnonymizer
from onshore.media.detectors import Detectors


@pytest.fixture(scope="session")
def detectors() -> Detectors:
    return Detectors()


@pytest.fixture(scope="session")
def anonymizer(pack) -> MediaAnonymizer:  # type: ignore[no-untyped-def]
    return MediaAnonymizer(AnonymizeSettings(), pack=pack)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real face photograph that ships inside scikit-image (NASA, public domain), as BGR."""
    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
