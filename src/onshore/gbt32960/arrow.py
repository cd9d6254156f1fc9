"""Decoded real-time frames as canonical telemetry rows (DESIGN.md "Canonical telemetry").

One row per real-time report or re-send: ``vin``, ``ts`` (UTC), ``lat``/``lon`` (signed
degrees; ``crs`` names the coordinate system: ``"wgs84"`` for 2016 frames, whose standard
fixes WGS-84, and for 2025 frames that say system 1; ``"gcj02"`` for system 2; ``"other"`` for
system 3 or a code the standard does not define; null only where there is no position), then
the signals under COVESA VSS paths where VSS has one and ``gbt32960.*`` names otherwise. A
field the device reported as abnormal or invalid is null, and its column name (with ``[i]``
for list items) is listed in ``gbt32960.abnormal`` or ``gbt32960.invalid`` (sorted): the flag
names which, and no sentinel is ever a number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from onshore.gbt32960.blocks import (
    Alarms,
    DriveMotors,
    Engine,
    Extremes,
    FuelCell,
    Position,
    RawBlock,
    StorageTemperatures,
    StorageVoltages,
    VehicleData,
)
from onshore.gbt32960.frame import Frame
from onshore.gbt32960.realtime import RealTimeReport
from onshore.gbt32960.values import Sentinel, beijing_to_utc

P = "gbt32960."
TB = "Vehicle.Powertrain.TractionBattery."
_U8, _I16, _I32, _F64 = pa.uint8(), pa.int16(), pa.int32(), pa.float64()

_MOTOR = pa.struct(
    [
        ("seq", _U8),
        ("state", _U8),
        ("controller_temperature", _I16),
        ("speed", _I32),
        ("torque", _F64),
        ("temperature", _I16),
        ("controller_voltage", _F64),
        ("dc_bus_current", _F64),
    ]
)
_VOLTAGES = pa.struct(
    [
        ("subsystem", _U8),
        ("voltage", _F64),
        ("current", _F64),
        ("total_cells", pa.uint16()),
        ("start_cell", pa.uint16()),
        ("cell_voltages", pa.list_(_F64)),
    ]
)
_TEMPS = pa.struct([("subsystem", _U8), ("temperatures", pa.list_(_I16))])
_EXTREMES = pa.struct(
    [
        (n, _U8)
        for n in (
            "max_voltage_subsystem",
            "max_voltage_cell",
            "min_voltage_subsystem",
            "min_voltage_cell",
            "max_temperature_subsystem",
            "max_temperature_probe",
            "min_temperature_subsystem",
            "min_temperature_probe",
        )
    ]
)
_FUEL_CELL = pa.struct(
    [
        ("voltage", _F64),
        ("current", _F64),
        ("hydrogen_consumption", _F64),
        ("probe_temperatures", pa.list_(_I16)),
        ("max_hydrogen_temperature", _F64),
        ("max_hydrogen_temperature_probe", _U8),
        ("max_hydrogen_concentration", _I32),
        ("max_hydrogen_concentration_sensor", _U8),
        ("max_hydrogen_pressure", _F64),
        ("max_hydrogen_pressure_sensor", _U8),
        ("dcdc_state", _U8),
    ]
)

#: The canonical schema of decoded real-time frames (stable column order).
SCHEMA = pa.schema(
    [
        ("vin", pa.string()),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("lat", _F64),
        ("lon", _F64),
        ("crs", pa.string()),
        (P + "time_local", pa.timestamp("s")),
        (P + "edition", _I16),
        (P + "command", _U8),
        (P + "bcc_ok", pa.bool_()),
        (P + "position_valid", pa.bool_()),
        ("Vehicle.Speed", _F64),
        ("Vehicle.TraveledDistance", _F64),
        (TB + "CurrentVoltage", _F64),
        (TB + "CurrentCurrent", _F64),
        (TB + "StateOfCharge.Current", _F64),
        ("Vehicle.Powertrain.Transmission.SelectedGear", pa.int8()),
        ("Vehicle.Chassis.Accelerator.PedalPosition", _U8),
        ("Vehicle.Chassis.Brake.PedalPosition", _U8),
        ("Vehicle.Powertrain.CombustionEngine.Speed", _I32),
        (TB + "CellVoltage.Max", _F64),
        (TB + "CellVoltage.Min", _F64),
        (TB + "Temperature.Max", _F64),
        (TB + "Temperature.Min", _F64),
        (P + "vehicle_state", _U8),
        (P + "charging_state", _U8),
        (P + "operating_mode", _U8),
        (P + "dcdc_state", _U8),
        (P + "gear", _U8),
        (P + "insulation_resistance", _I32),
        (P + "engine_state", _U8),
        (P + "fuel_consumption", _F64),
        (P + "alarm_level", _U8),
        (P + "alarm_flags", pa.uint32()),
        (P + "storage_faults", pa.list_(pa.uint32())),
        (P + "motor_faults", pa.list_(pa.uint32())),
        (P + "engine_faults", pa.list_(pa.uint32())),
        (P + "other_faults", pa.list_(pa.uint32())),
        (P + "alarm_levels", pa.list_(pa.struct([("alarm", _U8), ("level", _U8)]))),
        (P + "drive_motors", pa.list_(_MOTOR)),
        (P + "storage_voltages", pa.list_(_VOLTAGES)),
        (P + "storage_temperatures", pa.list_(_TEMPS)),
        (P + "extremes", _EXTREMES),
        (P + "fuel_cell", _FUEL_CELL),
        (P + "raw_blocks", pa.list_(pa.struct([("type_id", _U8), ("data", pa.binary())]))),
        (
            P + "signature",
            pa.struct([("algorithm", _U8), ("r", pa.binary()), ("s", pa.binary())]),
        ),
        (P + "abnormal", pa.list_(pa.string())),
        (P + "invalid", pa.list_(pa.string())),
    ]
)

_GEAR_VSS = {13: -1, 14: 127, 15: 126}  # R, D, P (VSS SelectedGear: 126 park, 127 drive)
_CRS = {1: "wgs84", 2: "gcj02", 3: "other"}
WGS84_2016 = "wgs84"
"""GB/T 32960.3-2016 has no coordinate-system byte: its positions are WGS-84 by the standard."""


def crs_name(code: int | None) -> str:
    """The ``crs`` of a position block: its 2025 coordinate-system byte, or 2016's WGS-84."""
    return WGS84_2016 if code is None else _CRS.get(code, "other")


