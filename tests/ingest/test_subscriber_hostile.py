"""The subscriber against a hostile broker: malformed, truncated and oversized packets, bad
properties, and silence. Every one closes the connection and reconnects (the next connection
delivers), never an exception in the reader and never a client that stays "connected" on a
dead link. Then a fuzz run of the packet parser over any bytes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from hostile_broker import GOOD_SUBACK_V5, HostileBroker, Script, publish_v5

from onshore.errors import StorageError
from onshore.ingest.subscriber import MqttSettings, ProtocolError, Subscriber, _properties

GOOD = publish_v5(b"v/1/t", b"hello", 1)


def _settings(port: int, **kw: object) -> MqttSettings:
    return MqttSettings(port=port, client_id="hostile", **kw)  # type: ignore[arg-type]


def _take(sub: Subscriber, n: int, seconds: float) -> list[tuple[bytes, bytes, int, int]]:
    got: list[tuple[bytes, bytes, int, int]] = []
    deadline = time.monotonic() + seconds
    while len(got) < n and time.monotonic() < deadline:
        got += sub.take(0.05)
    return got


BAD_AFTER_SUBACK = {
    "publish of length 0": b"\x30\x00",
    "publish with a topic past its end": b"\x30\x01\x00",
    "topic length over the packet": b"\x32\x04\x00\x09ab",
    "QoS 1 without a packet id": b"\x32\x03\x00\x01\x61",
    "QoS 1 with packet id 0": b"\x32\x06\x00\x01a\x00\x00\x00",
    "v5 properties past the end": b"\x32\x06\x00\x01a\x00\x01\x09",
    "QoS 2": b"\x34\x06\x00\x01a\x00\x01\x00",
    "QoS 3": b"\x36\x06\x00\x01a\x00\x01\x00",
    "a second SUBACK with overrunning properties": b"\x90\x04\x00\x01\x05\x00",
    "a SUBACK without its packet id": b"\x90\x01\x00",
    "an unexpected CONNACK": b"\x20\x03\x00\x00\x00",
    "an unknown packet type": b"\xf0\x00",
    "a remaining length of 5 bytes": b"\x30\xff\xff\xff\xff\x7f",
    "a declared 256 MiB packet": b"\x30\xff\xff\xff\x7f" + b"x" * 70_000,
    "a DISCONNECT": b"\xe0\x01\x8b",
    "half a packet, then closed": GOOD[:7],
}


@pytest.mark.parametrize("bad", BAD_AFTER_SUBACK.values(), ids=BAD_AFTER_SUBACK.keys())
def test_a_bad_packet_reconnects_and_the_next_connection_delivers(bad: bytes) -> None:
    end = "close" if bad == GOOD[:7] else "pong"
    broker = HostileBroker([Script(then=bad, end=end), Script(then=GOOD)])
    sub = Subscriber(_settings(broker.port), ["v/+/t"])
    try:
        sub.connect(timeout=5)
        got = _take(sub, 1, 10)
        assert [(m[0], m[1], m[2]) for m in got] == [(b"v/1/t", b"hello", 1)]
        assert got[0][3] == 1  # on the second connection
        assert sub.connected.is_set() and sub.alive and sub.reader_error is None
        assert sub.last_error  # the first connection's fault, kept
        assert len(sub._buf) < 2 << 20  # the 256 MiB packet was never buffered
        assert sub.ack(got) == 1
    finally:
        sub.close()
        broker.close()


@pytest.mark.parametrize(
    "connack",
    [
        b"\x20\x03\x00\x00\x05",  # properties longer than the packet
        b"\x20\x04\x00\x00\x01\x13",  # Server Keep Alive without its value
        b"\x20\x05\x00\x00\x02\x1f\x00",  # a reason string cut short
        b"\x20\x04\x00\x00\x01\x7e",  # an unknown property
        b"\x20\x01\x00",  # too short
        b"\x90\x03\x00\x00\x00",  # not a CONNACK
    ],
)
def test_a_bad_connack_is_a_protocol_error(connack: bytes) -> None:
    broker = HostileBroker([Script(connack=connack, suback=None)])
    sub = Subscriber(_settings(broker.port), ["v/+/t"])
    try:
        with pytest.raises(ProtocolError):
            sub.connect(timeout=5)
    finally:
        broker.close()


def test_a_silent_broker_is_noticed_and_left() -> None:
    """The broker stops answering (a half-open link): no PINGRESP within the deadline closes
    the connection, and the client reconnects."""
    broker = HostileBroker([Script(end="silent"), Script(then=GOOD)])
    sub = Subscriber(_settings(broker.port, keepalive=2, ping_timeout=1.0), ["v/+/t"])
    try:
        sub.connect(timeout=5)
        started = time.monotonic()
        got = _take(sub, 1, 10)
        assert got and got[0][3] == 1
        assert time.monotonic() - started < 6
        assert "PINGRESP" in (sub.last_error or "")
        assert broker.seen[0].after.count(b"\xc0\x00") == 1  # one PINGREQ, not seven
    finally:
        sub.close()
        broker.close()


def test_connect_announces_the_maximum_packet_size() -> None:
    broker = HostileBroker([Script()])
    sub = Subscriber(_settings(broker.port, max_packet=123_456), ["v/+/t"])
    try:
        sub.connect(timeout=5)
        connect = broker.seen[0].connect
        assert b"\x27" + (123_456).to_bytes(4, "big") in connect
        assert b"\x21\xff\xff" in connect  # Receive Maximum
    finally:
        sub.close()
        broker.close()


def test_a_refused_subscription_reconnects_and_says_why() -> None:
    broker = HostileBroker([Script(suback=b"\x90\x04\x00\x01\x00\x80")])
    sub = Subscriber(_settings(broker.port), ["v/+/t"])
    with pytest.raises(StorageError, match="refused the subscription"):
        sub.connect(timeout=3)
    broker.close()


def _parser(v5: bool) -> Subscriber:
    sub = Subscriber(MqttSettings(protocol=5 if v5 else 311, max_packet=1 << 16), ["a/+", "b"])
    return sub


@settings(max_examples=3000, deadline=None)
@given(v5=st.booleans(), data=st.binary(max_size=300))
def test_the_packet_parser_takes_any_bytes(v5: bool, data: bytes) -> None:
    """Any bytes: whole packets become messages, or a ProtocolError; nothing else escapes."""
    sub = _parser(v5)
    sub._buf = bytearray(data)
    try:
        sub._parse()
    except ProtocolError:
        return
    for topic, payload, pid, _gen in sub.take(0):
        assert isinstance(topic, bytes) and isinstance(payload, bytes) and 0 <= pid < 65536
    assert len(sub._buf) <= len(data)


@settings(max_examples=1500, deadline=None)
@given(
    v5=st.booleans(),
    first=st.integers(0, 255),
    body=st.binary(max_size=80),
)
def test_any_connack_or_suback_body_is_taken_or_a_protocol_error(
    v5: bool, first: int, body: bytes
) -> None:
    sub = _parser(v5)
    with contextlib.suppress(ProtocolError):
        sub._check_connack(first, body)
    with contextlib.suppress(ProtocolError):
        sub._check_suback(body)
    with contextlib.suppress(ProtocolError):
        _properties(body, 0, len(body))


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.lists(st.sampled_from(list(BAD_AFTER_SUBACK.values())), max_size=3),
    junk=st.binary(max_size=40),
)
def test_a_stream_of_packets_mixed_with_bad_ones_fails_cleanly(
    prefix: list[bytes], junk: bytes
) -> None:
    sub = _parser(True)
    sub._buf = bytearray(GOOD + b"".join(prefix) + junk + GOOD_SUBACK_V5)
    with contextlib.suppress(ProtocolError):
        sub._parse()
    assert sub.take(0)[:1] == [(b"v/1/t", b"hello", 1, 0)]
