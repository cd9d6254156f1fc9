"""Keyed pseudonymization: HMAC-SHA-256 with a key from the keystore; the key id travels along.

A pseudonym reads ``KEYID:DIGEST`` (``KEYID:WMI-DIGEST`` when a VIN keeps its manufacturer
prefix). The HMAC covers a fixed label, the domain (by default the column's category, so the
same VIN in two datasets gets the same pseudonym), the scope token (the trip's start or the UTC
day, for scoped pseudonyms) and the value. Same key and input give the same pseudonym in every
runner; a rotated key gives new ones. The work is per distinct value, not per row.

>>> from onshore.keystore import Key
>>> key = Key("hmac-sha256", "00112233aabbccdd", bytes(32))
>>> pseudonym(key, "vehicle.identity.vin", "", "LSVAU2180N2183294", 8, "LSV")
'00112233aabbccdd:LSV-9c845d34c8599a0b'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from onshore.desensitize.layout import TRIP, Layout
from onshore.desensitize.operators.base import Operator, Resources
from onshore.errors import BadInput
from onshore.keystore import Key
from onshore.packs import Pack
from onshore.packs.profiles import Selector

LABEL = b"onshore/pseudonym/v1"
_CACHE_LIMIT = 1 << 20


def pseudonym(key: Key, domain: str, scope: str, value: str, size: int, prefix: str = "") -> str:
    """The pseudonym of one value (the row-by-row reference of :class:`Pseudonymize`)."""
    message = b"\x00".join([LABEL, domain.encode(), scope.encode(), value.encode()])
    digest = hmac.new(key.material, message, hashlib.sha256).hexdigest()[: 2 * size]
    return f"{key.key_id}:{prefix}-{digest}" if prefix else f"{key.key_id}:{digest}"


class PseudonymizeParams(Selector):
    """Keyed pseudonyms: HMAC-SHA-256 of the value, written as ``KEYID:DIGEST``.

    ``scope`` ``value`` gives one pseudonym per value (joinable across datasets sharing the
    ``domain``); ``trip`` one per value and trip (needs a ``trips`` step before); ``day`` one per
    value and UTC day. ``keep_wmi`` keeps a VIN's first three characters (the manufacturer).
    """

    scope: Literal["value", "trip", "day"] = "value"
    keep_wmi: bool = False
    digest_bytes: Annotated[int, Field(ge=8, le=32)] = 16
    domain: str | None = None
    suffix: Annotated[str, Field(pattern=r"^_[a-z0-9_]+$")] = "_pseudonym"

    def needs_before(self) -> Mapping[str, str]:
        return {"trips": "scope 'trip'"} if self.scope == "trip" else {}


class Pseudonymize(Operator):
    """Replace each selected column ``C`` by ``C`` + suffix holding keyed pseudonyms."""

    NAME = "pseudonymize"
    params: PseudonymizeParams

    def __init__(self, params: PseudonymizeParams, pack: Pack, key: Key | None) -> None:
        super().__init__(params)
        if key is None:
            raise BadInput(
                "this profile pseudonymizes: give a key (a keystore, or ONSHORE_KEY_HMAC_SHA256)"
            )
        self.pack = pack
        self.key = key
        self.targets: tuple[tuple[str, str, str], ...] = ()  # (column, output, domain)
        self._ts: str | None = None
        self._cache: dict[tuple[str, str, str, str], str] = {}

    @classmethod
    def build(cls, params: PseudonymizeParams, resources: Resources) -> Pseudonymize:
        return cls(params, resources.pack, resources.key)

    def bind(self, layout: Layout) -> Layout:
        names = layout.select(self.pack, self.params.categories, self.params.fields)
        targets = []
        for name in names:
            domain = self.params.domain or layout.categories.get(name) or name
            targets.append((name, name + self.params.suffix, domain))
        self.targets = tuple(targets)
        self._ts = layout.ts
        if self.params.scope == "day" and layout.ts is None:
            raise BadInput("scope 'day' needs a time column", field="ts")
        self.details["columns"] = {c: out for c, out, _ in targets}
        self.details["key_id"] = self.key.key_id
        categories = dict(layout.categories)
        trace = layout.trace
        renamed = []
        for name, out, _ in targets:
            categories.pop(name, None)
            categories[out] = None
            renamed.append(out)
            if trace == name:
                trace = out
        names_out = tuple(next((o for c, o, _ in targets if c == n), n) for n in layout.names)
        return layout.replace(
            names=names_out,
            categories=categories,
            trace=trace,
            handled=(layout.handled - set(names)) | set(renamed),
        )

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        for name, out, domain in self.targets:
            if name not in batch.schema.names:
                continue
            values = _text(batch.column(name), name)
            scope = self._scope(batch)
            keys = values if scope is None else pc.binary_join_element_wise(values, scope, "\x1f")
            uniques = pc.unique(keys)
            idx = pc.index_in(keys, value_set=uniques)
            scoped = scope is not None
            mapped = pa.array(
                [self._one(domain, k, scoped) for k in uniques.to_pylist()], type=pa.string()
            )
            result = mapped.take(idx)
            i = batch.schema.names.index(name)
            batch = batch.set_column(i, out, result)
        return batch

    def _scope(self, batch: pa.RecordBatch) -> pa.Array | None:
        scope = self.params.scope
        if scope == "value":
            return None
        if scope == "trip":
            if TRIP not in batch.schema.names:
                self.details["scope"] = "value (no trips: the input has no time column)"
                return None
            return pc.cast(batch.column(TRIP), pa.string())
        assert self._ts is not None
        ms = pc.cast(batch.column(self._ts), pa.int64()).to_numpy(zero_copy_only=False)
        day = np.floor_divide(np.nan_to_num(ms), 86_400_000)
        return pc.cast(pa.array(day), pa.string())

    def _one(self, domain: str, joined: str | None, scoped: bool) -> str | None:
        if joined is None:
            return None
        value, scope = joined, ""
        if scoped:
            value, _, scope = joined.rpartition("\x1f")
        cache_key = (domain, scope, value, self.key.key_id)
        hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        prefix = value[:3] if self.params.keep_wmi and len(value) == 17 else ""
        out = pseudonym(self.key, domain, scope, value, self.params.digest_bytes, prefix)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[cache_key] = out
        return out


def _text(column: pa.Array, name: str) -> pa.Array:
    """A column to pseudonymize, as text; ``BadInput`` naming it if it holds no scalar text."""
    if pa.types.is_nested(column.type):
        raise BadInput(
            f"cannot pseudonymize column {name!r} of type {column.type}: it holds lists or "
            "records, not values",
            field=name,
        )
    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise BadInput(
            f"cannot pseudonymize column {name!r} of type {column.type}: its values are not "
            "text (UTF-8) nor convert to it",
            field=name,
        ) from None
