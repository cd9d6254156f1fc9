"""The pack's data for consent, storage and subject rights: legal bases, retention, calendar.

Three optional pack files, each validated by a model here when the pack loads:

* ``bases.yaml`` (:class:`Bases`): purposes, and which legal bases cover each category for each
  purpose; the biometric restriction; the consent period ceiling;
* ``retention.yaml`` (:class:`Retention`): the residency rule and retention per category;
* ``calendar.yaml`` (:class:`WorkCalendar`): Chinese holidays and adjusted working days, for
  deadlines counted in working days.

>>> from onshore.packs import load_pack
>>> pack = load_pack("cn-auto")
>>> [b.basis for b in pack.bases.covering(pack, "location.trajectory", "national_monitoring")]
['legal_obligation']
>>> from datetime import date
>>> pack.calendar.add_working_days(date(2025, 9, 26), 10)    # over National Day
DueDate(day=datetime.date(2025, 10, 16), confidence='C')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from onshore.errors import PackError
from onshore.model import Level
from onshore.packs.models import KEY_RE, RULE_ID_RE, LevelName, Ref

if TYPE_CHECKING:
    from onshore.packs.loader import Pack


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


BasisKind = Literal[
    "consent", "separate_consent", "contract", "legal_obligation", "public_interest"
]
CONSENT_KINDS = frozenset({"consent", "separate_consent"})


# -- bases.yaml ------------------------------------------------------------------------------
class Purpose(_Strict):
    """A purpose of processing; ``serves_person`` when it directly serves the driver or
    passenger (the only purposes sensitive PI may rest on consent for); ``outbound`` for the
    separate consent to an export (PIPL Art. 39), which is not an ingest purpose."""

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str
    serves_person: bool = False
    outbound: bool = False


class BasisSettings(_Strict):
    general_needs_no_basis: bool = True
    sensitive_needs_separate_consent: bool = True
    not_personal: list[str] = Field(default_factory=list)
    consent_max_days: Annotated[int, Field(gt=0)]
    consent_max_ref: Ref
    channels: list[str] = Field(min_length=1)


class BiometricRule(_Strict):
    categories: list[str] = Field(min_length=1)
    purposes: list[str] = Field(min_length=1)
    require_necessity: bool = True
    rule_id: Annotated[str, Field(pattern=RULE_ID_RE)]
    ref: Ref


class SensitivePurposeRule(_Strict):
    """Sensitive PI rests on (separate) consent only for a purpose that serves the person."""

    rule_id: Annotated[str, Field(pattern=RULE_ID_RE)]
    ref: Ref


class BystanderRule(_Strict):
    """Exterior media are kept only where the anonymizer's sidecar shows no residual."""

    categories: list[str] = Field(min_length=1)
    marker_category: str
    rule_id: Annotated[str, Field(pattern=RULE_ID_RE)]
    ref: Ref


class Basis(_Strict):
    """One legal basis: it covers these categories (and their descendants) for these purposes."""

    id: Annotated[str, Field(pattern=RULE_ID_RE)]
    categories: list[Annotated[str, Field(pattern=KEY_RE)]] = Field(min_length=1)
    purposes: list[str] = Field(min_length=1)
    basis: BasisKind
    description: str
    ref: Ref

    @property
    def needs_consent(self) -> bool:
        return self.basis in CONSENT_KINDS


