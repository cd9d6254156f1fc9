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

Whatever the broker sends, the client survives it: every parse path checks lengths, and a
packet MQTT does not allow (malformed, truncated, over the Maximum Packet Size the client
announces, a DISCONNECT) is a :class:`ProtocolError` that closes the connection and reconnects
with back-off; the persistent session then redelivers what was not acknowledged. A broker that
stops answering is noticed: a PINGREQ unanswered for ``ping_timeout`` seconds counts as a dead
connection. The read buffer holds at most one packet of the maximum size, and the reader stops
reading (TCP pushes back on the broker) while more than :data:`MAX_PENDING_BYTES` wait to be
taken. Every failure of the reader is logged and kept in :attr:`Subscriber.last_error`.

TLS (1.2 or later) verifies the broker against ``cafile`` (or the system's CAs) and its host
name, and presents a client certificate when ``certfile`` is given. With TLS every read and
write of the socket holds one lock (an OpenSSL connection is not for two threads at once).

A packet id is only good on the connection it came on. Each connection has a *generation*;
:meth:`Subscriber.ack` drops the acknowledgements of messages from an earlier one, as the
broker redelivers those on the new connection (the key index then knows them as duplicates).

>>> topic_matches("vehicles/+/telemetry", "vehicles/LSVB0000000000001/telemetry")
True
>>> topic_matches("vehicles/#", "vehicles"), topic_matches("a/+", "a/b/c")
(True, False)
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass

from onshore.errors import BadInput, StorageError

Message = tuple[bytes, bytes, int, int]
"""``(topic, payload, packet id, generation)``; the packet id is 0 for QoS 0 (nothing to ack)."""

RECEIVE_MAXIMUM = 65_535
MAX_PACKET = 8 << 20
"""The largest packet the client takes by default (announced in CONNECT under MQTT 5)."""
MAX_PENDING_BYTES = 256 << 20
"""Payload bytes received and not taken after which the reader pauses."""
MAX_BACKOFF = 30.0
_CHUNK = 1 << 20
log = logging.getLogger("onshore.ingest")
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
    tls: bool = False
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    max_packet: int = MAX_PACKET
    ping_timeout: float = 10.0
    group: str | None = None
    """A shared subscription group (MQTT 5 ``$share/GROUP/filter``): the workers of one group
    share the messages, each message going to one of them."""

    def subscription(self, pattern: str) -> str:
        """The filter to subscribe with: ``pattern``, shared in :attr:`group` if any.

        >>> MqttSettings(group="ingest").subscription("vehicles/+/telemetry")
        '$share/ingest/vehicles/+/telemetry'
        """
        if self.group is None:
            return pattern
        check_group(self.group)
        return f"$share/{self.group}/{pattern}"

    def __repr__(self) -> str:  # never the password
        shown = {k: v for k, v in vars(self).items() if k != "password"}
        return f"MqttSettings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context (1.2 or later, the broker verified), or ``None`` without TLS."""
        if not (self.tls or self.cafile or self.certfile):
            return None
        try:
            ctx = ssl.create_default_context(cafile=self.cafile)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.certfile:
                ctx.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise StorageError(f"cannot set up TLS for the MQTT broker: {exc}") from exc
        return ctx


def check_group(name: str) -> str:
    """``name`` if it can name a shared subscription group, else ``BadInput``.

    >>> check_group("ingest-eu")
    'ingest-eu'
    """
    if not name or any(c in name for c in "/+#") or not name.isprintable():
        raise BadInput(
            f"bad group {name!r}: a group name is not empty and holds no '/', '+' or '#'",
            field="group",
        )
    return name


class ProtocolError(StorageError):
    """The broker refused the session or sent what MQTT does not allow."""


class Unreachable(StorageError):
    """The broker could not be reached, or the connection broke (worth trying again)."""


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


def _properties(buf: bytes, pos: int, limit: int) -> tuple[dict[int, int | bytes], int]:
    """The MQTT 5 properties at ``pos`` (ending by ``limit``): id → value (ints, or the raw
    bytes of strings); :class:`ProtocolError` if they run past ``limit`` or are unknown."""
    length, pos = _read_varint(buf, pos)
    end, out = pos + length, {}
    if end > limit:
        raise ProtocolError("MQTT properties run past the end of their packet")
    while pos < end:
        ident = buf[pos]
        pos += 1
        value: int | bytes
        if ident in _FIXED:
            size = _FIXED[ident]
            if pos + size > end:
                raise ProtocolError(f"MQTT property {ident:#x} runs past its properties")
            value, pos = int.from_bytes(buf[pos : pos + size], "big"), pos + size
        elif ident == 0x0B:
            value, pos = _read_varint(buf, pos)
        elif ident in _SIZED:
            value, pos = _sized(buf, pos, end, ident)
            if ident == 0x26:  # a user property: a second string
                _, pos = _sized(buf, pos, end, ident)
        else:
            raise ProtocolError(f"unknown MQTT property {ident:#x}")
        if pos > end:
            raise ProtocolError(f"MQTT property {ident:#x} runs past its properties")
        out[ident] = value
    return out, end


# Properties holding a string or binary data (two-byte length first); 0x26 holds two strings.
_SIZED = frozenset((0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x26))


def _sized(buf: bytes, pos: int, end: int, ident: int) -> tuple[bytes, int]:
    if pos + 2 > end:
        raise ProtocolError(f"MQTT property {ident:#x} runs past its properties")
    size = int.from_bytes(buf[pos : pos + 2], "big")
    if pos + 2 + size > end:
        raise ProtocolError(f"MQTT property {ident:#x} runs past its properties")
    return bytes(buf[pos + 2 : pos + 2 + size]), pos + 2 + size


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
        self._tls = settings.tls_context()
        self._max_packet = settings.max_packet
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._keepalive = float(settings.keepalive)
        self._last_send = time.monotonic()
        self._ping_sent: float | None = None
        self._send_lock = threading.Lock()
        self._io_lock = threading.Lock() if self._tls is not None else None
        self._cond = threading.Condition()
        self._pending: list[Message] = []
        self._pending_bytes = 0
        self._closing = False
        self._reader: threading.Thread | None = None
        self.last_error: str | None = None
        self.reader_error: str | None = None

    # -- the session ------------------------------------------------------------------------
    def connect(self, timeout: float = 10.0) -> None:
        """Open the session and subscribe; then a reader thread receives (and reconnects)."""
        self._closing = False
        self._open(timeout)
        self._reader = threading.Thread(target=self._read_loop, name="mqtt-reader", daemon=True)
        self._reader.start()
        if not self.connected.wait(timeout):
            why = f": {self.last_error}" if self.last_error else ""
            self.close()
            raise StorageError(
                f"the MQTT broker {self._where} did not accept the subscription{why}"
            )

    @property
    def alive(self) -> bool:
        """Whether the reader thread runs (it only stops on :meth:`close`)."""
        return self._reader is not None and self._reader.is_alive()

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _open(self, timeout: float) -> None:
        s = self.settings
        try:
            sock = socket.create_connection((s.host, s.port), timeout=timeout)
        except OSError as exc:
            raise Unreachable(f"cannot reach the MQTT broker {self._where}: {exc}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=s.host)
            sock.sendall(_packet(0x10, self._connect_body()))
            buf = bytearray()
            while True:
                first, body, used = self._cut(buf)
                if first is not None:
                    break
                chunk = sock.recv(_CHUNK)
                if not chunk:
                    raise Unreachable(f"the MQTT broker {self._where} closed the connection")
                buf += chunk
            del buf[:used]
            self._check_connack(first, body)
            # TLS: non-blocking, every call under the I/O lock. Plain: a send that the broker
            # does not take for 30 s fails (reads wait in select, never in recv).
            sock.settimeout(0 if self._tls is not None else 30.0)
            self._sock, self._buf = sock, buf
            self._ping_sent = None
            self._subscribe()
        except BaseException as exc:
            sock.close()
            if isinstance(exc, ssl.SSLError | ssl.CertificateError):
                raise StorageError(f"TLS with the MQTT broker {self._where}: {exc}") from exc
            if isinstance(exc, OSError):
                raise Unreachable(f"MQTT broker {self._where}: {exc}") from exc
            raise
        self._last_send = time.monotonic()

    def _connect_body(self) -> bytes:
        s = self.settings
        # Clean session / clean start is off: the session persists on the broker.
        password = s.password if s.username else None
        flags = (0x80 if s.username else 0) | (0x40 if password is not None else 0)
        level = 5 if self._v5 else 4
        head = b"\x00\x04MQTT" + bytes([level, flags]) + s.keepalive.to_bytes(2, "big")
        if self._v5:
            props = b"\x11" + s.session_expiry.to_bytes(4, "big")
            props += b"\x21" + RECEIVE_MAXIMUM.to_bytes(2, "big")
            props += b"\x27" + self._max_packet.to_bytes(4, "big")
            head += _varint(len(props)) + props
        payload = _text(s.client_id)
        if s.username:
            payload += _text(s.username)
        if password is not None:
            payload += _text(password)
        return head + payload

    def _cut(self, buf: bytearray) -> tuple[int | None, bytes, int]:
        """The first whole packet of ``buf`` (type byte, body, bytes used), or ``None``."""
        if len(buf) < 2:
            return None, b"", 0
        try:
            length, pos = _read_varint(buf, 1)
        except ProtocolError:
            if len(buf) < 5:
                return None, b"", 0
            raise
        if length > self._max_packet:
            raise ProtocolError(
                f"an MQTT packet of {length:,} bytes (at most {self._max_packet:,})"
            )
        if pos + length > len(buf):
            return None, b"", 0
        return buf[0], bytes(buf[pos : pos + length]), pos + length

    def _check_connack(self, first: int, body: bytes) -> None:
        if first >> 4 != 2 or len(body) < 2:
            raise ProtocolError(f"the MQTT broker {self._where} answered CONNECT with {first:#x}")
        code = body[1]
        if self._v5 and len(body) > 2:
            props, end = _properties(body, 2, len(body))
            if end != len(body):
                raise ProtocolError(f"the MQTT broker {self._where} sent a CONNACK too long")
            if isinstance(keep := props.get(_SERVER_KEEP_ALIVE), int) and keep:
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
            if self._io_lock is None:
                sock.sendall(data)
            else:
                self._send_tls(sock, memoryview(data))
            self._last_send = time.monotonic()

    def _send_tls(self, sock: socket.socket, view: memoryview) -> None:
        deadline = time.monotonic() + 30.0
        assert self._io_lock is not None
        while view:
            with self._io_lock:
                try:
                    view = view[sock.send(view) :]
                    continue
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError("the MQTT broker takes nothing (30 s)")
            select.select([], [sock], [], 1.0)

    def _recv(self, sock: socket.socket) -> bytes | None:
        """What the socket holds (``b""``: closed by the broker; ``None``: nothing yet)."""
        if self._io_lock is None:
            return sock.recv(_CHUNK)
        with self._io_lock:
            try:
                data = sock.recv(_CHUNK)
                while data and isinstance(sock, ssl.SSLSocket) and sock.pending():
                    data += sock.recv(sock.pending())
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return None
        return data

    def close(self) -> None:
        """Disconnect (the session stays on the broker) and stop the reader."""
        self._closing = True
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError, ValueError):
                self._send(_DISCONNECT)
            with contextlib.suppress(OSError, ValueError):
                sock.shutdown(socket.SHUT_RDWR)
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
        try:
            self._read_until_closed()
        except BaseException as exc:  # a bug: never silent, and the worker sees it
            self.reader_error = self.last_error = f"the MQTT reader stopped: {exc!r}"
            log.critical("%s", self.reader_error, exc_info=True)
            self.connected.clear()
            with self._cond:
                self._cond.notify_all()
            raise

    def _read_until_closed(self) -> None:
        delay = 0.5
        while not self._closing:
            sock = self._sock
            try:
                if sock is None:
                    raise ConnectionError("not connected")
                self._read_once(sock)
                delay = 0.5
            except Exception as exc:  # any failure of a connection: drop it, reconnect
                if self._closing:
                    return
                self._drop(sock, exc)
                delay = self._reconnect(delay)

    def _read_once(self, sock: socket.socket) -> None:
        if self._buf:
            self._parse()
        if self._pending_bytes > MAX_PENDING_BYTES:
            # The worker is behind (or storage is down): stop reading and let TCP push back.
            with self._cond:
                self._cond.wait(0.5)
            self._ping_sent = None  # an unread PINGRESP is no sign of a dead broker
            self._keep_alive()
            return
        ready, _, _ = select.select([sock], [], [], 0.5)
        if ready:
            chunk = self._recv(sock)
            if chunk == b"":
                raise ConnectionError("closed by the broker")
            if chunk:
                self._buf += chunk
                self._parse()
        self._keep_alive()

    def _keep_alive(self) -> None:
        now = time.monotonic()
        if self._ping_sent is not None and now - self._ping_sent > self.settings.ping_timeout:
            raise ProtocolError(
                f"no PINGRESP within {self.settings.ping_timeout:g} s: the connection is dead"
            )
        if self._keepalive and now - self._last_send >= self._keepalive / 2:
            self._send(_PINGREQ)
            if self._ping_sent is None:
                self._ping_sent = now

    def _drop(self, sock: socket.socket | None, exc: Exception) -> None:
        """Close a failed connection and say why (once per failure, in the log and here)."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        was = self.connected.is_set()
        self.connected.clear()
        if was or self.generation == 0:
            log.warning("MQTT connection to %s lost: %s; reconnecting", self._where, exc)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        self._sock = None
        self._buf = bytearray()
        self._ping_sent = None

    def _reconnect(self, delay: float) -> float:
        """Wait ``delay`` (or until closed), try once; the next delay."""
        with self._cond:
            self._cond.wait(delay)
        if self._closing:
            return delay
        try:
            self.generation += 1
            self._open(10.0)
        except Exception as again:
            self.last_error = f"{type(again).__name__}: {again}"
            return min(delay * 2, MAX_BACKOFF)
        log.warning("MQTT connection to %s open again", self._where)
        return 0.5

    def _parse(self) -> None:
        """Cut the whole packets out of the read buffer; PUBLISH → the pending list."""
        buf = self._buf
        view = memoryview(buf)
        n, pos, gen, v5, most = len(buf), 0, self.generation, self._v5, self._max_packet
        out: list[Message] = []
        size = 0
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
                if length > most:
                    raise ProtocolError(f"an MQTT packet of {length:,} bytes (at most {most:,})")
                end = i + length
                if end > n:
                    break
                kind = first >> 4
                if kind == 3:  # PUBLISH
                    if length < 2:
                        raise ProtocolError("a PUBLISH without a topic")
                    p = i + 2 + (buf[i] << 8 | buf[i + 1])
                    qos = (first >> 1) & 3
                    pid = 0
                    if qos:
                        if qos != 1:
                            raise ProtocolError(f"a QoS {qos} PUBLISH on a QoS 1 subscription")
                        if p + 2 > end:
                            raise ProtocolError("a PUBLISH too short for its packet id")
                        pid = buf[p] << 8 | buf[p + 1]
                        if not pid:
                            raise ProtocolError("a QoS 1 PUBLISH with packet id 0")
                        p += 2
                    if v5:
                        if p >= end:
                            raise ProtocolError("a PUBLISH too short for its properties")
                        plen, p = _read_varint(buf, p)
                        p += plen
                    if p > end:
                        raise ProtocolError("a PUBLISH whose topic or properties overrun it")
                    payload = bytes(view[p:end])
                    size += len(payload)
                    out.append((bytes(view[i + 2 : i + 2 + (buf[i] << 8 | buf[i + 1])]), payload,
                                pid, gen))  # fmt: skip
                elif kind == 9:  # SUBACK
                    self._check_suback(bytes(view[i:end]))
                elif kind == 14:  # DISCONNECT from the broker (MQTT 5)
                    code = buf[i] if length else 0
                    raise ProtocolError(f"the MQTT broker disconnected the session: {code:#x}")
                elif kind == 13:  # PINGRESP
                    self._ping_sent = None
                else:
                    raise ProtocolError(f"unexpected MQTT packet type {kind}")
                pos = end
        finally:
            view.release()
            del buf[:pos]
            if out:
                with self._cond:
                    self._pending.extend(out)
                    self._pending_bytes += size
                    self._cond.notify()

    def _check_suback(self, body: bytes) -> None:
        if len(body) < 2:
            raise ProtocolError("a SUBACK too short for its packet id")
        pos = 2
        if self._v5:
            _, pos = _properties(body, pos, len(body))
        codes = body[pos:]
        if len(codes) != len(self.filters):
            raise ProtocolError(
                f"a SUBACK with {len(codes)} reason codes for {len(self.filters)} filters"
            )
        refused = [f for f, code in zip(self.filters, codes, strict=True) if code >= 0x80]
        if refused:
            raise ProtocolError(f"the MQTT broker refused the subscription to {refused}")
        self.connected.set()

    def pending(self) -> int:
        """Messages received and not taken yet."""
        return len(self._pending)

    def take(self, timeout: float) -> list[Message]:
        """Every message received so far (waiting up to ``timeout`` seconds for the first).

        Raises ``StorageError`` if the reader has stopped (it never should: see the log)."""
        with self._cond:
            if not self._pending and not self._closing:
                self._cond.wait(timeout)
            out, self._pending = self._pending, []
            self._pending_bytes = 0
            self._cond.notify_all()
        if not out and self.reader_error is not None:
            raise StorageError(self.reader_error)
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
        except (OSError, ValueError):
            return 0
        return len(data) // 4
