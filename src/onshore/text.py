"""Text that arrives from outside (a client, a request file, a header) and may be kept.

Purposes, names, approval ids, search terms and the like end up in permanent records (the
ledger, the annual report, the console). :func:`check_text` is the one gate they pass where they
enter: bounded length, and printable characters only — no control characters, no format
characters (bidirectional overrides, zero-width joiners that disguise text), no unassigned or
private-use code points. It never escapes anything: text stays data, and every renderer escapes
it for its own format (HTML, Markdown, CSV) when it shows it.

>>> check_text("  warranty analytics ", field="purpose")
'warranty analytics'
>>> check_text("质保分析", field="purpose")
'质保分析'
>>> check_text("a\\x00b", field="purpose")
Traceback (most recent call last):
...
onshore.errors.BadInput: field 'purpose': character U+0000 at position 1 is not printable text
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from onshore.errors import BadInput

NAME_MAX = 200
"""The longest name, purpose or id a client may send (characters)."""
NOTE_MAX = 2000
"""The longest free note (a reference, a contact)."""
_BANNED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_text(value: str, *, field: str, max_length: int = NAME_MAX, empty: bool = False) -> str:
    """``value`` stripped of surrounding spaces, or :class:`BadInput` naming ``field``.

    Refused: more than ``max_length`` characters, an empty value (unless ``empty``), and any
    character that is not printable (Unicode categories Cc, Cf, Cs, Co, Cn, Zl, Zp: line breaks,
    tabs, NUL, bidirectional overrides, zero-width characters and the like).
    """
    if not isinstance(value, str):
        raise BadInput(f"expected text, got {type(value).__name__}", field=field)
    text = value.strip(" ")
    if len(text) > max_length:
        raise BadInput(f"{len(text):,} characters; at most {max_length:,}", field=field)
    if not text and not empty:
        raise BadInput("must not be empty", field=field)
    for position, char in enumerate(text):
        if unicodedata.category(char) in _BANNED_CATEGORIES:
            raise BadInput(
                f"character U+{ord(char):04X} at position {position} is not printable text",
                field=field,
            )
    return text


def is_clean(value: str, *, max_length: int = NAME_MAX) -> bool:
    """Whether :func:`check_text` would accept ``value`` unchanged in length and characters."""
    try:
        check_text(value, field="-", max_length=max_length, empty=True)
    except BadInput:
        return False
    return True


def _name(value: str) -> str:
    try:
        return check_text(value, field="-")
    except BadInput as exc:
        raise ValueError(exc.message) from None


def _note(value: str) -> str:
    try:
        return check_text(value, field="-", max_length=NOTE_MAX, empty=True)
    except BadInput as exc:
        raise ValueError(exc.message) from None


Name = Annotated[str, AfterValidator(_name)]
"""A pydantic field type: a name, purpose or id (:func:`check_text`, at most :data:`NAME_MAX`)."""
Note = Annotated[str, AfterValidator(_note)]
"""A pydantic field type: a free note, possibly empty (at most :data:`NOTE_MAX`)."""