class Bases(_Strict):
    purposes: list[Purpose] = Field(min_length=1)
    settings: BasisSettings
    biometric: BiometricRule
    bases: list[Basis] = Field(min_length=1)
    sensitive_purpose: SensitivePurposeRule | None = None
    bystanders: BystanderRule | None = None

    @model_validator(mode="after")
    def _unique(self) -> Bases:
        for name, keys in (
            ("purpose", [p.key for p in self.purposes]),
            ("basis id", [b.id for b in self.bases]),
        ):
            dup = {k for k in keys if keys.count(k) > 1}
            if dup:
                raise ValueError(f"duplicate {name} {sorted(dup)[0]!r}")
        return self

    @cached_property
    def purpose_keys(self) -> frozenset[str]:
        return frozenset(p.key for p in self.purposes)

    @cached_property
    def _purposes(self) -> dict[str, Purpose]:
        return {p.key: p for p in self.purposes}

    def purpose(self, key: str) -> Purpose:
        return self._purposes[key]

    def consent_may_cover_sensitive(self, purpose: str) -> bool:
        """True when sensitive PI may rest on consent for ``purpose`` (it serves the person,
        or it is the consent to an export); always true without a ``sensitive_purpose`` rule."""
        p = self._purposes.get(purpose)
        if self.sensitive_purpose is None:
            return True
        return p is not None and (p.serves_person or p.outbound)

    def is_bystander_media(self, pack: Pack, category: str) -> bool:
        return self.bystanders is not None and any(
            pack.is_within(category, c) for c in self.bystanders.categories
        )

    def covering(self, pack: Pack, category: str, purpose: str) -> list[Basis]:
        """The bases that cover ``category`` (directly or through an ancestor) for ``purpose``.

        Plain ``consent`` never covers sensitive personal information, which needs separate
        consent (PIPL Art. 29), unless the pack turns that setting off; and no consent covers
        it for a purpose that does not serve the person (Provisions 2021 Art. 9(1)).
        """
        sensitive = pack.level_of(category) >= Level.SENSITIVE_PERSONAL
        return [
            b
            for b in self.bases
            if purpose in b.purposes
            and any(pack.is_within(category, c) for c in b.categories)
            and not (
                sensitive
                and b.basis == "consent"
                and self.settings.sensitive_needs_separate_consent
            )
            and not (
                sensitive and b.needs_consent and not self.consent_may_cover_sensitive(purpose)
            )
        ]

    def is_biometric(self, pack: Pack, category: str) -> bool:
        return any(pack.is_within(category, c) for c in self.biometric.categories)

    def needs_basis(self, pack: Pack, category: str) -> bool:
        """True for personal information: a level above general, not listed as non-personal."""
        if self.settings.general_needs_no_basis and pack.level_of(category) == Level.GENERAL:
            return False
        return not any(pack.is_within(category, c) for c in self.settings.not_personal)


# -- retention.yaml --------------------------------------------------------------------------
class Residency(_Strict):
    min_level: LevelName
    rule_id: Annotated[str, Field(pattern=RULE_ID_RE)]
    description: str
    ref: Ref


class RetentionPeriod(_Strict):
    category: Annotated[str, Field(pattern=KEY_RE)]
    days: Annotated[int, Field(gt=0)]
    ref: Ref


class PlacePeriod(_Strict):
    """How long a place that is not the lake keeps what it holds (``onshore store purge``)."""

    place: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    days: Annotated[int, Field(gt=0)]
    ref: Ref


class Backups(_Strict):
    """Backups of the data home: whether there are any and how a deletion reaches them.

    Onshore makes no backups; the operator's are stated here so the deletion evidence says
    what happens to the vehicle's data in them instead of keeping them silently."""

    held: bool
    description: str
    erasure: str  # how a deletion reaches them (e.g. they expire with their rotation)
    max_days: Annotated[int, Field(gt=0)] | None = None
    ref: Ref


class LegalHold(_Strict):
    """Data a law says must be kept: a deletion keeps the held datasets' rows and says so."""

    id: Annotated[str, Field(pattern=RULE_ID_RE)]
    description: str
    datasets: list[str] = Field(default_factory=list)
    enabled: bool = False
    days: Annotated[int, Field(gt=0)] | None = None
    ref: Ref


class Retention(_Strict):
    residency: Residency
    default_days: Annotated[int, Field(gt=0)]
    deletion_due_working_days: Annotated[int, Field(gt=0)]
    deletion_due_ref: Ref
    retention: list[RetentionPeriod] = Field(default_factory=list)
    places: list[PlacePeriod] = Field(default_factory=list)
    backups: Backups | None = None
    legal_holds: list[LegalHold] = Field(default_factory=list)

    def place_days(self, place: str) -> int | None:
        """The period of a place other than the lake (``None``: not set in the pack)."""
        return next((p.days for p in self.places if p.place == place), None)

    def days_for(self, pack: Pack, category: str | None) -> int:
        """Retention of ``category``: its own period or its nearest listed ancestor's."""
        periods = {r.category: r.days for r in self.retention}
        key = category
        while key is not None:
            if key in periods:
                return periods[key]
            key = pack.categories[key].parent
        return self.default_days


