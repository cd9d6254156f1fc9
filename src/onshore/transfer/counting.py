"""Counting individuals for the volume tiers: natural persons, once a year each.

Each person exported this year is counted once in the sensitive total when any of their
exported records held sensitive PI, and once in the non-sensitive total when any held other PI.
A person with both kinds is counted in both totals (``both``, the pack's default: the thresholds
speak of "个人信息" and "敏感个人信息" separately), or only in the sensitive one
(``sensitive_only``, the former reading). A value of ``individuals`` is either a pair
``(sensitive, non_sensitive)`` or a bool, ``True`` for sensitive only and ``False`` for
non-sensitive only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Kinds = tuple[bool, bool]  # (sensitive, non_sensitive)
Both = Literal["both", "sensitive_only"]


def kinds_of(value: bool | Kinds) -> Kinds:
    """``(sensitive, non_sensitive)`` of one person's exported records."""
    if isinstance(value, tuple):
        return (bool(value[0]), bool(value[1]))
    return (bool(value), not value)


@dataclass(frozen=True)
class PastTransfer:
    """A transfer already made: when, to whom, why, and whom it reached (id → kinds)."""

    date: dt.date
    recipient: str
    purpose: str
    individuals: Mapping[str, bool | Kinds]


@dataclass(frozen=True)
class Counts:
    individuals: int
    sensitive_individuals: int
    cumulative_non_sensitive: int
    cumulative_sensitive: int
    group_individuals: int
    cumulative_individuals: int = 0


def totals(year_total: Mapping[str, Kinds], people_with_both: Both) -> tuple[int, int]:
    """(non-sensitive, sensitive) totals of ``year_total`` under the counting setting."""
    sensitive = sum(1 for s, _n in year_total.values() if s)
    if people_with_both == "both":
        non_sensitive = sum(1 for _s, n in year_total.values() if n)
    else:
        non_sensitive = sum(1 for s, _n in year_total.values() if not s)
    return non_sensitive, sensitive


def merge(a: Kinds | None, b: Kinds) -> Kinds:
    return b if a is None else (a[0] or b[0], a[1] or b[1])


def count_individuals(
    current: Mapping[str, bool | Kinds],
    history: Iterable[PastTransfer],
    *,
    year: int,
    recipient: str,
    purpose: str,
    people_with_both: Both = "both",
) -> Counts:
    """Distinct individuals of this transfer and since 1 January of ``year``, this one included.

    An individual counts once a year however many transfers include them. ``group_individuals``
    counts the transfers to the same recipient for the same purpose together (no splitting);
    ``cumulative_individuals`` every distinct person of the year, of either kind.

    >>> past = [PastTransfer(dt.date(2026, 3, 1), "R", "p", {"a": False, "b": (True, True)})]
    >>> c = count_individuals({"a": True, "c": False}, past, year=2026, recipient="R", purpose="p")
    >>> c.cumulative_non_sensitive, c.cumulative_sensitive, c.group_individuals
    (3, 2, 3)
    >>> count_individuals({"a": True, "c": False}, past, year=2026, recipient="R", purpose="p",
    ...                   people_with_both="sensitive_only").cumulative_non_sensitive
    1
    """
    year_total: dict[str, Kinds] = {}
    group: set[str] = set()
    for past in history:
        if past.date.year != year:
            continue
        same = (
            past.recipient.casefold() == recipient.casefold()
            and past.purpose.casefold() == purpose.casefold()
        )
        for ident, value in past.individuals.items():
            year_total[ident] = merge(year_total.get(ident), kinds_of(value))
            if same:
                group.add(ident)
    now = {ident: kinds_of(v) for ident, v in current.items()}
    for ident, kinds in now.items():
        year_total[ident] = merge(year_total.get(ident), kinds)
        group.add(ident)
    non_sensitive, sensitive = totals(year_total, people_with_both)
    return Counts(
        individuals=len(now),
        sensitive_individuals=sum(1 for s, _n in now.values() if s),
        cumulative_non_sensitive=non_sensitive,
        cumulative_sensitive=sensitive,
        group_individuals=len(group),
        cumulative_individuals=len(year_total),
    )
