"""The typed errors of the GB/T 32960.3 codec.

::

    BadInput (onshore.errors)
    ├── FrameError    bytes that are not a valid frame: names the byte offset and the field
    └── EncodeError   a value that cannot be written into a frame: names the field

Decoding never raises anything but :class:`FrameError` (see ``tests/gbt32960``).
"""

from __future__ import annotations

from onshore.errors import BadInput


class FrameError(BadInput):
    """A byte string that is not a valid GB/T 32960.3 frame.

    ``offset`` is the byte offset of the offending field, counted from the first start byte of
    the frame (or, in :func:`onshore.gbt32960.decode_stream`, from the start of the stream);
    ``field`` names the field (``"bcc"``, ``"length"``, ``"realtime.0x01.speed"`` …).

    >>> err = FrameError("checksum mismatch", offset=40, field="bcc")
    >>> (err.offset, err.field, str(err))
    (40, 'bcc', "field 'bcc': checksum mismatch at byte 40")
    """

    def __init__(
        self,
        message: str,
        *,
        offset: int,
        field: str,
        file: str | None = None,
        record: int | None = None,
    ) -> None:
        self.offset = offset
        super().__init__(f"{message} at byte {offset}", file=file, record=record, field=field)
        self.reason = message

    def shifted(self, by: int, *, record: int | None = None) -> FrameError:
        """The same error with its offset moved by ``by`` bytes (frame → stream offsets)."""
        return FrameError(
            self.reason,
            offset=self.offset + by,
            field=self.field or "",
            file=self.file,
            record=record if record is not None else self.record,
        )


class EncodeError(BadInput):
    """A value that does not fit the frame field it is written to (out of range, too long)."""
