"""Collection over the whole checkout (``tests`` and, for doctests, ``src/onshore``).

Modules that import an optional extra at the top are not collected for doctests when the extra
is missing (``pip install onshore`` alone); with the extra installed they are. Their tests in
``tests/`` skip on their own.
"""

from __future__ import annotations

from importlib.util import find_spec

NEEDS = {
    "fastapi": ["src/onshore/service/*"],  # the service extra
    "numba": ["src/onshore/geo/_*kernels.py", "src/onshore/geo/_edges.py"],  # the fast extra
}
collect_ignore_glob = [
    glob for module, globs in NEEDS.items() if find_spec(module) is None for glob in globs
]
