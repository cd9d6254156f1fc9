"""Stores with a jurisdiction: the data home, its metadata database and its Parquet lake.

``DataHome`` opens a home (metadata database, ledger, keystore, declared stores); ``Lake``
lists, stages and atomically rewrites Parquet files; every write is checked for residency
(``enforce_residency``) before it reaches a store. Data-subject rights and retention are in
``onshore.store.subject`` and ``onshore.store.purge``.
"""

from onshore.store.db import MetaDB
from onshore.store.home import DEFAULT_STORE, DataHome, StoreInfo
from onshore.store.lake import Lake, LakeFile, StagedWrite
from onshore.store.residency import ResidencyDecision, enforce_residency, residency_decision

__all__ = [
    "DEFAULT_STORE",
    "DataHome",
    "Lake",
    "LakeFile",
    "MetaDB",
    "ResidencyDecision",
    "StagedWrite",
    "StoreInfo",
    "enforce_residency",
    "residency_decision",
]
