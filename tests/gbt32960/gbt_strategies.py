"""Hypothesis strategies for every GB/T 32960.3 payload and real-time block of both editions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from onshore import gbt32960 as g
from onshore.gbt32960 import editions as ed
from onshore.gbt32960.values import Scalar

E16, E25 = g.Edition.V2016, g.Edition.V2025
_TOP = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2255, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E))


def fixed_ascii(n: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), min_size=n, max_size=n)


def num(spec: Scalar) -> st.SearchStrategy[Any]:
    """A physical value as the decoder would produce it, or a sentinel where allowed."""
    top = _TOP[spec.size] - (2 if spec.sentinels else 0)
    values = st.integers(0, top).map(spec.decode)
    if spec.sentinels:
        return st.one_of(values, st.sampled_from(g.Sentinel))
    return values


def fixed(cls: type, e: g.Edition) -> st.SearchStrategy[Any]:
    return st.builds(cls, **{s.name: num(s) for s in cls.FIELDS[e]})


def motors(e: g.Edition) -> st.SearchStrategy[g.DriveMotors]:
    return st.lists(fixed(g.DriveMotor, e), max_size=3).map(lambda m: g.DriveMotors(tuple(m)))


fuel_cell = st.builds(
    g.FuelCell,
    probe_temperatures=st.lists(num(g.FuelCell.PROBE), max_size=5).map(tuple),
    **{s.name: num(s) for s in (*g.FuelCell.HEAD, *g.FuelCell.TAIL)},
)

codes = st.lists(u32, max_size=3).map(tuple)


def alarms(e: g.Edition) -> st.SearchStrategy[g.Alarms]:
    levels = st.lists(st.tuples(u8, u8), max_size=3).map(tuple) if e is E25 else st.none()
    return st.builds(
        g.Alarms,
        level=num(g.Alarms.LEVEL),
        flags=u32,
        storage_faults=codes,
        motor_faults=codes,
        engine_faults=codes,
        other_faults=codes,
        alarm_levels=levels,
    )


def voltages(e: g.Edition) -> st.SearchStrategy[g.StorageVoltages]:
    head = {s.name: num(s) for s in g.StorageVoltage.HEAD[e]}
    extra = {"total_cells": u16, "start_cell": u16} if e is E16 else {}
    one = st.builds(
        g.StorageVoltage,
        cell_voltages=st.lists(num(g.StorageVoltage.CELL), max_size=12).map(tuple),
        **head,
        **extra,
    )
    return st.lists(one, max_size=2).map(lambda s: g.StorageVoltages(tuple(s)))


temperatures = st.lists(
    st.builds(
        g.ProbeTemperatures,
        subsystem=u8,
        temperatures=st.lists(num(g.ProbeTemperatures.PROBE), max_size=8).map(tuple),
    ),
    max_size=2,
).map(lambda s: g.StorageTemperatures(tuple(s)))

oem_block = st.builds(g.RawBlock, type_id=st.integers(0x80, 0xFE), data=st.binary(max_size=12))


def position(e: g.Edition) -> st.SearchStrategy[g.Position]:
    return fixed(g.Position, e)


def block_strategies(e: g.Edition) -> dict[str, st.SearchStrategy[Any]]:
    """One strategy per real-time info type of edition ``e`` (by a readable name)."""
    out: dict[str, st.SearchStrategy[Any]] = {
        "vehicle": fixed(g.VehicleData, e),
        "motors": motors(e),
        "engine": fixed(g.Engine, e),
        "position": position(e),
        "alarms": alarms(e),
        "voltages": voltages(e),
        "temperatures": temperatures,
        "oem": oem_block,
    }
    if e is E16:
        out["fuel_cell"] = fuel_cell
        out["extremes"] = fixed(g.Extremes, e)
    return out


signatures = st.builds(
    g.Signature, algorithm=st.integers(1, 3), r=st.binary(max_size=40), s=st.binary(max_size=40)
)


def opaque_tail(e: g.Edition) -> st.SearchStrategy[tuple[Any, ...]]:
    """2025 blocks of unimplemented layout run to the signature; never in 2016."""
    if e is E16:
        return st.just(())
    raw = st.builds(
        g.RawBlock,
        type_id=st.sampled_from(sorted(ed.OPAQUE_TYPES[E25])),
        data=st.binary(max_size=12).map(lambda b: b.replace(b"\xff", b"\x00")),
    )
    return st.one_of(st.just(()), raw.map(lambda b: (b,)))


def reports(e: g.Edition, block: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    blocks = (
        block.map(lambda b: [b])
        if block is not None
        else st.lists(st.one_of(*block_strategies(e).values()), max_size=6)
    )
    return st.builds(
        lambda t, bl, tail, sig: g.RealTimeReport(t, (*bl, *tail), sig),
        times,
        blocks,
        opaque_tail(e) if block is None else st.just(()),
        signatures if e is E25 else st.none(),
    )


def login(e: g.Edition) -> st.SearchStrategy[g.VehicleLogin]:
    if e is E16:
        return st.integers(0, 30).flatmap(
            lambda n: st.builds(
                g.VehicleLogin,
                time=times,
                serial=u16,
                iccid=fixed_ascii(20),
                codes=st.lists(fixed_ascii(n), max_size=3).map(tuple),
                code_length=st.just(n),
            )
        )
    groups = st.lists(st.lists(fixed_ascii(24), max_size=2).map(tuple), max_size=3).map(tuple)
    return st.builds(g.VehicleLogin, time=times, serial=u16, iccid=fixed_ascii(20), codes=groups)


def parameters() -> st.SearchStrategy[g.Parameters]:
    def param(pid: int) -> st.SearchStrategy[list[tuple[int, Any]]]:
        sizes = {0x01: 2, 0x02: 2, 0x03: 2, 0x06: 2, 0x09: 1, 0x0A: 2, 0x0B: 2,
                 0x0C: 1, 0x0F: 2, 0x10: 1}  # fmt: skip
        if pid in sizes:
            return st.integers(0, _TOP[sizes[pid]]).map(lambda v: [(pid, v)])
        if pid in (0x07, 0x08):
            return st.binary(min_size=5, max_size=5).map(lambda v: [(pid, v)])
        length_id = 0x04 if pid == 0x05 else 0x0D
        return st.binary(max_size=20).map(lambda v: [(length_id, len(v)), (pid, v)])

    ids = st.lists(
        st.sampled_from([*range(0x01, 0x04), 0x05, *range(0x06, 0x0D), 0x0E, 0x0F, 0x10]),
        max_size=5,
    )
    return st.builds(
        lambda t, ps: g.Parameters(t, tuple(p for group in ps for p in group)),
        times,
        ids.flatmap(lambda xs: st.tuples(*(param(x) for x in xs))),
    )


def command_payloads(e: g.Edition) -> dict[int, st.SearchStrategy[Any]]:
    """Payload strategy per command ID, for command frames (response flag 0xFE)."""
    C = g.Command
    out: dict[int, st.SearchStrategy[Any]] = {
        C.VEHICLE_LOGIN: login(e),
        C.REALTIME: reports(e),
        C.RESEND: reports(e),
        C.VEHICLE_LOGOUT: st.builds(g.Logout, time=times, serial=u16),
        C.PLATFORM_LOGIN: st.builds(
            g.PlatformLogin,
            time=times,
            serial=u16,
            username=fixed_ascii(12),
            password=fixed_ascii(20),
            encryption=u8,
        ),
        C.PLATFORM_LOGOUT: st.builds(g.Logout, time=times, serial=u16),
        C.HEARTBEAT: st.just(g.Empty()),
        C.TIME_SYNC: st.just(g.Empty()),
        C.QUERY: st.builds(g.ParameterQuery, time=times, ids=st.lists(u8, max_size=5).map(tuple)),
        C.SET: parameters(),
        C.CONTROL: st.builds(
            g.TerminalControl, time=times, command=u8, params=st.binary(max_size=30)
        ),
        0x7E: st.builds(g.Opaque, data=st.binary(max_size=30)),  # reserved uplink ID
        0xC1: st.builds(g.Opaque, data=st.binary(max_size=30)),  # platform-exchange custom ID
    }
    if e is E25:
        out[C.ACTIVATION] = st.builds(
            g.Activation,
            time=times,
            chip_id=fixed_ascii(16),
            public_key=st.binary(max_size=70),
            vin=fixed_ascii(17),
            signature=signatures,
        )
        out[C.ACTIVATION_RESPONSE] = st.builds(g.ActivationResponse, result=u8, info=u8)
        out[C.KEY_SYNC] = st.builds(
            g.KeySync, encryption=u8, key=st.binary(max_size=32), valid_from=times, valid_to=times
        )
    else:
        for cmd in ed.COMMANDS_2025_ONLY:
            out[cmd] = st.builds(g.Opaque, data=st.binary(max_size=30))
    return out


def frames_for(
    e: g.Edition, command: int, payload: st.SearchStrategy[Any]
) -> st.SearchStrategy[g.Frame]:
    return st.builds(
        g.Frame,
        edition=st.just(e),
        command=st.just(command),
        response=st.just(0xFE),
        vin=fixed_ascii(17),
        encryption=st.just(0x01),
        payload=payload,
    )


def _responses(e: g.Edition) -> st.SearchStrategy[g.Frame]:
    flags = sorted(ed.RESPONSE_FLAGS[e] - {0xFE})
    return st.one_of(
        st.builds(
            g.Frame,
            edition=st.just(e),
            command=u8.filter(lambda c: c != g.Command.QUERY),
            response=st.sampled_from(flags),
            vin=fixed_ascii(17),
            encryption=st.just(0x01),
            payload=st.one_of(
                st.just(g.Response(None)),
                st.builds(g.Response, time=times, body=st.binary(max_size=20)),
            ),
        ),
        st.builds(
            g.Frame,
            edition=st.just(e),
            command=st.just(g.Command.QUERY),
            response=st.sampled_from(flags),
            vin=fixed_ascii(17),
            encryption=st.just(0x01),
            payload=parameters(),
        ),
    )


def _encrypted(e: g.Edition) -> st.SearchStrategy[g.Frame]:
    return st.builds(
        g.Frame,
        edition=st.just(e),
        command=u8,
        response=st.sampled_from(sorted(ed.RESPONSE_FLAGS[e])),
        vin=fixed_ascii(17),
        encryption=st.sampled_from(sorted(ed.ENCRYPTIONS[e] - {0x01})),
        payload=st.builds(g.Opaque, data=st.binary(max_size=30)),
    )


def any_frame() -> st.SearchStrategy[g.Frame]:
    """Any valid frame of either edition."""
    parts = []
    for e in g.Edition:
        parts += [frames_for(e, c, p) for c, p in command_payloads(e).items()]
        parts += [_responses(e), _encrypted(e)]
    return st.one_of(*parts)
