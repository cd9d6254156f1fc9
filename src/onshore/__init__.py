"""Onshore: keep connected-vehicle data lawful under China's automotive data security rules.

The public API; modules behind it are free to move.

>>> import onshore, pyarrow as pa
>>> pack = onshore.load_pack("cn-auto")
>>> onshore.classify(pa.table({"vin": ["LSVAU2180N2183294"]}), pack).assessment.level.label
'personal'
"""

from __future__ import annotations

import typing

from onshore._exports import export_lazily

if typing.TYPE_CHECKING:
    from onshore.classify import Classification, Classifier, classify
    from onshore.consent import ConsentGate, ConsentRegistry
    from onshore.desensitize import Desensitizer, RiskReport, desensitize
    from onshore.errors import (
        AreaError,
        BadInput,
        IntegrityError,
        OnshoreError,
        PackError,
        PolicyRefusal,
        StorageError,
        StorageUnavailable,
    )
    from onshore.geo import AreaCatalogue, AreaIndex, load_areas
    from onshore.model import Assessment, BadRecord, FieldLabel, Finding, LegalRef, Level
    from onshore.packs import Pack, load_pack
    from onshore.pipeline import IngestResult, ingest
    from onshore.report import build_report, render_notice, verify_document
    from onshore.store import DataHome, Lake

__all__ = [
    "AreaCatalogue",
    "AreaError",
    "AreaIndex",
    "Assessment",
    "BadInput",
    "BadRecord",
    "Classification",
    "Classifier",
    "ConsentGate",
    "ConsentRegistry",
    "DataHome",
    "Desensitizer",
    "FieldLabel",
    "Finding",
    "IngestResult",
    "IntegrityError",
    "Lake",
    "LegalRef",
    "Level",
    "OnshoreError",
    "Pack",
    "PackError",
    "PolicyRefusal",
    "RiskReport",
    "StorageError",
    "StorageUnavailable",
    "build_report",
    "classify",
    "desensitize",
    "ingest",
    "load_areas",
    "load_pack",
    "render_notice",
    "verify_document",
]
__version__ = "0.1.0"

# Each public name is imported from its module when first used (onshore._exports), so that
# `onshore --help` and `onshore scan` load only what they use (issue 21).
export_lazily(
    __name__,
    {
        "AreaCatalogue": "onshore.geo",
        "AreaError": "onshore.errors",
        "AreaIndex": "onshore.geo",
        "Assessment": "onshore.model",
        "BadInput": "onshore.errors",
        "BadRecord": "onshore.model",
        "Classification": "onshore.classify",
        "Classifier": "onshore.classify",
        "ConsentGate": "onshore.consent",
        "ConsentRegistry": "onshore.consent",
        "DataHome": "onshore.store",
        "Desensitizer": "onshore.desensitize",
        "FieldLabel": "onshore.model",
        "Finding": "onshore.model",
        "IngestResult": "onshore.pipeline",
        "IntegrityError": "onshore.errors",
        "Lake": "onshore.store",
        "LegalRef": "onshore.model",
        "Level": "onshore.model",
        "OnshoreError": "onshore.errors",
        "Pack": "onshore.packs",
        "PackError": "onshore.errors",
        "PolicyRefusal": "onshore.errors",
        "RiskReport": "onshore.desensitize",
        "StorageError": "onshore.errors",
        "StorageUnavailable": "onshore.errors",
        "build_report": "onshore.report",
        "classify": "onshore.classify",
        "desensitize": "onshore.desensitize",
        "ingest": "onshore.pipeline",
        "load_areas": "onshore.geo",
        "load_pack": "onshore.packs",
        "render_notice": "onshore.report",
        "verify_document": "onshore.report",
    },
    keep=frozenset({"classify", "desensitize"}),
)
