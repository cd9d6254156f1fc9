"""Write (or check) the generated part of docs/regulation.md from the pack, so they cannot drift.

python scripts/regulation_doc.py --write docs/regulation.md
python scripts/regulation_doc.py --check docs/regulation.md   # exit 1 when the doc is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from onshore.packs import load_pack
from onshore.packs.explain import BEGIN, END, regulation_markdown


def main() -> int:
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path)
    mode.add_argument("--check", type=Path)
    args = parser.parse_args()
    path: Path = args.write or args.check
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    fresh = text[:start] + regulation_markdown(load_pack()) + text[end:]
    if args.check:
        if fresh != text:
            print(f"{path} is stale: run python scripts/regulation_doc.py --write {path}")
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
