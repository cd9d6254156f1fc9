"""The desensitize use case: apply a profile, measure the risk left, keep the promise.

The output is released (``out`` closed) only when it keeps the profile's promise (the highest
level and the categories it may hold); otherwise ``out`` is aborted and the result says it was
withheld. The CLI turns a withheld result into exit 4, the service into a 403: the rule itself
lives here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from onshore.app.sinks import Quarantine, Sink
from onshore.desensitize import Desensitizer, RiskReport
from onshore.io.chunks import Chunk
from onshore.ledger import Activity

if TYPE_CHECKING:
    from onshore.geo import AreaCatalogue, AreaIndex
    from onshore.keystore import Key
    from onshore.packs import Pack
    from onshore.packs.profiles import Profile
    from onshore.store import DataHome


@dataclass(frozen=True)
class DesensitizeResult:
    """The risk report, the rows released, and whether the output was withheld."""

    profile: Profile
    report: RiskReport
    rows_out: int
    quarantined: int

    @property
    def released(self) -> bool:
        return self.report.promise.kept

    @property
    def empty(self) -> str | None:
        """Why no row was released (``None`` when some were, or when the output was
        withheld): ``0 rows released: no group reached k = 10``."""
        if not self.released or self.rows_out:
            return None
        return "0 rows released: " + empty_reason(self.profile, self.report)

    def refusal(self, where: str) -> str:
        """Why nothing was released to ``where`` (a file, a response)."""
        promise = self.report.promise
        return (
            f"profile {self.profile.name!r} promised at most {promise.level.label} "
            f"without {', '.join(self.profile.promise.forbid) or 'nothing'}; its output is "
            f"{promise.found.label}"
            + (f" with {', '.join(promise.forbidden_found)}" if promise.forbidden_found else "")
            + f": nothing written to {where}"
        )


def desensitize(
    source: Iterable[Chunk],
    profile: Profile,
    pack: Pack,
    *,
    out: Sink,
    quarantine: Quarantine,
    key: Key | None = None,
    areas: AreaCatalogue | AreaIndex | None = None,
    boundaries: AreaCatalogue | None = None,
    subject: str | None = None,
    label: str | None = None,
    home: DataHome | None = None,
    purpose: str | None = None,
    on_chunk: Callable[[], None] | None = None,
) -> DesensitizeResult:
    """Push every chunk of ``source`` through ``profile``; write what it releases to ``out``
    and bad records to ``quarantine``; release ``out`` only if the promise is kept. Inside a
    data home (``home``) the run is a ``use`` entered on its ledger."""
    runner = Desensitizer(
        profile, pack, key=key, areas=areas, boundaries=boundaries, subject=subject, source=label
    )
    schema = None
    rows_out = 0
    try:
        for chunk in source:
            if chunk.batch is not None:
                for released in runner.push(chunk.batch, rows=chunk.rows):
                    schema = released.schema
                    rows_out += released.num_rows
                    out.write(released)
                quarantine.write(runner.last_bad)
            runner.quarantined(len(chunk.bad))
            quarantine.write(chunk.bad)
            if on_chunk is not None:
                on_chunk()
        for released in runner.finish():
            schema = released.schema
            rows_out += released.num_rows
            out.write(released)
        report = runner.report()
    except BaseException:
        out.abort()
        quarantine.close()
        raise
    quarantine.close()
    if report.promise.kept:
        # Also with no row released, the output appears, with the schema of what would have
        # been (no column at all when no row reached the steps).
        out.close(schema or runner.output_schema or pa.schema([]))
    else:
        out.abort()
    result = DesensitizeResult(
        profile, report, rows_out if report.promise.kept else 0, quarantine.count
    )
    if home is not None:
        details: dict[str, Any] = {"profile": profile.name, "promise": report.promise.to_dict()}
        home.record(
            Activity.USE,
            purpose=purpose or f"desensitization (profile {profile.name})",
            dataset="-",
            counts={"rows": result.rows_out, "rows_quarantined": result.quarantined},
            decision="released" if result.released else "withheld: promise broken",
            details=details,
        )
    return result


def empty_reason(profile: Profile, report: RiskReport) -> str:
    """Why a run released no row: no input, a group size no group reached, or the first step
    that removed every row it was given."""
    if report.rows_in == 0:
        return "the input held no valid row"
    for op in report.operators:
        if op.op == "aggregate" and op.rows_in:
            return f"no group reached k = {op.params.get('k')}"
    for op in report.operators:
        if op.rows_in and not op.rows_out:
            return f"step {op.op!r} removed every row ({op.rows_in:,} in)"
    return "every row was removed by the profile's steps"
