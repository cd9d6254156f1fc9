"""Real-time report (0x02) and re-send (0x03) payloads: collection time, blocks, signature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from onshore.gbt32960 import editions as ed
from onshore.gbt32960.blocks import (
    Alarms,
    Block,
    DriveMotor,
    DriveMotors,
    Engine,
    Extremes,
    FuelCell,
    Position,
    ProbeTemperatures,
    RawBlock,
    Signature,
    StorageTemperatures,
    StorageVoltage,
    StorageVoltages,
    VehicleData,
)
from onshore.gbt32960.editions import Edition
from onshore.gbt32960.errors import EncodeError
from onshore.gbt32960.values import Reader, Scalar, Writer, beijing_to_utc


@dataclass(frozen=True)
class RealTimeReport:
    """Payload of a real-time report or re-send: Beijing collection time, blocks, signature.

    ``time`` is the naive Beijing wall-clock time as sent; :attr:`time_utc` converts it.
    ``signature`` is the 2025 signature block (``None`` in 2016).
    """

    time: datetime
    blocks: tuple[Block, ...]
    signature: Signature | None = None

    @property
    def time_utc(self) -> datetime:
        """The collection time in UTC."""
        return beijing_to_utc(self.time)


# ---------------------------------------------------------------- fixed layouts


def _read_fixed(r: Reader, cls: type[Any], specs: tuple[Scalar, ...], prefix: str) -> Any:
    return cls(**{s.name: r.scalar(s, prefix) for s in specs})


def _write_fixed(w: Writer, obj: Any, specs: tuple[Scalar, ...]) -> None:
    named = {s.name for s in specs}
    for f in fields(obj):
        if f.name not in named and getattr(obj, f.name) is not None:
            raise EncodeError(f"{f.name} does not exist in this edition", field=f.name)
    for s in specs:
        w.scalar(s, getattr(obj, s.name))


def _read_list(r: Reader, count_size: int, prefix: str, item: Callable[[], Any]) -> tuple[Any, ...]:
    n = r.uint(count_size, f"{prefix}.count")
    return tuple(item() for _ in range(n))


def _write_count(w: Writer, items: tuple[Any, ...], size: int, field: str) -> None:
    w.uint(len(items), size, f"{field}.count")


# ---------------------------------------------------------------- per block


def _dec_motors(r: Reader, e: Edition, p: str) -> DriveMotors:
    specs = DriveMotor.FIELDS[e]
    return DriveMotors(_read_list(r, 1, p, lambda: _read_fixed(r, DriveMotor, specs, p)))


def _enc_motors(w: Writer, b: DriveMotors, e: Edition) -> None:
    _write_count(w, b.motors, 1, "motors")
    for m in b.motors:
        _write_fixed(w, m, DriveMotor.FIELDS[e])


def _dec_fuel_cell(r: Reader, e: Edition, p: str) -> FuelCell:
    head = {s.name: r.scalar(s, p) for s in FuelCell.HEAD}
    probes = r.array(FuelCell.PROBE, r.uint(2, f"{p}.probes.count"), f"{p}.probe_temperatures")
    tail = {s.name: r.scalar(s, p) for s in FuelCell.TAIL}
    return FuelCell(**head, probe_temperatures=probes, **tail)


def _enc_fuel_cell(w: Writer, b: FuelCell, e: Edition) -> None:
    for s in FuelCell.HEAD:
        w.scalar(s, getattr(b, s.name))
    _write_count(w, b.probe_temperatures, 2, "probe_temperatures")
    for t in b.probe_temperatures:
        w.scalar(FuelCell.PROBE, t)
    for s in FuelCell.TAIL:
        w.scalar(s, getattr(b, s.name))


def _dec_alarms(r: Reader, e: Edition, p: str) -> Alarms:
    level = r.scalar(Alarms.LEVEL, p)
    flags = r.uint(4, f"{p}.flags")
    lists = {
        name: _read_list(r, 1, f"{p}.{name}", lambda n=name: r.uint(4, f"{p}.{n}"))  # type: ignore[misc]
        for name in Alarms.FAULT_LISTS
    }
    levels = None
    if e is Edition.V2025:
        levels = _read_list(
            r, 1, f"{p}.alarm_levels", lambda: (r.uint(1, f"{p}.alarm_id"), r.uint(1, f"{p}.level"))
        )
    return Alarms(level, flags, **lists, alarm_levels=levels)


def _enc_alarms(w: Writer, b: Alarms, e: Edition) -> None:
    w.scalar(Alarms.LEVEL, b.level)
    w.uint(b.flags, 4, "flags")
    for name in Alarms.FAULT_LISTS:
        codes: tuple[int, ...] = getattr(b, name)
        _write_count(w, codes, 1, name)
        for code in codes:
            w.uint(code, 4, name)
    if (b.alarm_levels is None) != (e is Edition.V2016):
        raise EncodeError(
            "alarm_levels is required in 2025 and absent in 2016", field="alarm_levels"
        )
    if b.alarm_levels is not None:
        _write_count(w, b.alarm_levels, 1, "alarm_levels")
        for alarm_id, level in b.alarm_levels:
            w.uint(alarm_id, 1, "alarm_levels.id")
            w.uint(level, 1, "alarm_levels.level")


def _dec_voltages(r: Reader, e: Edition, p: str) -> StorageVoltages:
    def one() -> StorageVoltage:
        head: dict[str, Any] = {s.name: r.scalar(s, p) for s in StorageVoltage.HEAD[e]}
        total = start = None
        if e is Edition.V2016:
            total = r.uint(2, f"{p}.total_cells")
            start = r.uint(2, f"{p}.start_cell")
        n = r.uint(1 if e is Edition.V2016 else 2, f"{p}.cells.count")
        cells = r.array(StorageVoltage.CELL, n, f"{p}.cell_voltages")
        return StorageVoltage(**head, cell_voltages=cells, total_cells=total, start_cell=start)

    return StorageVoltages(_read_list(r, 1, p, one))


def _enc_voltages(w: Writer, b: StorageVoltages, e: Edition) -> None:
    _write_count(w, b.subsystems, 1, "subsystems")
    for sv in b.subsystems:
        for s in StorageVoltage.HEAD[e]:
            w.scalar(s, getattr(sv, s.name))
        if e is Edition.V2016:
            if sv.total_cells is None or sv.start_cell is None:
                raise EncodeError("2016 needs total_cells and start_cell", field="total_cells")
            w.uint(sv.total_cells, 2, "total_cells")
            w.uint(sv.start_cell, 2, "start_cell")
        elif sv.total_cells is not None or sv.start_cell is not None:
            raise EncodeError("2025 has no total_cells/start_cell", field="total_cells")
        _write_count(w, sv.cell_voltages, 1 if e is Edition.V2016 else 2, "cell_voltages")
        for v in sv.cell_voltages:
            w.scalar(StorageVoltage.CELL, v)


def _dec_temperatures(r: Reader, e: Edition, p: str) -> StorageTemperatures:
    spec = ProbeTemperatures.PROBE

    def one() -> ProbeTemperatures:
        no = r.uint(1, f"{p}.subsystem")
        probes = r.array(spec, r.uint(2, f"{p}.probes.count"), f"{p}.temperatures")
        return ProbeTemperatures(no, probes)

    return StorageTemperatures(_read_list(r, 1, p, one))


def _enc_temperatures(w: Writer, b: StorageTemperatures, e: Edition) -> None:
    _write_count(w, b.subsystems, 1, "subsystems")
    for pt in b.subsystems:
        w.uint(pt.subsystem, 1, "subsystem")
        _write_count(w, pt.temperatures, 2, "temperatures")
        for t in pt.temperatures:
            w.scalar(ProbeTemperatures.PROBE, t)


def _fixed(cls: type[Any]) -> tuple[Callable[..., Any], Callable[..., None]]:
    def dec(r: Reader, e: Edition, p: str) -> Any:
        return _read_fixed(r, cls, cls.FIELDS[e], p)

    def enc(w: Writer, b: Any, e: Edition) -> None:
        _write_fixed(w, b, cls.FIELDS[e])

    return dec, enc


_Codec = tuple[Callable[..., Any], Callable[..., None]]


def _table(e: Edition) -> dict[int, tuple[type[Any], _Codec]]:
    t: dict[int, tuple[type[Any], _Codec]] = {
        0x01: (VehicleData, _fixed(VehicleData)),
        0x02: (DriveMotors, (_dec_motors, _enc_motors)),
        0x04: (Engine, _fixed(Engine)),
        0x05: (Position, _fixed(Position)),
        ed.ALARMS[e]: (Alarms, (_dec_alarms, _enc_alarms)),
        ed.VOLTAGES[e]: (StorageVoltages, (_dec_voltages, _enc_voltages)),
        ed.TEMPERATURES[e]: (StorageTemperatures, (_dec_temperatures, _enc_temperatures)),
    }
    if e is Edition.V2016:
        t[0x03] = (FuelCell, (_dec_fuel_cell, _enc_fuel_cell))
        t[ed.EXTREMES_2016] = (Extremes, _fixed(Extremes))
    return t


_TABLES = {e: _table(e) for e in Edition}
_TYPE_OF = {e: {cls: tid for tid, (cls, _) in _TABLES[e].items()} for e in Edition}


def type_id_of(block: Block, edition: Edition) -> int:
    """The info-type ID of ``block`` in ``edition`` (:class:`EncodeError` if it has none)."""
    if isinstance(block, RawBlock):
        return block.type_id
    tid = _TYPE_OF[edition].get(type(block))
    if tid is None:
        raise EncodeError(
            f"{type(block).__name__} does not exist in {edition.value}", field="blocks"
        )
    return tid


# ---------------------------------------------------------------- signature


def _signature_fits(data: bytes, at: int, end: int) -> bool:
    """Whether a well-formed signature block starts at ``at`` and ends exactly at ``end``."""
    if end - at < 6 or data[at] != ed.SIGNATURE_MARKER or not 1 <= data[at + 1] <= 3:
        return False
    r_len = int.from_bytes(data[at + 2 : at + 4], "big")
    s_at = at + 4 + r_len
    if s_at + 2 > end:
        return False
    return s_at + 2 + int.from_bytes(data[s_at : s_at + 2], "big") == end


def _find_signature(data: bytes, start: int, end: int) -> int:
    at = data.find(b"\xff", start, end)
    while at != -1 and not _signature_fits(data, at, end):
        at = data.find(b"\xff", at + 1, end)
    return at


def _read_signature(r: Reader) -> Signature:
    r.uint(1, "signature.marker")
    algorithm = r.uint(1, "signature.algorithm")
    if not 1 <= algorithm <= 3:
        raise r.error(f"unknown signature algorithm {algorithm}", "signature.algorithm", r.pos - 1)
    sig_r = r.take(r.uint(2, "signature.r_length"), "signature.r")
    sig_s = r.take(r.uint(2, "signature.s_length"), "signature.s")
    return Signature(algorithm, sig_r, sig_s)


# ---------------------------------------------------------------- payload


def decode_realtime(data: bytes, edition: Edition, base: int = 0) -> RealTimeReport:
    """Decode a real-time data unit; ``base`` is its offset in the frame, for error offsets."""
    r = Reader(data, base=base)
    time = r.time("realtime.time")
    table = _TABLES[edition]
    opaque = ed.OPAQUE_TYPES[edition]
    blocks: list[Block] = []
    signature = None
    while r.pos < r.end:
        tid = data[r.pos]
        if edition is Edition.V2025 and tid == ed.SIGNATURE_MARKER:
            signature = _read_signature(r)
            if r.pos != r.end:
                raise r.error("bytes after the signature", "signature")
            break
        r.pos += 1
        if tid in ed.OEM_TYPES:
            size = r.uint(2, f"realtime.0x{tid:02X}.length")
            blocks.append(RawBlock(tid, r.take(size, f"realtime.0x{tid:02X}.data")))
            continue
        if tid in opaque:
            stop = _find_signature(data, r.pos, r.end)
            if stop < 0:
                raise r.error(f"no signature block after block 0x{tid:02X}", "signature")
            blocks.append(RawBlock(tid, bytes(data[r.pos : stop])))
            r.pos = stop
            continue
        entry = table.get(tid)
        if entry is None:
            raise r.error(f"unknown information type 0x{tid:02X}", "realtime.type", r.pos - 1)
        blocks.append(entry[1][0](r, edition, f"realtime.0x{tid:02X}"))
    if edition is Edition.V2025 and signature is None:
        raise r.error("missing signature block", "signature")
    return RealTimeReport(time, tuple(blocks), signature)


def _encode_body(report: RealTimeReport, edition: Edition) -> Writer:
    w = Writer()
    w.time(report.time, "time")
    for i, block in enumerate(report.blocks):
        tid = type_id_of(block, edition)
        w.uint(tid, 1, "type")
        if isinstance(block, RawBlock) and tid in ed.OEM_TYPES:
            w.uint(len(block.data), 2, "raw_block.length")
            w.raw(block.data)
            continue
        if isinstance(block, RawBlock):
            if tid not in ed.OPAQUE_TYPES[edition]:
                raise EncodeError(f"type 0x{tid:02X} cannot be a raw block", field="blocks")
            if i != len(report.blocks) - 1:
                raise EncodeError("a raw block must be the last block", field="blocks")
            w.raw(block.data)
            continue
        _TABLES[edition][tid][1][1](w, block, edition)
    return w


def encode_realtime(report: RealTimeReport, edition: Edition) -> bytes:
    """Encode a real-time data unit; :class:`EncodeError` if a value does not fit."""
    w = _encode_body(report, edition)
    if (report.signature is None) != (edition is Edition.V2016):
        raise EncodeError("a signature is required in 2025 and absent in 2016", field="signature")
    if report.signature is not None:
        raw_at = len(w.buf)
        sig = report.signature
        if not 1 <= sig.algorithm <= 3:
            raise EncodeError("signature algorithm must be 1, 2 or 3", field="signature.algorithm")
        w.uint(ed.SIGNATURE_MARKER, 1, "signature")
        w.uint(sig.algorithm, 1, "signature.algorithm")
        w.uint(len(sig.r), 2, "signature.r")
        w.raw(sig.r)
        w.uint(len(sig.s), 2, "signature.s")
        w.raw(sig.s)
        last = report.blocks[-1] if report.blocks else None
        if isinstance(last, RawBlock) and last.type_id not in ed.OEM_TYPES:
            start = raw_at - len(last.data)
            if _find_signature(bytes(w.buf), start, len(w.buf)) != raw_at:
                raise EncodeError("OEM data reads as a signature block", field="blocks")
    return bytes(w.buf)


def signed_bytes(report: RealTimeReport, edition: Edition = Edition.V2025) -> bytes:
    """The bytes a 2025 signature covers: the collection time and every block, as encoded.

    Hand them, with ``report.signature``, to an SM2/RSA/ECC verifier holding the vehicle's key.
    """
    return bytes(_encode_body(report, edition).buf)
