"""A deterministic, realistic, entirely fictional sample fleet for trying Onshore.

>>> from onshore.demo import write_demo
>>> summary = write_demo("sample", vehicles=20)      # doctest: +SKIP
"""

from onshore.demo.writer import DEFAULT_START, FILES, DemoSummary, write_demo

__all__ = ["DEFAULT_START", "FILES", "DemoSummary", "write_demo"]
