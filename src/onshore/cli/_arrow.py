"""Start-up cost of Arrow in a command: pyarrow imports pandas (about 0.15 s) the first time it
converts a Python or NumPy value, only to ask whether the value is a pandas object.

The commands that never hand pyarrow a pandas object (``onshore scan``) let it find no pandas
on that first probe; an explicit pandas call (``Table.to_pandas``, ``Table.from_pandas``)
still imports pandas, as pyarrow tries again for those. Only the ``onshore`` entry point does
this; the library never does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _NoPandas:
    """A finder that says pandas is not installed (while pyarrow asks, and only then)."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


STANDALONE = False
"""Set by the ``onshore`` entry point: only then is the process a command's own (never in a
library user's process, nor in tests that invoke the click group)."""


def skip_pandas_probe() -> None:
    """Answer pyarrow's first "is pandas installed?" with no, without importing pandas."""
    if not STANDALONE or "pandas" in sys.modules:
        return
    import pyarrow as pa

    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.scalar(0)  # pyarrow looks for pandas here, once, and remembers the answer
    finally:
        sys.meta_path.remove(finder)
