"""The lean MQTT subscriber against a small scripted broker on loopback: the handshake of both
protocol versions, PUBLISH packets cut out of any split of the byte stream, PUBACKs in one
write, and the refusal of a session."""

from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onshore.errors import StorageError
from onshore.ingest.subscriber import MqttSettings, Subscriber, topic_matches


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic: bytes, payload: bytes, pid: int, v5: bool, qos: int = 1) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (pid.to_bytes(2, "big") if qos else b"")
    if v5:
        props = b"\x01\x01"  # a payload format indicator, to be skipped
        body += _varint(len(props)) + props
    return bytes([0x30 | qos << 1]) + _varint(len(body) + len(payload)) + body + payload


class Broker:
    """Accepts one client, answers CONNECT and SUBSCRIBE, then sends ``stream`` in ``cuts``."""

    def __init__(self, v5: bool, stream: bytes, cuts: list[int], connack_code: int = 0) -> None:
        self.v5, self.stream, self.cuts, self.code = v5, stream, cuts, connack_code
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self.connect = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read_packet(self, conn: socket.socket) -> bytes:
        data = b""
        while True:
            data += conn.recv(65536)
            if len(data) >= 2:
                length, i, mult = 0, 1, 1
                while data[i] & 0x80:
                    length += (data[i] & 0x7F) * mult
                    mult *= 128
                    i += 1
                length += data[i] * mult
                if len(data) >= i + 1 + length:
                    return data

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            self.connect = self._read_packet(conn)
            props = b"\x00" if self.v5 else b""
            conn.sendall(b"\x20" + bytes([2 + len(props), 0, self.code]) + props)
            if self.code:
                return
            self._read_packet(conn)  # SUBSCRIBE
            conn.sendall(b"\x90" + bytes([3 + len(props)]) + b"\x00\x01" + props + b"\x01")
            pos = 0
            for cut in [*self.cuts, len(self.stream)]:
                conn.sendall(self.stream[pos:cut])
                pos = cut
            conn.settimeout(5)
            try:
                while chunk := conn.recv(65536):
                    self.received += chunk
            except OSError:
                pass


def _messages(n: int) -> list[tuple[bytes, bytes, int]]:
    return [(f"v/{i}/t".encode(), b"x" * (i * 37 % 300), i + 1) for i in range(n)]


@settings(max_examples=25, deadline=None)
@given(
    v5=st.booleans(),
    n=st.integers(1, 40),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_packets_are_cut_out_of_any_split_of_the_stream(v5: bool, n: int, cuts: list[int]) -> None:
    messages = _messages(n)
    stream = b"".join(_publish(t, p, pid, v5) for t, p, pid in messages) + b"\xd0\x00"
    cuts = sorted(c % (len(stream) + 1) for c in cuts)
    broker = Broker(v5, stream, cuts)
    sub = Subscriber(MqttSettings(port=broker.port, protocol=5 if v5 else 311), ["v/+/t"])
    sub.connect(timeout=5)
    got: list[tuple[bytes, bytes, int, int]] = []
    for _ in range(100):
        got += sub.take(0.05)
        if len(got) >= n:
            break
    assert [(t, p, pid) for t, p, pid, _gen in got] == messages
    assert sub.ack(got) == n
    sub.close()
    broker.thread.join(timeout=5)
    acks = bytes(broker.received).removesuffix(b"\xe0\x00")
    assert acks == b"".join(b"\x40\x02" + pid.to_bytes(2, "big") for _t, _p, pid in messages)
    level = broker.connect[8]
    assert level == (5 if v5 else 4)
    assert broker.connect[9] & 0x02 == 0  # clean start / clean session off


def test_qos0_messages_are_not_acknowledged() -> None:
    stream = _publish(b"v/1/t", b"a", 0, True, qos=0) + _publish(b"v/2/t", b"b", 7, True)
    broker = Broker(True, stream, [])
    sub = Subscriber(MqttSettings(port=broker.port), ["v/+/t"])
    sub.connect(timeout=5)
    got: list[tuple[bytes, bytes, int, int]] = []
    for _ in range(100):
        got += sub.take(0.05)
        if len(got) >= 2:
            break
    assert [m[2] for m in got] == [0, 7]
    assert sub.ack(got) == 1
    sub.close()


class RedeliveringBroker(Broker):
    """Sends ``stream`` and drops the connection; sends it again on the next (a redelivery)."""

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            self._handshake(conn)
            conn.sendall(self.stream)
        second, _ = self.server.accept()
        with second:
            self._handshake(second)
            second.sendall(self.stream)
            second.settimeout(5)
            try:
                while chunk := second.recv(65536):
                    self.received += chunk
            except OSError:
                pass

    def _handshake(self, conn: socket.socket) -> None:
        self._read_packet(conn)
        conn.sendall(b"\x20\x03\x01\x00\x00")  # session present
        self._read_packet(conn)
        conn.sendall(b"\x90\x04\x00\x01\x00\x01")


def test_after_a_reconnect_only_the_new_connections_messages_are_acknowledged() -> None:
    messages = _messages(3)
    stream = b"".join(_publish(t, p, pid, True) for t, p, pid in messages)
    broker = RedeliveringBroker(True, stream, [])
    sub = Subscriber(MqttSettings(port=broker.port), ["v/+/t"])
    sub.connect(timeout=5)
    got: list[tuple[bytes, bytes, int, int]] = []
    for _ in range(200):
        got += sub.take(0.05)
        if len(got) >= 6:
            break
    assert [(m[2], m[3]) for m in got] == [(1, 0), (2, 0), (3, 0), (1, 1), (2, 1), (3, 1)]
    assert sub.ack(got) == 3  # the first connection's packet ids are void
    sub.close()
    broker.thread.join(timeout=5)
    assert bytes(broker.received).removesuffix(b"\xe0\x00") == b"".join(
        b"\x40\x02" + pid.to_bytes(2, "big") for _t, _p, pid in messages
    )


def test_a_refused_session_is_a_storage_error() -> None:
    broker = Broker(False, b"", [], connack_code=5)  # not authorized
    sub = Subscriber(MqttSettings(port=broker.port, protocol=311), ["v/+/t"])
    with pytest.raises(StorageError, match="refused the session"):
        sub.connect(timeout=5)


@pytest.mark.parametrize(
    ("pattern", "topic", "match"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a/#", "a/b/c", True),
        ("a/#", "a", True),
        ("+", "a/b", False),
        ("a/b", "a/b/", False),
    ],
)
def test_topic_matches(pattern: str, topic: str, match: bool) -> None:
    assert topic_matches(pattern, topic) is match