class _Row:
    """Collects one row's values and its sentinel flags."""

    __slots__ = ("abnormal", "invalid", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.abnormal: list[str] = []
        self.invalid: list[str] = []

    def num(self, name: str, value: Any) -> Any:
        if isinstance(value, Sentinel):
            (self.abnormal if value is Sentinel.ABNORMAL else self.invalid).append(name)
            return None
        return value

    def nums(self, name: str, values: tuple[Any, ...]) -> list[Any]:
        return [self.num(f"{name}[{i}]", v) for i, v in enumerate(values)]

    def obj(self, name: str, obj: Any, names: Iterable[str]) -> dict[str, Any]:
        return {n: self.num(f"{name}.{n}", getattr(obj, n)) for n in names}

    def put(self, name: str, value: Any) -> None:
        self.values[name] = self.num(name, value)


def _vehicle(row: _Row, b: VehicleData) -> None:
    row.put("Vehicle.Speed", b.speed)
    row.put("Vehicle.TraveledDistance", b.odometer)
    row.put(TB + "CurrentVoltage", b.total_voltage)
    row.put(TB + "CurrentCurrent", b.total_current)
    row.put(TB + "StateOfCharge.Current", b.soc)
    row.put("Vehicle.Chassis.Accelerator.PedalPosition", b.accelerator_pedal)
    row.put("Vehicle.Chassis.Brake.PedalPosition", b.brake_pedal)
    for n in ("vehicle_state", "charging_state", "operating_mode", "dcdc_state", "gear"):
        row.put(P + n, getattr(b, n))
    row.put(P + "insulation_resistance", b.insulation_resistance)
    gear = b.gear & 0x0F
    if not b.gear & 0x80:  # 2025 bit7 set: gear position invalid
        row.values["Vehicle.Powertrain.Transmission.SelectedGear"] = _GEAR_VSS.get(gear, gear)


def _position(row: _Row, b: Position) -> None:
    row.num("lat", b.latitude)  # flags a sentinel; the signed value is None then
    row.num("lon", b.longitude)
    row.values["lat"] = b.signed_latitude
    row.values["lon"] = b.signed_longitude
    row.values["crs"] = crs_name(b.crs)
    row.values[P + "position_valid"] = b.valid


def _alarms(row: _Row, b: Alarms) -> None:
    row.put(P + "alarm_level", b.level)
    row.values[P + "alarm_flags"] = b.flags
    for n in Alarms.FAULT_LISTS:
        row.values[P + n] = list(getattr(b, n))
    if b.alarm_levels is not None:
        row.values[P + "alarm_levels"] = [{"alarm": a, "level": lv} for a, lv in b.alarm_levels]


def _extremes(row: _Row, b: Extremes) -> None:
    row.put(TB + "CellVoltage.Max", b.max_cell_voltage)
    row.put(TB + "CellVoltage.Min", b.min_cell_voltage)
    row.put(TB + "Temperature.Max", b.max_temperature)
    row.put(TB + "Temperature.Min", b.min_temperature)
    row.values[P + "extremes"] = row.obj(P + "extremes", b, _EXTREMES.names)


def _voltages(row: _Row, b: StorageVoltages) -> None:
    name = P + "storage_voltages"
    out = []
    for i, sv in enumerate(b.subsystems):
        item = row.obj(f"{name}[{i}]", sv, ("subsystem", "voltage", "current"))
        item["total_cells"], item["start_cell"] = sv.total_cells, sv.start_cell
        item["cell_voltages"] = row.nums(f"{name}[{i}].cell_voltages", sv.cell_voltages)
        out.append(item)
    row.values[name] = out


def _temperatures(row: _Row, b: StorageTemperatures) -> None:
    name = P + "storage_temperatures"
    row.values[name] = [
        {
            "subsystem": pt.subsystem,
            "temperatures": row.nums(f"{name}[{i}].temperatures", pt.temperatures),
        }
        for i, pt in enumerate(b.subsystems)
    ]


def _motors(row: _Row, b: DriveMotors) -> None:
    name = P + "drive_motors"
    row.values[name] = [row.obj(f"{name}[{i}]", m, _MOTOR.names) for i, m in enumerate(b.motors)]


def _engine(row: _Row, b: Engine) -> None:
    row.put("Vehicle.Powertrain.CombustionEngine.Speed", b.crankshaft_speed)
    row.put(P + "engine_state", b.state)
    row.put(P + "fuel_consumption", b.fuel_consumption)


def _fuel_cell(row: _Row, b: FuelCell) -> None:
    name = P + "fuel_cell"
    item = row.obj(name, b, [n for n in _FUEL_CELL.names if n != "probe_temperatures"])
    item["probe_temperatures"] = row.nums(f"{name}.probe_temperatures", b.probe_temperatures)
    row.values[name] = item


_BLOCK_ROWS: dict[type, Any] = {
    VehicleData: _vehicle,
    Position: _position,
    Alarms: _alarms,
    Extremes: _extremes,
    StorageVoltages: _voltages,
    StorageTemperatures: _temperatures,
    DriveMotors: _motors,
    Engine: _engine,
    FuelCell: _fuel_cell,
}


def frame_row(frame: Frame) -> dict[str, Any] | None:
    """The canonical row of one real-time frame as a dict (``None`` for other frames)."""
    report = frame.payload
    if not isinstance(report, RealTimeReport):
        return None
    row = _Row()
    v = row.values
    v["vin"] = frame.vin
    v["ts"] = beijing_to_utc(report.time)
    v[P + "time_local"] = report.time
    v[P + "edition"] = int(frame.edition)
    v[P + "command"] = frame.command
    v[P + "bcc_ok"] = frame.bcc_ok
    raw = []
    for block in report.blocks:
        if isinstance(block, RawBlock):
            raw.append({"type_id": block.type_id, "data": block.data})
        else:
            _BLOCK_ROWS[type(block)](row, block)
    v[P + "raw_blocks"] = raw
    if report.signature is not None:
        s = report.signature
        v[P + "signature"] = {"algorithm": s.algorithm, "r": s.r, "s": s.s}
    v[P + "abnormal"] = sorted(row.abnormal)
    v[P + "invalid"] = sorted(row.invalid)
    return v


def frames_to_arrow(frames: Iterable[Frame]) -> pa.Table:
    """Canonical Arrow rows (:data:`SCHEMA`) for the real-time frames among ``frames``.

    Frames of other commands (login, heartbeat …) carry no telemetry and are skipped.
    """
    rows = [r for r in (frame_row(f) for f in frames) if r is not None]
    columns = {name: [r.get(name) for r in rows] for name in SCHEMA.names}
    return pa.table([pa.array(columns[f.name], type=f.type) for f in SCHEMA], schema=SCHEMA)
