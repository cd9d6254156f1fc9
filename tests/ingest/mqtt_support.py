"""The Mosquitto the integration tests use, and a QoS 1 publisher."""

from __future__ import annotations

import os
import socket
import threading
import uuid

import pytest

HOST = os.environ.get("ONSHORE_TEST_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("ONSHORE_TEST_MQTT_PORT", "1883"))


def require_broker() -> None:
    """Skip when the broker is down, except under ``ONSHORE_CI=1`` where that is a failure."""
    try:
        socket.create_connection((HOST, PORT), timeout=3).close()
    except OSError as exc:
        if os.environ.get("ONSHORE_CI"):
            raise AssertionError(f"MQTT broker not reachable at {HOST}:{PORT}: {exc}") from exc
        pytest.skip(f"MQTT broker not reachable at {HOST}:{PORT}: {exc}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Publisher:
    """A QoS 1 publisher that counts the broker's acknowledgements."""

    def __init__(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=unique("pub"), protocol=mqtt.MQTTv5
        )
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.acked = 0
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.client.connect(HOST, PORT)
        self.client.loop_start()

    def _on_publish(self, *_args: object) -> None:
        with self._lock:
            self.acked += 1

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def forget_session(client_id: str, protocol: int) -> None:
    """Remove a persistent session from the broker (clean start, then disconnect)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    if protocol == 5:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.connect(HOST, PORT, clean_start=True)
    else:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        c.connect(HOST, PORT)
    c.loop(timeout=1.0)
    c.disconnect()
