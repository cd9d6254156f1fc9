"""Real storage faults for a child process: a file-size limit (writes fail with ``EFBIG``, as
on a full disk) and file permissions that hold even for root (``setpriv`` drops the
capabilities that override them)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sys
from collections.abc import Callable

ONSHORE = [sys.executable, "-m", "onshore"]


def file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn``: files of the child cannot grow past ``limit`` bytes (``EFBIG``)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def honouring_permissions(argv: list[str]) -> list[str]:
    """``argv`` run so that file permissions bind it, even as root."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        import pytest

        pytest.skip("running as root without setpriv: permissions cannot be revoked")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--", *argv]
