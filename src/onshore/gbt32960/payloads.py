"""Payloads of every command other than the real-time report (§5.2), as frozen values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from onshore.gbt32960.blocks import Signature
from onshore.gbt32960.editions import Command, Edition
from onshore.gbt32960.errors import EncodeError
from onshore.gbt32960.values import Reader, Writer


@dataclass(frozen=True)
class VehicleLogin:
    """0x01 vehicle login. 2016: one code length for all codes; 2025: codes are 24 bytes each,
    grouped per energy-storage subsystem (``codes`` is then one tuple per subsystem)."""

    time: datetime
    serial: int
    iccid: str
    codes: tuple[str, ...] | tuple[tuple[str, ...], ...]
    code_length: int = 0  # 2016 only


@dataclass(frozen=True)
class Logout:
    """0x04 vehicle logout and 0x06 platform logout: time and login serial number."""

    time: datetime
    serial: int


@dataclass(frozen=True)
class PlatformLogin:
    """0x05 platform login."""

    time: datetime
    serial: int
    username: str
    password: str
    encryption: int


@dataclass(frozen=True)
class Empty:
    """Heartbeat (0x07) and time-sync request (0x08): no data unit."""


@dataclass(frozen=True)
class ParameterQuery:
    """0x80 parameter query as sent by the platform: which parameter IDs to report."""

    time: datetime
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Parameters:
    """0x81 parameter setting, and the vehicle's answer to 0x80: ``(id, value)`` pairs.

    Values are ints for numeric parameters and bytes for 0x05/0x07/0x08/0x0E; the length
    parameters 0x04 and 0x0D must precede 0x05 and 0x0E."""

    time: datetime
    params: tuple[tuple[int, int | bytes], ...]


@dataclass(frozen=True)
class TerminalControl:
    """0x82 terminal control: the control command byte and its parameter bytes as sent."""

    time: datetime
    command: int
    params: bytes


@dataclass(frozen=True)
class Activation:
    """0x09 activation (2025): security-chip ID, public key, VIN, signature."""

    time: datetime
    chip_id: str
    public_key: bytes
    vin: str
    signature: Signature


@dataclass(frozen=True)
class ActivationResponse:
    """0x0A activation response (2025): result (1 ok, 2 failed) and info code."""

    result: int
    info: int


@dataclass(frozen=True)
class KeySync:
    """0x0B payload-key synchronisation (2025)."""

    encryption: int
    key: bytes
    valid_from: datetime
    valid_to: datetime


@dataclass(frozen=True)
class Response:
    """A platform or vehicle answer (response flag other than 0xFE): the echoed time, if any,
    and the remaining bytes."""

    time: datetime | None
    body: bytes = b""


@dataclass(frozen=True)
class Opaque:
    """A data unit kept as bytes: reserved or platform-defined commands, encrypted data."""

    data: bytes


# Parameter IDs and the size of their value (0: length from the preceding length parameter).
_PARAM_SIZE = {
    0x01: 2, 0x02: 2, 0x03: 2, 0x04: 1, 0x05: 0, 0x06: 2, 0x07: 5, 0x08: 5,
    0x09: 1, 0x0A: 2, 0x0B: 2, 0x0C: 1, 0x0D: 1, 0x0E: 0, 0x0F: 2, 0x10: 1,
}  # fmt: skip
_LENGTH_OF = {0x05: 0x04, 0x0E: 0x0D}
_BYTES_PARAMS = frozenset({0x05, 0x07, 0x08, 0x0E})


def _dec_login(r: Reader, e: Edition) -> VehicleLogin:
    time = r.time("login.time")
    serial = r.uint(2, "login.serial")
    iccid = r.ascii(20, "login.iccid")
    n = r.uint(1, "login.subsystems")
    if e is Edition.V2016:
        size = r.uint(1, "login.code_length")
        codes16 = tuple(r.ascii(size, "login.codes") for _ in range(n))
        return VehicleLogin(time, serial, iccid, codes16, size)
    per = [r.uint(1, "login.codes_per_subsystem") for _ in range(n)]
    codes25 = tuple(tuple(r.ascii(24, "login.codes") for _ in range(k)) for k in per)
    return VehicleLogin(time, serial, iccid, codes25)


def _enc_login(w: Writer, p: VehicleLogin, e: Edition) -> None:
    w.time(p.time, "time")
    w.uint(p.serial, 2, "serial")
    w.ascii(p.iccid, 20, "iccid")
    w.uint(len(p.codes), 1, "codes")
    if e is Edition.V2016:
        w.uint(p.code_length, 1, "code_length")
        for code in p.codes:
            if not isinstance(code, str):
                raise EncodeError("2016 login codes are strings", field="codes")
            w.ascii(code, p.code_length, "codes")
        return
    groups = [g if isinstance(g, tuple) else None for g in p.codes]
    for g in groups:
        if g is None:
            raise EncodeError("2025 login codes are grouped per subsystem", field="codes")
        w.uint(len(g), 1, "codes")
    for g in groups:
        for code in g or ():
            w.ascii(code, 24, "codes")


def _dec_params(r: Reader, e: Edition) -> Parameters:
    time = r.time("params.time")
    n = r.uint(1, "params.count")
    params: list[tuple[int, int | bytes]] = []
    lengths: dict[int, int] = {}
    for _ in range(n):
        at = r.pos
        pid = r.uint(1, "params.id")
        size = _PARAM_SIZE.get(pid)
        if size is None:
            raise r.error(f"unknown parameter 0x{pid:02X}", "params.id", at)
        if size == 0:
            if _LENGTH_OF[pid] not in lengths:
                raise r.error(f"parameter 0x{pid:02X} before its length", "params.id", at)
            params.append((pid, r.take(lengths[_LENGTH_OF[pid]], f"params.0x{pid:02X}")))
        elif pid in _BYTES_PARAMS:
            params.append((pid, r.take(size, f"params.0x{pid:02X}")))
        else:
            value = r.uint(size, f"params.0x{pid:02X}")
            lengths[pid] = value
            params.append((pid, value))
    return Parameters(time, tuple(params))


def _enc_params(w: Writer, p: Parameters, e: Edition) -> None:
    w.time(p.time, "time")
    w.uint(len(p.params), 1, "params")
    lengths: dict[int, int] = {}
    for pid, value in p.params:
        size = _PARAM_SIZE.get(pid)
        if size is None:
            raise EncodeError(f"unknown parameter 0x{pid:02X}", field="params")
        w.uint(pid, 1, "params.id")
        if isinstance(value, bytes):
            want = lengths.get(_LENGTH_OF.get(pid, -1), -1) if size == 0 else size
            if pid not in _BYTES_PARAMS:
                raise EncodeError(f"parameter 0x{pid:02X} is a number", field="params")
            w.fixed(value, want, f"params.0x{pid:02X}")
        else:
            if size == 0 or pid in _BYTES_PARAMS:
                raise EncodeError(f"parameter 0x{pid:02X} is bytes", field="params")
            w.uint(value, size, f"params.0x{pid:02X}")
            lengths[pid] = value


def _dec_query(r: Reader, e: Edition) -> ParameterQuery:
    time = r.time("query.time")
    n = r.uint(1, "query.count")
    return ParameterQuery(time, tuple(r.uint(1, "query.id") for _ in range(n)))


def _enc_query(w: Writer, p: ParameterQuery, e: Edition) -> None:
    w.time(p.time, "time")
    w.uint(len(p.ids), 1, "ids")
    for pid in p.ids:
        w.uint(pid, 1, "ids")


def _dec_control(r: Reader, e: Edition) -> TerminalControl:
    time = r.time("control.time")
    cmd = r.uint(1, "control.command")
    return TerminalControl(time, cmd, r.take(r.remaining, "control.params"))


def _enc_control(w: Writer, p: TerminalControl, e: Edition) -> None:
    w.time(p.time, "time")
    w.uint(p.command, 1, "command")
    w.raw(p.params)


def _dec_logout(r: Reader, e: Edition) -> Logout:
    return Logout(r.time("logout.time"), r.uint(2, "logout.serial"))


def _enc_logout(w: Writer, p: Logout, e: Edition) -> None:
    w.time(p.time, "time")
    w.uint(p.serial, 2, "serial")


def _dec_platform_login(r: Reader, e: Edition) -> PlatformLogin:
    time = r.time("platform_login.time")
    serial = r.uint(2, "platform_login.serial")
    user = r.ascii(12, "platform_login.username")
    password = r.ascii(20, "platform_login.password")
    return PlatformLogin(time, serial, user, password, r.uint(1, "platform_login.encryption"))


def _enc_platform_login(w: Writer, p: PlatformLogin, e: Edition) -> None:
    w.time(p.time, "time")
    w.uint(p.serial, 2, "serial")
    w.ascii(p.username, 12, "username")
    w.ascii(p.password, 20, "password")
    w.uint(p.encryption, 1, "encryption")


def _dec_empty(r: Reader, e: Edition) -> Empty:
    return Empty()


def _enc_empty(w: Writer, p: Empty, e: Edition) -> None:
    return None


def _dec_activation(r: Reader, e: Edition) -> Activation:
    from onshore.gbt32960.realtime import _read_signature

    time = r.time("activation.time")
    chip = r.ascii(16, "activation.chip_id")
    key = r.take(r.uint(2, "activation.key_length"), "activation.public_key")
    vin = r.ascii(17, "activation.vin")
    if r.remaining and r.data[r.pos] != 0xFF:
        raise r.error("expected the signature marker 0xFF", "signature.marker")
    return Activation(time, chip, key, vin, _read_signature(r))


def _enc_activation(w: Writer, p: Activation, e: Edition) -> None:
    w.time(p.time, "time")
    w.ascii(p.chip_id, 16, "chip_id")
    w.uint(len(p.public_key), 2, "public_key")
    w.raw(p.public_key)
    w.ascii(p.vin, 17, "vin")
    w.raw(b"\xff")
    w.uint(p.signature.algorithm, 1, "signature.algorithm")
    w.uint(len(p.signature.r), 2, "signature.r")
    w.raw(p.signature.r)
    w.uint(len(p.signature.s), 2, "signature.s")
    w.raw(p.signature.s)


def _dec_activation_response(r: Reader, e: Edition) -> ActivationResponse:
    return ActivationResponse(r.uint(1, "activation.result"), r.uint(1, "activation.info"))


def _enc_activation_response(w: Writer, p: ActivationResponse, e: Edition) -> None:
    w.uint(p.result, 1, "result")
    w.uint(p.info, 1, "info")


def _dec_key_sync(r: Reader, e: Edition) -> KeySync:
    enc = r.uint(1, "key_sync.encryption")
    key = r.take(r.uint(2, "key_sync.key_length"), "key_sync.key")
    return KeySync(enc, key, r.time("key_sync.valid_from"), r.time("key_sync.valid_to"))


def _enc_key_sync(w: Writer, p: KeySync, e: Edition) -> None:
    w.uint(p.encryption, 1, "encryption")
    w.uint(len(p.key), 2, "key")
    w.raw(p.key)
    w.time(p.valid_from, "valid_from")
    w.time(p.valid_to, "valid_to")


def _dec_response(r: Reader, e: Edition) -> Response:
    if r.remaining == 0:
        return Response(None)
    time = r.time("response.time")
    return Response(time, r.take(r.remaining, "response.body"))


def _enc_response(w: Writer, p: Response, e: Edition) -> None:
    if p.time is None:
        if p.body:
            raise EncodeError("a response body needs a time", field="time")
        return
    w.time(p.time, "time")
    w.raw(p.body)


_Codec = tuple[Callable[[Reader, Edition], Any], Callable[[Writer, Any, Edition], None]]

#: Data-unit codecs of command frames (response flag 0xFE), by command ID.
COMMAND_CODECS: dict[int, tuple[type[Any], _Codec]] = {
    Command.VEHICLE_LOGIN: (VehicleLogin, (_dec_login, _enc_login)),
    Command.VEHICLE_LOGOUT: (Logout, (_dec_logout, _enc_logout)),
    Command.PLATFORM_LOGIN: (PlatformLogin, (_dec_platform_login, _enc_platform_login)),
    Command.PLATFORM_LOGOUT: (Logout, (_dec_logout, _enc_logout)),
    Command.HEARTBEAT: (Empty, (_dec_empty, _enc_empty)),
    Command.TIME_SYNC: (Empty, (_dec_empty, _enc_empty)),
    Command.ACTIVATION: (Activation, (_dec_activation, _enc_activation)),
    Command.ACTIVATION_RESPONSE: (
        ActivationResponse,
        (_dec_activation_response, _enc_activation_response),
    ),
    Command.KEY_SYNC: (KeySync, (_dec_key_sync, _enc_key_sync)),
    Command.QUERY: (ParameterQuery, (_dec_query, _enc_query)),
    Command.SET: (Parameters, (_dec_params, _enc_params)),
    Command.CONTROL: (TerminalControl, (_dec_control, _enc_control)),
}

#: Codec of answers (response flag other than 0xFE); the answer to a query carries values.
RESPONSE_CODEC: _Codec = (_dec_response, _enc_response)
QUERY_ANSWER_CODEC: _Codec = (_dec_params, _enc_params)
