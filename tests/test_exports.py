"""Public names load on first use (issue 21) and are the objects their modules define."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import onshore
from onshore import app


def test_every_public_name_is_its_modules_own() -> None:
    for package in (onshore, app):
        for name in package.__all__:
            value = getattr(package, name)
            if isinstance(value, types.ModuleType):
                continue  # onshore.ingest: the subpackage once imported, as before issue 21
            assert value is getattr(importlib.import_module(value.__module__), name), name
        assert set(package.__all__) <= set(dir(package))


def test_functions_keep_their_names_when_their_submodule_is_imported() -> None:
    importlib.import_module("onshore.classify.engine")
    importlib.import_module("onshore.app.scan")
    assert callable(onshore.classify) and onshore.classify.__name__ == "classify"
    assert callable(onshore.desensitize) and onshore.desensitize.__name__ == "desensitize"
    assert callable(app.scan) and app.scan.__module__ == "onshore.app.scan"
    assert onshore.geo.AreaIndex is onshore.AreaIndex  # a submodule is still an attribute


def test_importing_onshore_loads_nothing_heavy() -> None:
    code = (
        "import sys, onshore\n"
        "print(sorted(m for m in sys.modules if m.startswith(('onshore.', 'pyarrow', 'pandas'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['onshore._exports']"
