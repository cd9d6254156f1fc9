"""A lean MQTT 5 / 3.1.1 subscriber: a persistent QoS 1 session, messages and acks in bulk.

What the worker needs of MQTT and no more: CONNECT (persistent session; MQTT 5 with a session
expiry and a Receive Maximum), SUBSCRIBE at QoS 1, PUBLISH in, PUBACK out, PINGREQ, DISCONNECT,
and reconnecting with back-off. It exists for the cost per message: paho-mqtt reads a packet
per ``select()`` with three ``recv`` calls, builds a message object and its properties, matches
callbacks under locks, and writes each PUBACK with a wake-up and a ``send`` of its own, about
100 µs of CPU a message, more than the whole pipeline spends on a row. Here a reader thread
reads what the socket holds (up to 1 MiB) and cuts every packet in it into a plain tuple
``(topic, payload, packet id, generation)``; :meth:`Subscriber.take` hands all of them over at
once and :meth:`Subscriber.ack` writes the PUBACKs of a batch in one ``sendall``.

A packet id is only good on the connection it came on. Each connection has a *generation*;
:meth:`Subscriber.ack` drops the acknowledgements of messages from an earlier one, as the
broker redelivers those on the new connection (the key index then knows them as duplicates).

>>> topic_matches("vehicles/+/telemetry", "vehicles/LSVB0000000000001/telemetry")
True
>>> topic_matches("vehicles/#", "vehicles"), topic_matches("a/+", "a/b/c")
(True, False)
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

from onshore.errors import StorageError

Message = tuple[bytes, bytes, int, int]
"""``(topic, payload, packet id, generation)``; the packet id is 0 for QoS 0 (nothing to ack)."""

RECEIVE_MAXIMUM = 65_535
_CHUNK = 1 << 20
_PUBACK = struct.Struct(">BBH")
_PINGREQ = b"\xc0\x00"
_DISCONNECT = b"\xe0\x00"


@dataclass(frozen=True)
class MqttSettings:
    """Where the broker is and how to hold the session."""

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "onshore-ingest"
    protocol: int = 5  # 5 or 311
    keepalive: int = 30
    session_expiry: int = 7 * 24 * 3600
    username: str | None = None
    password: str | None = None


class ProtocolError(StorageError):
    """The broker refused the session or sent what MQTT does not allow."""


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` matches the filter ``pattern`` (``+`` one level, ``#`` the rest)."""
    want, have = pattern.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return i == len(want) - 1
        if i >= len(have) or (level != "+" and level != have[i]):
            return False
    return len(want) == len(have)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def _read_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    value, mult = 0, 1
    for _ in range(4):
        if pos >= len(buf):
            raise ProtocolError("a packet ends inside a variable-length integer")
        byte = buf[pos]
        pos += 1
        value += (byte & 0x7F) * mult
        if not byte & 0x80:
            return value, pos
        mult *= 128
    raise ProtocolError("a variable-length integer longer than 4 bytes")


# MQTT 5 property identifiers by the size of their value (3.1.2.11 and its table 2-4).
_FIXED = {
    **dict.fromkeys((0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A), 1),
    **dict.fromkeys((0x13, 0x21, 0x22, 0x23), 2),
    **dict.fromkeys((0x02, 0x11, 0x18, 0x27), 4),
}
_SERVER_KEEP_ALIVE, _REASON_STRING = 0x13, 0x1F


def _properties(buf: bytes, pos: int) -> tuple[dict[int, int | bytes], int]:
    """The MQTT 5 properties at ``pos``: id → value (ints, or the raw bytes of strings)."""
    length, pos = _read_varint(buf, pos)
    end, out = pos + length, {}
    while pos < end:
        ident = buf[pos]
        pos += 1
        value: int | bytes
        if ident in _FIXED:
            size = _FIXED[ident]
            value, pos = int.from_bytes(buf[pos : pos + size], "big"), pos + size
        elif ident == 0x0B:
            value, pos = _read_varint(buf, pos)
        else:  # strings, binary data, and a user property's two strings
            size = int.from_bytes(buf[pos : pos + 2], "big")
            value, pos = bytes(buf[pos + 2 : pos + 2 + size]), pos + 2 + size
            if ident == 0x26:
                pos += 2 + int.from_bytes(buf[pos : pos + 2], "big")
        out[ident] = value
    return out, end


