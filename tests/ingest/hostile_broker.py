"""A scripted broker on loopback that sends what a broken or hostile broker might.

Each accepted connection plays the next :class:`Script` (the last one repeats): it reads the
CONNECT, answers with ``connack``, reads the SUBSCRIBE, answers with ``suback``, sends ``then``
and either closes, stays silent (answers nothing, not even PINGREQ) or answers PINGREQs.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

GOOD_CONNACK_V5 = b"\x20\x03\x00\x00\x00"
GOOD_SUBACK_V5 = b"\x90\x04\x00\x01\x00\x01"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_v5(topic: bytes, payload: bytes, pid: int) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + pid.to_bytes(2, "big") + b"\x00"
    return b"\x32" + varint(len(body) + len(payload)) + body + payload


@dataclass
class Script:
    connack: bytes = GOOD_CONNACK_V5
    suback: bytes | None = GOOD_SUBACK_V5
    then: bytes = b""
    end: str = "pong"  # "close", "silent" or "pong"


@dataclass
class Seen:
    """What one connection received from the client."""

    connect: bytes = b""
    after: bytearray = field(default_factory=bytearray)


class HostileBroker:
    def __init__(self, scripts: list[Script]) -> None:
        self.scripts = scripts
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.seen: list[Seen] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def connections(self) -> int:
        return len(self.seen)

    def close(self) -> None:
        self._stop = True
        self.server.close()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            script = self.scripts[min(len(self.seen), len(self.scripts) - 1)]
            seen = Seen()
            self.seen.append(seen)
            threading.Thread(target=self._play, args=(conn, script, seen), daemon=True).start()

    @staticmethod
    def _packet(conn: socket.socket, data: bytearray) -> bytes:
        """Read until ``data`` holds one whole packet; return it (and keep the rest)."""
        while True:
            if len(data) >= 2:
                length, i, mult = 0, 1, 1
                while i < len(data) and data[i] & 0x80:
                    length += (data[i] & 0x7F) * mult
                    mult *= 128
                    i += 1
                if i < len(data):
                    length += data[i] * mult
                    if len(data) >= i + 1 + length:
                        packet = bytes(data[: i + 1 + length])
                        del data[: i + 1 + length]
                        return packet
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("client gone")
            data += chunk

    def _play(self, conn: socket.socket, script: Script, seen: Seen) -> None:
        data = bytearray()
        with conn:
            try:
                seen.connect = self._packet(conn, data)
                conn.sendall(script.connack)
                if script.suback is None:
                    return
                self._packet(conn, data)  # SUBSCRIBE
                conn.sendall(script.suback)
                if script.then:
                    conn.sendall(script.then)
                if script.end == "close":
                    return
                conn.settimeout(0.5)
                while not self._stop:
                    try:
                        packet = self._packet(conn, data)
                    except TimeoutError:
                        continue
                    seen.after += packet
                    if packet == b"\xc0\x00" and script.end == "pong":
                        conn.sendall(b"\xd0\x00")
            except OSError:
                return
