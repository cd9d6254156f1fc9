"""Onshore: keep connected-vehicle data lawful under China's automotive data security rules.

The public API; modules behind it are free to move.

>>> import onshore, pyarrow as pa
>>> pack = onshore.load_pack("cn-auto")
>>> onshore.classify(pa.table({"vin": ["LSVAU2180N2183294"]}), pack).assessment.level.label
'personal'
"""

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