class Subscriber:
    """One persistent session on a broker, subscribed at QoS 1 to ``filters``."""

    def __init__(self, settings: MqttSettings, filters: list[str]) -> None:
        if settings.protocol not in (5, 311):
            raise ProtocolError(f"MQTT protocol {settings.protocol}: 5 or 311")
        self.settings = settings
        self.filters = filters
        self.generation = 0
        self.connected = threading.Event()
        self._v5 = settings.protocol == 5
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._keepalive = float(settings.keepalive)
        self._last_send = time.monotonic()
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._pending: list[Message] = []
        self._closing = False
        self._reader: threading.Thread | None = None
        self.last_error: str | None = None

    # -- the session ------------------------------------------------------------------------
    def connect(self, timeout: float = 10.0) -> None:
        """Open the session and subscribe; then a reader thread receives (and reconnects)."""
        self._open(timeout)
        self._reader = threading.Thread(target=self._read_loop, name="mqtt-reader", daemon=True)
        self._reader.start()
        if not self.connected.wait(timeout):
            self.close()
            raise StorageError(f"the MQTT broker {self._where} did not accept the subscription")

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _open(self, timeout: float) -> None:
        s = self.settings
        try:
            sock = socket.create_connection((s.host, s.port), timeout=timeout)
        except OSError as exc:
            raise StorageError(f"cannot reach the MQTT broker {self._where}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Clean session / clean start is off: the session persists on the broker.
        password = s.password if s.username else None
        flags = (0x80 if s.username else 0) | (0x40 if password is not None else 0)
        level = 5 if self._v5 else 4
        head = b"\x00\x04MQTT" + bytes([level, flags]) + s.keepalive.to_bytes(2, "big")
        if self._v5:
            props = b"\x11" + s.session_expiry.to_bytes(4, "big")
            props += b"\x21" + RECEIVE_MAXIMUM.to_bytes(2, "big")
            head += _varint(len(props)) + props
        payload = _text(s.client_id)
        if s.username:
            payload += _text(s.username)
        if password is not None:
            payload += _text(password)
        try:
            sock.sendall(_packet(0x10, head + payload))
            buf = bytearray()
            while True:
                first, body, used = self._cut(buf)
                if first is not None:
                    break
                chunk = sock.recv(_CHUNK)
                if not chunk:
                    raise ProtocolError(f"the MQTT broker {self._where} closed the connection")
                buf += chunk
            del buf[:used]
            self._check_connack(first, body)
            sock.settimeout(None)
            self._sock, self._buf = sock, buf
            self._subscribe()
        except BaseException as exc:
            sock.close()
            if isinstance(exc, OSError):
                raise StorageError(f"MQTT broker {self._where}: {exc}") from exc
            raise
        self._last_send = time.monotonic()

    @staticmethod
    def _cut(buf: bytearray) -> tuple[int | None, bytes, int]:
        """The first whole packet of ``buf`` (type byte, body, bytes used), or ``None``."""
        if len(buf) < 2:
            return None, b"", 0
        try:
            length, pos = _read_varint(buf, 1)
        except ProtocolError:
            if len(buf) < 5:
                return None, b"", 0
            raise
        if pos + length > len(buf):
            return None, b"", 0
        return buf[0], bytes(buf[pos : pos + length]), pos + length

    def _check_connack(self, first: int, body: bytes) -> None:
        if first >> 4 != 2 or len(body) < 2:
            raise ProtocolError(f"the MQTT broker {self._where} answered CONNECT with {first:#x}")
        code = body[1]
        if self._v5 and len(body) > 2:
            props, _ = _properties(body, 2)
            if isinstance(keep := props.get(_SERVER_KEEP_ALIVE), int):
                self._keepalive = float(keep)
            if code and isinstance(why := props.get(_REASON_STRING), bytes):
                raise ProtocolError(f"the MQTT broker {self._where} refused the session: "
                                    f"{code:#x} {why.decode(errors='replace')}")  # fmt: skip
        if code:
            raise ProtocolError(f"the MQTT broker {self._where} refused the session: {code:#x}")

    def _subscribe(self) -> None:
        body = b"\x00\x01" + (b"\x00" if self._v5 else b"")
        for f in self.filters:
            body += _text(f) + b"\x01"  # QoS 1 at most
        self._send(_packet(0x82, body))

    def _send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionError("not connected")
        with self._send_lock:
            sock.sendall(data)
            self._last_send = time.monotonic()

    def close(self) -> None:
        """Disconnect (the session stays on the broker) and stop the reader."""
        self._closing = True
        sock = self._sock
        if sock is not None:
            try:
                self._send(_DISCONNECT)
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=5)
        if sock is not None:
            sock.close()
        self._sock = None
        self.connected.clear()
        with self._cond:
            self._cond.notify_all()

    # -- receiving --------------------------------------------------------------------------
    def _read_loop(self) -> None:
        delay = 0.5
        while not self._closing:
            sock = self._sock
            try:
                if sock is None:
                    raise ConnectionError("not connected")
                if self._buf:
                    self._parse()
                ready, _, _ = select.select([sock], [], [], 1.0)
                if ready:
                    chunk = sock.recv(_CHUNK)
                    if not chunk:
                        raise ConnectionError("closed by the broker")
                    self._buf += chunk
                    self._parse()
                if time.monotonic() - self._last_send >= self._keepalive / 2:
                    self._send(_PINGREQ)
                delay = 0.5
            except (OSError, ValueError, StorageError) as exc:
                if self._closing:
                    return
                self.last_error = str(exc)
                self.connected.clear()
                if sock is not None:
                    sock.close()
                self._sock = None
                self._buf = bytearray()
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                try:
                    self.generation += 1
                    self._open(10.0)
                except StorageError as again:
                    self.last_error = str(again)

    def _parse(self) -> None:
        """Cut the whole packets out of the read buffer; PUBLISH → the pending list."""
        buf = self._buf
        view = memoryview(buf)
        n, pos, gen, v5 = len(buf), 0, self.generation, self._v5
        out: list[Message] = []
        try:
            while n - pos >= 2:
                first, i, length, mult, whole = buf[pos], pos + 1, 0, 1, False
                while i < n and i - pos <= 4:
                    byte = buf[i]
                    i += 1
                    length += (byte & 0x7F) * mult
                    if not byte & 0x80:
                        whole = True
                        break
                    mult <<= 7
                if not whole:
                    if i - pos > 4:
                        raise ProtocolError("a remaining length longer than 4 bytes")
                    break
                end = i + length
                if end > n:
                    break
                kind = first >> 4
                if kind == 3:  # PUBLISH
                    p = i + 2 + (buf[i] << 8 | buf[i + 1])
                    topic = bytes(view[i + 2 : p])
                    qos = (first >> 1) & 3
                    pid = 0
                    if qos:
                        if qos == 2:
                            raise ProtocolError("a QoS 2 PUBLISH on a QoS 1 subscription")
                        pid = buf[p] << 8 | buf[p + 1]
                        p += 2
                    if v5:
                        plen, p = _read_varint(buf, p)
                        p += plen
                    out.append((topic, bytes(view[p:end]), pid, gen))
                elif kind == 9:  # SUBACK
                    self._check_suback(bytes(view[i:end]))
                elif kind == 14:  # DISCONNECT from the broker (MQTT 5)
                    code = buf[i] if length else 0
                    raise ProtocolError(f"the MQTT broker disconnected the session: {code:#x}")
                elif kind != 13:  # anything but PINGRESP
                    raise ProtocolError(f"unexpected MQTT packet type {kind}")
                pos = end
        finally:
            view.release()
            del buf[:pos]
            if out:
                with self._cond:
                    self._pending.extend(out)
                    self._cond.notify()

    def _check_suback(self, body: bytes) -> None:
        pos = 2
        if self._v5:
            _, pos = _properties(body, pos)
        refused = [f for f, code in zip(self.filters, body[pos:], strict=False) if code >= 0x80]
        if refused:
            raise ProtocolError(f"the MQTT broker refused the subscription to {refused}")
        self.connected.set()

    def take(self, timeout: float) -> list[Message]:
        """Every message received so far (waiting up to ``timeout`` seconds for the first)."""
        with self._cond:
            if not self._pending and not self._closing:
                self._cond.wait(timeout)
            out, self._pending = self._pending, []
        return out

    def ack(self, messages: list[Message]) -> int:
        """Acknowledge ``messages`` in one write; returns how many PUBACKs went out.

        Messages of an earlier connection are skipped (the broker delivers them again), and so
        is a write on a connection that just broke (likewise)."""
        gen = self.generation
        pack = _PUBACK.pack
        data = b"".join([pack(0x40, 2, m[2]) for m in messages if m[2] and m[3] == gen])
        if not data:
            return 0
        try:
            self._send(data)
        except OSError:
            return 0
        return len(data) // 4
