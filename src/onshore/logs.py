"""No raw VIN in any log Onshore writes: every log record is masked where it is made.

:func:`install_vin_masking` wraps the process's log-record factory, so every record (Onshore's
loggers, uvicorn's access and error logs, a library's) has the VIN-shaped tokens of its message
and arguments replaced by ``[VIN]`` before any handler formats it. The service installs it when
its app is created, ``onshore serve`` before uvicorn starts, and the ingest worker with its log.
The VIN stays in the URL paths of the subject endpoints (clients depend on them); the access log
shows ``/v1/subjects/[VIN]``.

>>> import logging
>>> install_vin_masking()
>>> logging.getLogger("uvicorn.access").makeRecord(
...     "uvicorn.access", logging.INFO, "", 0, '"%s %s"', ("GET", "/v1/subjects/LSVAU2180N2183294"),
...     None).getMessage()
'"GET /v1/subjects/[VIN]"'
"""

from __future__ import annotations

import logging
from typing import Any

from onshore.store.places import mask_vins

_INSTALLED = False


def _mask(value: Any) -> Any:
    return mask_vins(value) if isinstance(value, str) else value


def install_vin_masking() -> None:
    """Mask VINs in every log record this process makes from now on (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        record.msg = _mask(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _mask(v) for k, v in record.args.items()}
        return record

    logging.setLogRecordFactory(factory)
    _INSTALLED = True
