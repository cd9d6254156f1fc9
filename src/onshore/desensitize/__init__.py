"""Desensitization: operators, profiles from the pack, and the residual risk they leave.

>>> import pyarrow as pa, onshore
>>> from onshore.keystore import Key
>>> pack = onshore.load_pack()
>>> key = Key("hmac-sha256", "0123456789abcdef", bytes(32))
>>> t = pa.table({"vin": ["LSVAU2180N2183294"] * 2, "owner_name": ["Li Lei", "Li Lei"]})
>>> safe, risk = onshore.desensitize(t, "internal-analytics", keys=key,
...                                  areas=onshore.load_areas({"type": "FeatureCollection",
...                                                            "features": []}))
>>> safe.column_names, risk.promise.kept, risk.key_ids
(['vin_pseudonym'], True, ('0123456789abcdef',))
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import pyarrow as pa

from onshore.desensitize.kanon import KAnonymity
from onshore.desensitize.operators.base import Operator, OperatorReport
from onshore.desensitize.registry import (
    OperatorSpec,
    Resources,
    operator_spec,
    register_operator,
    registered_operators,
)
from onshore.desensitize.report import PromiseCheck, RiskReport
from onshore.desensitize.risk import UnicityFigure
from onshore.desensitize.runner import Desensitizer
from onshore.errors import BadInput
from onshore.geo.areas import AreaCatalogue
from onshore.geo.index import AreaIndex
from onshore.keystore import HMAC_KEY, Key, Keystore, derive_key
from onshore.packs import Pack, load_pack
from onshore.packs.profiles import OperatorParams, Profile, Selector

__all__ = [
    "Desensitizer",
    "KAnonymity",
    "Operator",
    "OperatorParams",
    "OperatorReport",
    "OperatorSpec",
    "PromiseCheck",
    "Resources",
    "RiskReport",
    "Selector",
    "UnicityFigure",
    "desensitize",
    "operator_spec",
    "pseudonym_key",
    "recipient_label",
    "recipient_pseudonym_key",
    "register_operator",
    "registered_operators",
]


def pseudonym_key(keys: Keystore | Key | None, key_id: str | None = None) -> Key | None:
    """The HMAC key to pseudonymize with: a key as given, or the keystore's (created on first
    use, or ``key_id`` to reproduce pseudonyms of an older key)."""
    if keys is None or isinstance(keys, Key):
        return keys
    if key_id is not None:
        return keys.get(HMAC_KEY, key_id)
    return keys.get_or_create(HMAC_KEY)


def recipient_label(name: str, country: str) -> str:
    """A recipient as its pseudonym key is derived for: the name NFKC-normalised, case-folded,
    its spaces collapsed, then ``@`` and the country code in upper case.

    >>> recipient_label("  ACME  GmbH ", "de")
    'acme gmbh@DE'
    """
    folded = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    return f"{folded}@{country.strip().upper()}"


def recipient_pseudonym_key(
    keys: Keystore | Key, name: str, country: str, master_key_id: str | None = None
) -> Key:
    """The pseudonym key of one transfer recipient: derived (HKDF) from the home's HMAC key
    (``keys``; the current one, or ``master_key_id``) with the recipient as its use.

    A recipient's pseudonyms are stable across its packages (while the home key is not
    rotated) but share no value with another recipient's or with the home key's own (the
    ledger's, ``POST /v1/desensitize``'s), so recipients cannot join their data on them, nor
    can anyone holding home-key pseudonyms of chosen VINs find those VINs in a package. The
    derived key has its own key id and is never stored.
    """
    if isinstance(keys, Key):
        master = keys
    elif master_key_id is not None:
        master = keys.get(HMAC_KEY, master_key_id)
    else:
        master = keys.get_or_create(HMAC_KEY)
    label = recipient_label(name, country)
    return derive_key(master, b"transfer-recipient\x00" + label.encode("utf-8"))


def desensitize(
    data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
    profile: Profile | str,
    *,
    keys: Keystore | Key | None = None,
    areas: AreaCatalogue | AreaIndex | None = None,
    boundaries: AreaCatalogue | None = None,
    pack: Pack | None = None,
    subject: str | None = None,
) -> tuple[pa.Table, RiskReport]:
    """Apply a profile (a :class:`Profile`, a profile name of the pack, or a profile file) to
    an Arrow table or a stream of batches: the safe table and the risk report.

    The report's ``promise.kept`` says whether the output's re-classification keeps the
    profile's promise; the CLI refuses (exit 4) when it does not. For inputs larger than
    memory use :class:`Desensitizer` batch by batch.
    """
    pack = pack or load_pack()
    chosen = profile if isinstance(profile, Profile) else pack.profile(profile)
    needs_key = any(s.op == "pseudonymize" for s in chosen.steps)
    key = pseudonym_key(keys) if needs_key else None
    if needs_key and key is None:
        raise BadInput(f"profile {chosen.name!r} pseudonymizes: pass keys= (a Keystore or Key)")
    runner = Desensitizer(
        chosen, pack, key=key, areas=areas, boundaries=boundaries, subject=subject
    )
    if isinstance(data, pa.Table):
        batches: Iterable[pa.RecordBatch] = data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        batches = [data]
    else:
        batches = data
    out: list[pa.RecordBatch] = []
    for batch in batches:
        out.extend(runner.push(batch))
    out.extend(runner.finish())
    report = runner.report()
    if out:
        table = pa.Table.from_batches(out)
    else:  # no row released: the schema of what would have been, when known
        schema = runner.output_schema
        table = schema.empty_table() if schema is not None else pa.table({})
    return table, report
