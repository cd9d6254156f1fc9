"""Ingest runners: the MQTT worker and the batch ingestor the HTTP service shares.

Messages (JSON or GB/T 32960.3 frames) are decoded to canonical Arrow rows, keyed by VIN +
timestamp + frame type so redelivery is idempotent, and run through the one pipeline
(:func:`onshore.pipeline.ingest`): consent gate → classify → residency → store → ledger.
"""

from __future__ import annotations

from onshore.ingest.batch import BatchOutcome, Ingestor, PipelineOptions
from onshore.ingest.decode import Decoded, Rejected, decode_gbt32960, decode_json
from onshore.ingest.keys import KeyIndex
from onshore.ingest.mqtt import BatchPolicy, MqttWorker, Route, worker_id
from onshore.ingest.recovery import Recovered, recover
from onshore.ingest.subscriber import MqttSettings

__all__ = [
    "BatchOutcome",
    "BatchPolicy",
    "Decoded",
    "Ingestor",
    "KeyIndex",
    "MqttSettings",
    "MqttWorker",
    "PipelineOptions",
    "Recovered",
    "Rejected",
    "Route",
    "decode_gbt32960",
    "decode_json",
    "recover",
    "worker_id",
]
