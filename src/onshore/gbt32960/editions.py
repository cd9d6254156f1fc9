"""The two editions of GB/T 32960.3 and their code tables (commands, flags, info types)."""

from __future__ import annotations

import enum


class Edition(enum.IntEnum):
    """Edition of the standard; the start characters of a frame tell them apart."""

    V2016 = 2016
    V2025 = 2025

    @property
    def marker(self) -> bytes:
        """The two start characters: ``##`` (2016) or ``$$`` (2025)."""
        return b"##" if self is Edition.V2016 else b"$$"

    @classmethod
    def from_marker(cls, marker: bytes) -> Edition | None:
        """The edition whose start characters are ``marker``, or ``None``."""
        return _BY_MARKER.get(bytes(marker))


_BY_MARKER = {b"##": Edition.V2016, b"$$": Edition.V2025}


class Command(enum.IntEnum):
    """Command IDs (§5.2). Values outside this enum are reserved or platform-defined."""

    VEHICLE_LOGIN = 0x01
    REALTIME = 0x02
    RESEND = 0x03
    VEHICLE_LOGOUT = 0x04
    PLATFORM_LOGIN = 0x05
    PLATFORM_LOGOUT = 0x06
    HEARTBEAT = 0x07
    TIME_SYNC = 0x08
    ACTIVATION = 0x09  # 2025
    ACTIVATION_RESPONSE = 0x0A  # 2025
    KEY_SYNC = 0x0B  # 2025
    QUERY = 0x80
    SET = 0x81
    CONTROL = 0x82


#: Commands that exist only from the 2025 edition on (reserved uplink IDs in 2016).
COMMANDS_2025_ONLY = frozenset({Command.ACTIVATION, Command.ACTIVATION_RESPONSE, Command.KEY_SYNC})


class ResponseFlag(enum.IntEnum):
    """Response flag: ``COMMAND`` marks a request; the others answer one."""

    SUCCESS = 0x01
    ERROR = 0x02
    VIN_DUPLICATE = 0x03
    VIN_UNKNOWN = 0x04
    SIGNATURE_INVALID = 0x05  # 2025
    STRUCTURE_INVALID = 0x06  # 2025
    DECRYPTION_FAILED = 0x07  # 2025
    COMMAND = 0xFE


RESPONSE_FLAGS = {
    Edition.V2016: frozenset({0x01, 0x02, 0x03, 0x04, 0xFE}),
    Edition.V2025: frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xFE}),
}


class Encryption(enum.IntEnum):
    """The encryption byte: how the data unit is encrypted."""

    NONE = 0x01
    RSA = 0x02
    AES128 = 0x03
    SM2 = 0x04  # 2025
    SM4 = 0x05  # 2025
    ABNORMAL = 0xFE
    INVALID = 0xFF


ENCRYPTIONS = {
    Edition.V2016: frozenset({0x01, 0x02, 0x03, 0xFE, 0xFF}),
    Edition.V2025: frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0xFE, 0xFF}),
}


class InfoType(enum.IntEnum):
    """Real-time information type IDs. The same ID can mean different things per edition."""

    VEHICLE = 0x01
    DRIVE_MOTORS = 0x02
    FUEL_CELL = 0x03
    ENGINE = 0x04
    POSITION = 0x05
    EXTREMES_2016 = 0x06
    ALARMS_2016 = 0x07
    VOLTAGES_2016 = 0x08
    TEMPERATURES_2016 = 0x09
    FUEL_CELL_STACKS_2025 = 0x30
    SUPERCAPACITORS_2025 = 0x31
    SUPERCAPACITOR_EXTREMES_2025 = 0x32


#: 2025 renumbering: alarms 0x06, voltages 0x07, temperatures 0x08 (extremes removed).
ALARMS = {Edition.V2016: 0x07, Edition.V2025: 0x06}
VOLTAGES = {Edition.V2016: 0x08, Edition.V2025: 0x07}
TEMPERATURES = {Edition.V2016: 0x09, Edition.V2025: 0x08}
EXTREMES_2016 = 0x06

#: Info types whose layout this codec does not know (2025 fuel cell, stacks and
#: super-capacitors, whose tables are not in the spec it was written from): kept as raw bytes
#: up to the signature block.
OPAQUE_TYPES = {
    Edition.V2016: frozenset[int](),
    Edition.V2025: frozenset({0x03, 0x30, 0x31, 0x32}),
}

#: OEM-defined info types: a WORD length, then that many bytes (as real frames show).
OEM_TYPES = range(0x80, 0xFF)

#: Marker that starts the 2025 signature block inside a real-time payload.
SIGNATURE_MARKER = 0xFF
