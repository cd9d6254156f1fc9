"""Real-time information blocks (§5.3) as frozen values, with their field tables per edition.

A field absent from an edition is ``None`` (for example the pedal positions in 2025). Numeric
fields hold physical values (km/h, V, A, °C …) or a :class:`~onshore.gbt32960.values.Sentinel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from onshore.gbt32960.editions import Edition
from onshore.gbt32960.values import Num, Scalar

_E16, _E25 = Edition.V2016, Edition.V2025


def _b(name: str, offset: int = 0, *, sentinels: bool = True) -> Scalar:
    return Scalar(name, 1, 1, offset, sentinels)


def _w(name: str, divisor: int = 1, offset: int = 0, *, sentinels: bool = True) -> Scalar:
    return Scalar(name, 2, divisor, offset, sentinels)


def _dw(name: str, divisor: int = 1, offset: int = 0, *, sentinels: bool = True) -> Scalar:
    return Scalar(name, 4, divisor, offset, sentinels)


@dataclass(frozen=True)
class VehicleData:
    """0x01 whole-vehicle data. Gear is the raw gear byte (see :func:`gear_of`)."""

    vehicle_state: Num
    charging_state: Num
    operating_mode: Num
    speed: Num  # km/h
    odometer: Num  # km
    total_voltage: Num  # V
    total_current: Num  # A
    soc: Num  # %
    dcdc_state: Num
    gear: int
    insulation_resistance: Num  # kΩ
    accelerator_pedal: Num | None = None  # %, 2016 only
    brake_pedal: Num | None = None  # %, 2016 only

    TYPE_ID: ClassVar[int] = 0x01
    FIELDS: ClassVar[dict[Edition, tuple[Scalar, ...]]] = {
        e: (
            _b("vehicle_state"),
            _b("charging_state"),
            _b("operating_mode"),
            _w("speed", 10),
            _dw("odometer", 10),
            _w("total_voltage", 10),
            _w("total_current", 10, -10000 if e is _E16 else -30000),
            _b("soc"),
            _b("dcdc_state"),
            _b("gear", sentinels=False),
            _w("insulation_resistance", sentinels=e is _E25),
            *((_b("accelerator_pedal"), _b("brake_pedal")) if e is _E16 else ()),
        )
        for e in Edition
    }


@dataclass(frozen=True)
class DriveMotor:
    """One drive motor of block 0x02."""

    seq: int
    state: Num
    controller_temperature: Num  # °C
    speed: Num  # rpm
    torque: Num  # N·m
    temperature: Num  # °C
    controller_voltage: Num | None = None  # V, 2016 only
    dc_bus_current: Num | None = None  # A, 2016 only

    FIELDS: ClassVar[dict[Edition, tuple[Scalar, ...]]] = {
        _E16: (
            _b("seq", sentinels=False),
            _b("state"),
            _b("controller_temperature", -40),
            _w("speed", 1, -20000),
            _w("torque", 10, -20000),
            _b("temperature", -40),
            _w("controller_voltage", 10),
            _w("dc_bus_current", 10, -10000),
        ),
        _E25: (
            _b("seq", sentinels=False),
            _b("state"),
            _b("controller_temperature", -40),
            _w("speed", 1, -32000),
            _dw("torque", 10, -200000),
            _b("temperature", -40),
        ),
    }


@dataclass(frozen=True)
class DriveMotors:
    """0x02 drive motors: a count byte, then one record per motor."""

    motors: tuple[DriveMotor, ...]

    TYPE_ID: ClassVar[int] = 0x02


@dataclass(frozen=True)
class FuelCell:
    """0x03 fuel-cell system (2016 layout)."""

    voltage: Num  # V
    current: Num  # A
    hydrogen_consumption: Num  # kg/100 km
    probe_temperatures: tuple[Num, ...]  # °C
    max_hydrogen_temperature: Num  # °C
    max_hydrogen_temperature_probe: Num
    max_hydrogen_concentration: Num  # ppm
    max_hydrogen_concentration_sensor: Num
    max_hydrogen_pressure: Num  # MPa
    max_hydrogen_pressure_sensor: Num
    dcdc_state: Num

    TYPE_ID: ClassVar[int] = 0x03
    HEAD: ClassVar[tuple[Scalar, ...]] = (
        _w("voltage", 10),
        _w("current", 10),
        _w("hydrogen_consumption", 100),
    )
    PROBE: ClassVar[Scalar] = _b("probe_temperatures", -40)
    TAIL: ClassVar[tuple[Scalar, ...]] = (
        _w("max_hydrogen_temperature", 10, -400),
        _b("max_hydrogen_temperature_probe"),
        _w("max_hydrogen_concentration"),
        _b("max_hydrogen_concentration_sensor"),
        _w("max_hydrogen_pressure", 10),
        _b("max_hydrogen_pressure_sensor"),
        _b("dcdc_state"),
    )


@dataclass(frozen=True)
class Engine:
    """0x04 engine. 2025 keeps only the crankshaft speed."""

    crankshaft_speed: Num  # rpm
    state: Num | None = None  # 2016 only
    fuel_consumption: Num | None = None  # L/100 km, 2016 only

    TYPE_ID: ClassVar[int] = 0x04
    FIELDS: ClassVar[dict[Edition, tuple[Scalar, ...]]] = {
        _E16: (_b("state"), _w("crankshaft_speed"), _w("fuel_consumption", 100)),
        _E25: (_w("crankshaft_speed"),),
    }


@dataclass(frozen=True)
class Position:
    """0x05 vehicle position. Longitude and latitude are unsigned magnitudes in degrees;
    the status byte says the hemisphere (bit1 south, bit2 west) and validity (bit0 invalid).
    ``crs`` is the 2025 coordinate-system byte (1 WGS-84, 2 GCJ-02, 3 other)."""

    status: int
    longitude: Num
    latitude: Num
    crs: int | None = None

    TYPE_ID: ClassVar[int] = 0x05
    FIELDS: ClassVar[dict[Edition, tuple[Scalar, ...]]] = {
        _E16: (
            _b("status", sentinels=False),
            _dw("longitude", 1_000_000),
            _dw("latitude", 1_000_000),
        ),
        _E25: (
            _b("status", sentinels=False),
            _b("crs", sentinels=False),
            _dw("longitude", 1_000_000),
            _dw("latitude", 1_000_000),
        ),
    }

    @property
    def valid(self) -> bool:
        """Whether the receiver reported a valid fix (status bit0 clear)."""
        return not self.status & 0x01

    @property
    def signed_latitude(self) -> float | None:
        """Latitude in degrees, negative in the south; ``None`` for a sentinel."""
        if isinstance(self.latitude, int | float):
            return -self.latitude if self.status & 0x02 else float(self.latitude)
        return None

    @property
    def signed_longitude(self) -> float | None:
        """Longitude in degrees, negative in the west; ``None`` for a sentinel."""
        if isinstance(self.longitude, int | float):
            return -self.longitude if self.status & 0x04 else float(self.longitude)
        return None


@dataclass(frozen=True)
class Extremes:
    """0x06 extreme values (2016 only): highest/lowest cell voltage and probe temperature."""

    max_voltage_subsystem: Num
    max_voltage_cell: Num
    max_cell_voltage: Num  # V
    min_voltage_subsystem: Num
    min_voltage_cell: Num
    min_cell_voltage: Num  # V
    max_temperature_subsystem: Num
    max_temperature_probe: Num
    max_temperature: Num  # °C
    min_temperature_subsystem: Num
    min_temperature_probe: Num
    min_temperature: Num  # °C

    TYPE_ID: ClassVar[int] = 0x06
    FIELDS: ClassVar[dict[Edition, tuple[Scalar, ...]]] = {
        _E16: (
            _b("max_voltage_subsystem"),
            _b("max_voltage_cell"),
            _w("max_cell_voltage", 1000),
            _b("min_voltage_subsystem"),
            _b("min_voltage_cell"),
            _w("min_cell_voltage", 1000),
            _b("max_temperature_subsystem"),
            _b("max_temperature_probe"),
            _b("max_temperature", -40),
            _b("min_temperature_subsystem"),
            _b("min_temperature_probe"),
            _b("min_temperature", -40),
        )
    }


@dataclass(frozen=True)
class Alarms:
    """Alarms (2016 0x07, 2025 0x06): highest level, general flag bits, four fault-code lists
    and, in 2025, a list of ``(alarm bit, level)`` pairs."""

    level: Num
    flags: int
    storage_faults: tuple[int, ...] = ()
    motor_faults: tuple[int, ...] = ()
    engine_faults: tuple[int, ...] = ()
    other_faults: tuple[int, ...] = ()
    alarm_levels: tuple[tuple[int, int], ...] | None = None  # 2025 only

    LEVEL: ClassVar[Scalar] = _b("level")
    FAULT_LISTS: ClassVar[tuple[str, ...]] = (
        "storage_faults",
        "motor_faults",
        "engine_faults",
        "other_faults",
    )


@dataclass(frozen=True)
class StorageVoltage:
    """Voltages of one rechargeable energy-storage subsystem."""

    subsystem: int
    voltage: Num  # V
    current: Num  # A
    cell_voltages: tuple[Num, ...]  # V
    total_cells: int | None = None  # 2016 only
    start_cell: int | None = None  # 2016 only (1-based index of the first cell in this frame)

    HEAD: ClassVar[dict[Edition, tuple[Scalar, ...]]] = {
        # 2016 current offset: -1000 A as for the whole-vehicle current (the spec notes that
        # one library reads -3000 A); 2025: -3000 A.
        e: (
            _b("subsystem", sentinels=False),
            _w("voltage", 10),
            _w("current", 10, -10000 if e is _E16 else -30000),
        )
        for e in Edition
    }
    CELL: ClassVar[Scalar] = _w("cell_voltages", 1000)


@dataclass(frozen=True)
class StorageVoltages:
    """Energy-storage voltages (2016 0x08, 2025 0x07)."""

    subsystems: tuple[StorageVoltage, ...]


@dataclass(frozen=True)
class ProbeTemperatures:
    """Probe temperatures of one energy-storage subsystem (°C)."""

    subsystem: int
    temperatures: tuple[Num, ...]

    PROBE: ClassVar[Scalar] = _b("temperatures", -40)


@dataclass(frozen=True)
class StorageTemperatures:
    """Energy-storage probe temperatures (2016 0x09, 2025 0x08)."""

    subsystems: tuple[ProbeTemperatures, ...]


@dataclass(frozen=True)
class RawBlock:
    """A block kept as bytes: its type ID and data.

    OEM-defined types (0x80–0xFE) carry a WORD length on the wire (not included in ``data``).
    2025 types whose layout is not implemented (0x03, 0x30–0x32) run to the signature block,
    so they must come last."""

    type_id: int
    data: bytes


@dataclass(frozen=True)
class Signature:
    """The 2025 signature block: algorithm (1 SM2, 2 RSA, 3 ECC) and the R and S values."""

    algorithm: int
    r: bytes
    s: bytes


Block = (
    VehicleData
    | DriveMotors
    | FuelCell
    | Engine
    | Position
    | Extremes
    | Alarms
    | StorageVoltages
    | StorageTemperatures
    | RawBlock
)
