"""GB/T 32960.3 (2016 and 2025 editions): frames in, frozen values and canonical Arrow out.

Pure core: no I/O. Any byte string decodes to a :class:`Frame` or raises :class:`FrameError`
(a :class:`onshore.errors.BadInput` with ``offset`` and ``field``), never anything else.
"""

from __future__ import annotations

from onshore.gbt32960.arrow import SCHEMA, frame_row, frames_to_arrow
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
from onshore.gbt32960.editions import Command, Edition, Encryption, InfoType, ResponseFlag
from onshore.gbt32960.errors import EncodeError, FrameError
from onshore.gbt32960.frame import Frame, Payload, bcc, decode_frame, encode_frame, iter_frames
from onshore.gbt32960.payloads import (
    Activation,
    ActivationResponse,
    Empty,
    KeySync,
    Logout,
    Opaque,
    ParameterQuery,
    Parameters,
    PlatformLogin,
    Response,
    TerminalControl,
    VehicleLogin,
)
from onshore.gbt32960.realtime import RealTimeReport, signed_bytes
from onshore.gbt32960.stream import decode_stream
from onshore.gbt32960.values import Num, Sentinel

__all__ = [
    "SCHEMA",
    "Activation",
    "ActivationResponse",
    "Alarms",
    "Block",
    "Command",
    "DriveMotor",
    "DriveMotors",
    "Edition",
    "Empty",
    "EncodeError",
    "Encryption",
    "Engine",
    "Extremes",
    "Frame",
    "FrameError",
    "FuelCell",
    "InfoType",
    "KeySync",
    "Logout",
    "Num",
    "Opaque",
    "ParameterQuery",
    "Parameters",
    "Payload",
    "PlatformLogin",
    "Position",
    "ProbeTemperatures",
    "RawBlock",
    "RealTimeReport",
    "Response",
    "ResponseFlag",
    "Sentinel",
    "Signature",
    "StorageTemperatures",
    "StorageVoltage",
    "StorageVoltages",
    "TerminalControl",
    "VehicleData",
    "VehicleLogin",
    "bcc",
    "decode_frame",
    "decode_stream",
    "encode_frame",
    "frame_row",
    "frames_to_arrow",
    "iter_frames",
    "signed_bytes",
]
