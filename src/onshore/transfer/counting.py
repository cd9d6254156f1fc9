"""Counting individuals for the volume tiers: once a year each, sensitive if any record was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PastTransfer:
    """A transfer already made: when, to whom, why, and whom it reached (id → sensitive)."""

    date: dt.date
    recipient: str
    purpose: str
    individuals: Mapping[str, bool]


@dataclass(frozen=True)
class Counts:
    individuals: int
    sensitive_individuals: int
    cumulative_non_sensitive: int
    cumulative_sensitive: int
    group_individuals: int


def count_individuals(
    current: Mapping[str, bool],
    history: Iterable[PastTransfer],
    *,
    year: int,
    recipient: str,
    purpose: str,
) -> Counts:
    """Distinct individuals of this transfer and since 1 January of ``year``, this one included.

    An individual counts once a year however many transfers include them, and as sensitive when
    any of their exported records was sensitive. ``group_individuals`` counts the transfers to
    the same recipient for the same purpose together (no splitting).

    >>> past = [PastTransfer(dt.date(2026, 3, 1), "R", "p", {"a": False, "b": True})]
    >>> c = count_individuals({"a": True, "c": False}, past, year=2026, recipient="R", purpose="p")
    >>> c.cumulative_non_sensitive, c.cumulative_sensitive, c.group_individuals
    (1, 2, 3)
    """
    year_total: dict[str, bool] = {}
    group: set[str] = set()
    for past in history:
        if past.date.year != year:
            continue
        same = (
            past.recipient.casefold() == recipient.casefold()
            and past.purpose.casefold() == purpose.casefold()
        )
        for ident, sensitive in past.individuals.items():
            year_total[ident] = year_total.get(ident, False) or sensitive
            if same:
                group.add(ident)
    for ident, sensitive in current.items():
        year_total[ident] = year_total.get(ident, False) or sensitive
        group.add(ident)
    sensitive_total = sum(1 for s in year_total.values() if s)
    return Counts(
        individuals=len(current),
        sensitive_individuals=sum(1 for s in current.values() if s),
        cumulative_non_sensitive=len(year_total) - sensitive_total,
        cumulative_sensitive=sensitive_total,
        group_individuals=len(group),
    )
