"""Desensitization profiles as data: typed steps, a promise, and what risk to measure.

A profile is an ordered list of steps, each an operator with a typed parameter model, checked
when the pack (or a user's profile file) loads, before any data flows. Field steps pick their
columns by category (a column within any listed category) or by name; row steps work on the
columns the pack gives a role (vehicle, time, position).

>>> p = Profile.model_validate({"name": "mini", "promise": {"level": "personal"},
...     "steps": [{"op": "drop", "categories": ["person"]}]})
>>> p.steps[0].op, p.other_fields
('drop', 'keep')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from onshore.errors import PackError
from onshore.packs.models import LevelName

AdminLevel = Literal["county", "prefecture", "province", "national"]
NAME_RE = r"^[a-z0-9][a-z0-9-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Selector(_Strict):
    """Columns a field step applies to: within any of ``categories``, or named in ``fields``."""

    categories: list[str] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> _Selector:
        if not self.categories and not self.fields:
            raise ValueError("name at least one of 'categories' or 'fields'")
        return self


class DropStep(_Selector):
    """Remove columns (a field, or every field of a category)."""

    op: Literal["drop"]


class KeepStep(_Selector):
    """Keep columns as they are (an explicit allow for profiles with ``other_fields: drop``)."""

    op: Literal["keep"]


class PseudonymizeStep(_Selector):
    """Keyed pseudonyms: HMAC-SHA-256 of the value, written as ``KEYID:DIGEST``.

    ``scope`` ``value`` gives one pseudonym per value (joinable across datasets sharing the
    ``domain``); ``trip`` one per value and trip (needs a ``trips`` step before); ``day`` one per
    value and UTC day. ``keep_wmi`` keeps a VIN's first three characters (the manufacturer).
    """

    op: Literal["pseudonymize"]
    scope: Literal["value", "trip", "day"] = "value"
    keep_wmi: bool = False
    digest_bytes: Annotated[int, Field(ge=8, le=32)] = 16
    domain: str | None = None
    suffix: Annotated[str, Field(pattern=r"^_[a-z0-9_]+$")] = "_pseudonym"


class RoundStep(_Selector):
    """Round numbers to a multiple of ``step``."""

    op: Literal["round"]
    step: Annotated[float, Field(gt=0, allow_inf_nan=False)]


class BucketStep(_Selector):
    """Replace a number by the lower edge of its bucket; below the first edge becomes null."""

    op: Literal["bucket"]
    edges: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(min_length=2)

    @model_validator(mode="after")
    def _increasing(self) -> BucketStep:
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly increasing")
        return self


class BucketTimeStep(_Strict):
    """Floor timestamps to ``every_s`` seconds (the time column, plus any ``fields``)."""

    op: Literal["bucket_time"]
    every_s: Annotated[int, Field(gt=0)]
    fields: list[str] = Field(default_factory=list)


class GeneralizeStep(_Strict):
    """Snap positions to the centre of a grid of ``grid_m`` true metres, or reduce them to the
    region of ``admin_level`` in user-supplied boundaries (``outside``: rows in no region)."""

    op: Literal["generalize_location"]
    grid_m: Annotated[float, Field(ge=10, le=1_000_000, allow_inf_nan=False)] | None = None
    admin_level: AdminLevel | None = None
    outside: Literal["drop", "null"] = "drop"

    @model_validator(mode="after")
    def _one(self) -> GeneralizeStep:
        if (self.grid_m is None) == (self.admin_level is None):
            raise ValueError("give exactly one of 'grid_m' or 'admin_level'")
        return self


class TransformStep(_Strict):
    """Express positions in WGS-84 or GCJ-02; the ``crs`` column says which (idempotent)."""

    op: Literal["transform_crs"]
    to: Literal["gcj02", "wgs84"]


class RemoveAreasStep(_Strict):
    """Remove every row whose position lies inside, or within the buffer (plus
    ``extra_buffer_m``) of, a sensitive area; ``kinds`` limits it to some area kinds."""

    op: Literal["remove_sensitive_areas"]
    extra_buffer_m: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    kinds: list[str] | None = None


class Trim(_Strict):
    """Remove the points within ``metres`` (straight line) of a trip's first or last position,
    and those in its first or last ``seconds``."""

    metres: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


class TripsStep(_Strict):
    """Cut each vehicle's rows into trips (a gap over ``gap_s``, or the ignition turning off
    when an ignition column is present) and optionally trim every trip's ends."""

    op: Literal["trips"]
    gap_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 300.0
    ignition: bool = True
    ignition_fields: list[str] = Field(default_factory=lambda: ["ignition", "ignition_on"])
    trim: Trim | None = None


def _both_flows() -> list[Literal["presence", "od"]]:
    return ["presence", "od"]


