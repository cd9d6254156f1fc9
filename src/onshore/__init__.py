"""Onshore: keep connected-vehicle data lawful under China's automotive data security rules.

The public API; modules behind it are free to move.

>>> import onshore, pyarrow as pa
>>> pack = onshore.load_pack("cn-auto")
>>> onshore.classify(pa.table({"vin": ["LSVAU2180N2183294"]}), pack).assessment.level.label
'personal'
"""

from onshore.classify import Classification, Classifier, classify
from onshore.errors import (
    AreaError,
    BadInput,
    IntegrityError,
    OnshoreError,
    PackError,
    PolicyRefusal,
    StorageError,
)
from onshore.geo import AreaCatalogue, AreaIndex, load_areas
from onshore.model import Assessment, BadRecord, FieldLabel, Finding, LegalRef, Level
from onshore.packs import Pack, load_pack

__all__ = [
    "AreaCatalogue",
    "AreaError",
    "AreaIndex",
    "Assessment",
    "BadInput",
    "BadRecord",
    "Classification",
    "Classifier",
    "FieldLabel",
    "Finding",
    "IntegrityError",
    "LegalRef",
    "Level",
    "OnshoreError",
    "Pack",
    "PackError",
    "PolicyRefusal",
    "StorageError",
    "classify",
    "load_areas",
    "load_pack",
]
__version__ = "0.1.0"