# -- calendar.yaml ---------------------------------------------------------------------------
class Holiday(_Strict):
    """One day (``date``) or an inclusive range (``from``/``to``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    date_: date | None = Field(default=None, alias="date")
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    name: str

    @model_validator(mode="after")
    def _one_form(self) -> Holiday:
        single = self.date_ is not None
        ranged = self.from_ is not None and self.to is not None
        if single == ranged or (self.from_ is None) != (self.to is None):
            raise ValueError("give either 'date' or both 'from' and 'to'")
        if ranged and self.to < self.from_:  # type: ignore[operator]
            raise ValueError("'to' is before 'from'")
        return self

    def days(self) -> list[date]:
        if self.date_ is not None:
            return [self.date_]
        assert self.from_ is not None and self.to is not None
        return [self.from_ + timedelta(n) for n in range((self.to - self.from_).days + 1)]


class CalendarYear(_Strict):
    year: int
    confidence: Literal["C", "S", "U"]
    source: str
    holidays: list[Holiday] = Field(default_factory=list)
    working_days: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _in_year(self) -> CalendarYear:
        for day in [d for h in self.holidays for d in h.days()] + self.working_days:
            if day.year != self.year:
                raise ValueError(f"{day} is not in {self.year}")
        for day in self.working_days:
            if day.weekday() < 5:
                raise ValueError(f"adjusted working day {day} is not a weekend day")
        return self


@dataclass(frozen=True)
class DueDate:
    """A deadline in working days: the day, and the confidence of the calendar it rests on."""

    day: date
    confidence: str


class WorkCalendar(_Strict):
    timezone: Annotated[str, Field(pattern=r"^[+-]\d\d:\d\d$")]
    years: list[CalendarYear] = Field(min_length=1)

    @cached_property
    def _years(self) -> dict[int, CalendarYear]:
        return {y.year: y for y in self.years}

    @cached_property
    def _off(self) -> frozenset[date]:
        return frozenset(d for y in self.years for h in y.holidays for d in h.days())

    @cached_property
    def _on(self) -> frozenset[date]:
        return frozenset(d for y in self.years for d in y.working_days)

    def utc_offset(self) -> timedelta:
        sign = -1 if self.timezone.startswith("-") else 1
        hours, minutes = self.timezone[1:].split(":")
        return sign * timedelta(hours=int(hours), minutes=int(minutes))

    def confidence(self, day: date) -> str:
        """How sure the calendar is about ``day``: its year's mark, ``U`` beyond the calendar."""
        year = self._years.get(day.year)
        return year.confidence if year is not None else "U"

    def is_working_day(self, day: date) -> bool:
        if day in self._on:
            return True
        return day.weekday() < 5 and day not in self._off

    def add_working_days(self, start: date, n: int) -> DueDate:
        """The ``n``-th working day after ``start`` (``start`` itself not counted).

        >>> from onshore.packs import load_pack
        >>> load_pack().calendar.add_working_days(date(2026, 2, 12), 10)
        DueDate(day=datetime.date(2026, 3, 4), confidence='S')
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        day, left, marks = start, n, {self.confidence(start)}
        while left:
            day += timedelta(days=1)
            marks.add(self.confidence(day))
            if self.is_working_day(day):
                left -= 1
        return DueDate(day, _weakest(marks))


def _weakest(marks: Iterable[str]) -> str:
    order = "CSU"
    return max(marks, key=order.index)


# -- cross-file checks -----------------------------------------------------------------------
def _check_sensitive_purposes(pack: Pack, bases: Bases) -> None:
    """No consent basis may cover sensitive PI for a purpose that does not serve the person."""
    rule = bases.sensitive_purpose
    assert rule is not None
    for i, basis in enumerate(bases.bases):
        separate = basis.basis == "separate_consent" or (
            basis.basis == "consent" and not bases.settings.sensitive_needs_separate_consent
        )
        if not separate:
            continue
        sensitive = sorted(
            key
            for key in pack.categories
            if pack.level_of(key) == Level.SENSITIVE_PERSONAL
            and any(pack.is_within(key, c) for c in basis.categories)
        )
        if not sensitive:
            continue
        for j, purpose in enumerate(basis.purposes):
            if purpose in bases.purpose_keys and not bases.consent_may_cover_sensitive(purpose):
                raise PackError(
                    f"{basis.id} gives sensitive personal information ({sensitive[0]}) a consent "
                    f"basis for {purpose!r}, a purpose that does not serve the person "
                    f"[{rule.rule_id}; {pack.legal_ref(rule.ref)}]",
                    file=str(pack.path / "bases.yaml"),
                    field=f"bases[{i}].purposes[{j}]",
                )


def check_bases(
    pack: Pack,
    bases: Bases | None,
    retention: Retention | None,
    calendar: WorkCalendar | None,
    need_category: Callable[[str, str, str], None],
) -> None:
    """Every category, purpose and instrument these files name must be declared."""
    del calendar  # self-contained
    instruments = set(pack.instruments)

    def need_instrument(ref: Ref, file: str, where: str) -> None:
        if ref.instrument not in instruments:
            raise PackError(
                f"unknown instrument {ref.instrument!r}",
                file=str(pack.path / file),
                field=f"{where}.instrument",
            )

    if bases is not None:
        purposes = bases.purpose_keys
        for j, key in enumerate(bases.settings.not_personal):
            need_category(key, "bases.yaml", f"settings.not_personal[{j}]")
        need_instrument(bases.settings.consent_max_ref, "bases.yaml", "settings.consent_max_ref")
        for j, key in enumerate(bases.biometric.categories):
            need_category(key, "bases.yaml", f"biometric.categories[{j}]")
        need_instrument(bases.biometric.ref, "bases.yaml", "biometric.ref")
        if bases.bystanders is not None:
            for j, key in enumerate(bases.bystanders.categories):
                need_category(key, "bases.yaml", f"bystanders.categories[{j}]")
            need_category(
                bases.bystanders.marker_category, "bases.yaml", "bystanders.marker_category"
            )
            need_instrument(bases.bystanders.ref, "bases.yaml", "bystanders.ref")
        if bases.sensitive_purpose is not None:
            need_instrument(bases.sensitive_purpose.ref, "bases.yaml", "sensitive_purpose.ref")
            _check_sensitive_purposes(pack, bases)
        for i, basis in enumerate(bases.bases):
            for j, key in enumerate(basis.categories):
                need_category(key, "bases.yaml", f"bases[{i}].categories[{j}]")
            for j, purpose in enumerate(basis.purposes):
                if purpose not in purposes:
                    raise PackError(
                        f"unknown purpose {purpose!r} (declared: {', '.join(sorted(purposes))})",
                        file=str(pack.path / "bases.yaml"),
                        field=f"bases[{i}].purposes[{j}]",
                    )
            need_instrument(basis.ref, "bases.yaml", f"bases[{i}].ref")
        for j, purpose in enumerate(bases.biometric.purposes):
            if purpose not in purposes:
                raise PackError(
                    f"unknown purpose {purpose!r}",
                    file=str(pack.path / "bases.yaml"),
                    field=f"biometric.purposes[{j}]",
                )
    if retention is not None:
        need_instrument(retention.residency.ref, "retention.yaml", "residency.ref")
        need_instrument(retention.deletion_due_ref, "retention.yaml", "deletion_due_ref")
        for i, period in enumerate(retention.retention):
            need_category(period.category, "retention.yaml", f"retention[{i}].category")
            need_instrument(period.ref, "retention.yaml", f"retention[{i}].ref")
        for i, place in enumerate(retention.places):
            need_instrument(place.ref, "retention.yaml", f"places[{i}].ref")
        if retention.backups is not None:
            need_instrument(retention.backups.ref, "retention.yaml", "backups.ref")
        for i, hold in enumerate(retention.legal_holds):
            need_instrument(hold.ref, "retention.yaml", f"legal_holds[{i}].ref")
