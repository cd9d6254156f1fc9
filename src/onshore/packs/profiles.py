"""Desensitization profiles as data: typed steps, a promise, and what risk to measure.

A profile is an ordered list of steps, each an operator with a typed parameter model, checked
when the pack (or a user's profile file) loads, before any data flows: the operators and their
models are those of the registry (:mod:`onshore.desensitize.registry`), built in or plugged in.
Field steps pick their columns by category (a column within any listed category) or by name;
row steps work on the columns the pack gives a role (vehicle, time, position).

>>> p = Profile.model_validate({"name": "mini", "promise": {"level": "personal"},
...     "steps": [{"op": "drop", "categories": ["person"]}]})
>>> p.steps[0].op, p.other_fields
('drop', 'keep')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from onshore.errors import PackError
from onshore.packs.models import LevelName

NAME_RE = r"^[a-z0-9][a-z0-9-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperatorParams(BaseModel):
    """Base of every operator's parameter model: unknown keys are refused; values are frozen.

    >>> class Speed(Selector):
    ...     limit: float
    >>> Speed(fields=["speed"], limit=120).limit
    120.0
    >>> Speed(limit=120)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Speed
      Value error, name at least one of 'categories' or 'fields' ...
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def needs_before(self) -> Mapping[str, str]:
        """Steps that must come earlier in the profile: ``{op: why}`` (none by default)."""
        return {}


class Selector(OperatorParams):
    """Columns a field step applies to: within any of ``categories``, or named in ``fields``."""

    categories: list[str] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> Selector:
        if not self.categories and not self.fields:
            raise ValueError("name at least one of 'categories' or 'fields'")
        return self


class Step(BaseModel):
    """One step of a profile: an operator's name (``op``) and its parameters, validated by the
    parameter model the operator registered (:mod:`onshore.desensitize.registry`).

    A profile file writes a step flat, ``{op: round, fields: [speed], step: 5}``; errors name
    the key within the step (``steps[2].step``), or ``steps[2].op`` for an unknown operator.

    >>> Step.model_validate({"op": "round", "fields": ["speed"], "step": 5}).params.step
    5.0
    >>> Step.model_validate({"op": "frobnicate"})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Step
    op
      unknown operator 'frobnicate' (registered: aggregate, bucket, ...
    """

    model_config = ConfigDict(frozen=True)

    op: str
    params: OperatorParams

    @model_validator(mode="wrap")
    @classmethod
    def _by_op(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Step:
        if isinstance(data, Step):
            return data
        from onshore.desensitize.registry import operator_spec, registered_operators

        if not isinstance(data, dict):
            raise PydanticCustomError("step", "a step is a mapping: 'op' and its parameters")
        rest = dict(data)
        op = rest.pop("op", None)
        spec = operator_spec(op) if isinstance(op, str) else None
        if spec is None:
            known = ", ".join(sorted(registered_operators()))
            what = f"unknown operator {op!r}" if op is not None else "name the operator"
            error = PydanticCustomError(
                "unknown_operator", "{what} (registered: {known})", {"what": what, "known": known}
            )
            raise ValidationError.from_exception_data(
                cls.__name__, [InitErrorDetails(type=error, loc=("op",), input=op)]
            )
        given = rest.get("params")
        if set(rest) == {"params"} and isinstance(given, BaseModel):  # Step(op=..., params=...)
            params = given if isinstance(given, spec.params) else spec.params.model_validate(given)
        else:
            params = spec.params.model_validate(rest)
        step: Step = handler({"op": op, "params": params})
        return step

    @model_serializer(mode="plain")
    def _flat(self, info: SerializationInfo) -> dict[str, Any]:
        params = self.params.model_dump(
            mode=info.mode,
            exclude_none=info.exclude_none,
            exclude_defaults=info.exclude_defaults,
            exclude_unset=info.exclude_unset,
        )
        return {"op": self.op, **params}


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
        if "deduplicate" in ops and ops[-1] != "deduplicate":
            raise ValueError("'deduplicate' must be the last step")
        if "trips" in ops:
            first = ops.index("trips")
            early = [o for o in ops[:first] if o in LOCATION_OPS]
            if early:
                raise ValueError(f"'trips' must come before {early[0]!r} (it needs true positions)")
        for i, step in enumerate(self.steps):
            for need, why in step.params.needs_before().items():
                if need not in ops[:i]:
                    raise ValueError(f"steps[{i}]: {why} needs a {need!r} step before it")
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
            selected = step.params.categories if isinstance(step.params, Selector) else []
            for k, key in enumerate(selected):
                if key not in cats:
                    raise PackError(
                        f"unknown category {key!r}",
                        file=file,
                        field=f"{where}.steps[{j}].categories[{k}]",
                    )
            for k, kind in enumerate(getattr(step.params, "kinds", None) or []):
                if kind not in kinds:
                    raise PackError(
                        f"unknown area kind {kind!r}",
                        file=file,
                        field=f"{where}.steps[{j}].kinds[{k}]",
                    )
    return out