class AggregateStep(_Strict):
    """Replace the rows by k-anonymous aggregates per grid cell and hour: distinct vehicles
    (``presence``) and origin-destination trips (``od``); groups under ``k`` are suppressed."""

    op: Literal["aggregate"]
    k: Annotated[int, Field(ge=2)]
    grid_m: Annotated[float, Field(ge=10, le=1_000_000, allow_inf_nan=False)] = 1000.0
    every_s: Annotated[int, Field(gt=0)] = 3600
    flows: list[Literal["presence", "od"]] = Field(default_factory=_both_flows, min_length=1)


Step = Annotated[
    DropStep
    | KeepStep
    | PseudonymizeStep
    | RoundStep
    | BucketStep
    | BucketTimeStep
    | GeneralizeStep
    | TransformStep
    | RemoveAreasStep
    | TripsStep
    | AggregateStep,
    Field(discriminator="op"),
]
LOCATION_OPS = ("generalize_location", "transform_crs", "bucket_time", "remove_sensitive_areas")


class Promise(_Strict):
    """What the output may hold: at most ``level``, and none of the categories or rule ids in
    ``forbid`` in its re-classification."""

    level: LevelName
    forbid: list[str] = Field(default_factory=list)


class Unicity(_Strict):
    """How trajectory unicity is measured: points are (cell of ``cell_m``, ``bucket_s``) pairs."""

    cell_m: Annotated[float, Field(ge=10, allow_inf_nan=False)] = 500.0
    bucket_s: Annotated[int, Field(gt=0)] = 3600
    points: list[Annotated[int, Field(ge=1, le=32)]] = Field(default_factory=lambda: [2, 4])
    samples: Annotated[int, Field(ge=1)] = 1000
    seed: int = 0


class Risk(_Strict):
    """The residual-risk figures to compute before and after."""

    quasi_identifiers: list[str] = Field(default_factory=list)
    k: Annotated[int, Field(ge=2)] = 5
    unicity: Unicity = Field(default_factory=Unicity)


class Profile(_Strict):
    name: Annotated[str, Field(pattern=NAME_RE)]
    description: str = ""
    promise: Promise
    other_fields: Literal["keep", "drop"] = "keep"
    risk: Risk = Field(default_factory=Risk)
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _order(self) -> Profile:
        ops = [s.op for s in self.steps]
        for once in ("trips", "aggregate"):
            if ops.count(once) > 1:
                raise ValueError(f"at most one {once!r} step")
        if "aggregate" in ops and ops[-1] != "aggregate":
            raise ValueError("'aggregate' must be the last step")
        if "trips" in ops:
            first = ops.index("trips")
            early = [o for o in ops[:first] if o in LOCATION_OPS]
            if early:
                raise ValueError(f"'trips' must come before {early[0]!r} (it needs true positions)")
        for i, step in enumerate(self.steps):
            if (
                isinstance(step, PseudonymizeStep)
                and step.scope == "trip"
                and "trips" not in ops[:i]
            ):
                raise ValueError(f"steps[{i}]: scope 'trip' needs a 'trips' step before it")
        return self


class ProfileFile(_Strict):
    profiles: list[Profile] = Field(min_length=1)


def check_profiles(
    profiles: Iterable[Profile],
    *,
    categories: Iterable[str],
    rule_ids: Iterable[str],
    area_kinds: Iterable[str],
    file: str,
) -> dict[str, Profile]:
    """Cross-check profiles against the pack: every category, rule id and area kind exists."""
    cats, rules, kinds = set(categories), set(rule_ids), set(area_kinds)
    out: dict[str, Profile] = {}
    for i, profile in enumerate(profiles):
        where = f"profiles[{i}]"
        if profile.name in out:
            raise PackError(f"duplicate profile {profile.name!r}", file=file, field=f"{where}.name")
        out[profile.name] = profile
        for j, key in enumerate(profile.promise.forbid):
            if key not in cats and key not in rules:
                raise PackError(
                    f"{key!r} is neither a category nor a rule id of the pack",
                    file=file,
                    field=f"{where}.promise.forbid[{j}]",
                )
        for j, step in enumerate(profile.steps):
            for k, key in enumerate(getattr(step, "categories", None) or []):
                if key not in cats:
                    raise PackError(
                        f"unknown category {key!r}",
                        file=file,
                        field=f"{where}.steps[{j}].categories[{k}]",
                    )
            for k, kind in enumerate(getattr(step, "kinds", None) or []):
                if kind not in kinds:
                    raise PackError(
                        f"unknown area kind {kind!r}",
                        file=file,
                        field=f"{where}.steps[{j}].kinds[{k}]",
                    )
    return out
