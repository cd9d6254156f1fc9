"""The JSON the compliance console needs beyond the rest of the API, from the library's own code.

One module per view, each with its own router; :data:`router` holds their routes in this order:

* :mod:`.session` — ``/v1/console/session``: who the key is and which operations its role
  may call (the console disables what it may not; the API refuses it anyway).
* :mod:`.overview` — ``/v1/console/overview``: what is stored by level and category over
  time, distinct individuals and vehicles (:func:`onshore.report.collect`, the annual report's
  own figures), and this year's cumulative exports against each threshold of the pack's
  ``transfer.yaml`` (the transfer registry's counters) with the headroom left before the next
  mechanism.
* :mod:`.approvals` — ``/v1/console/approvals``: the approvals registry with expiry, renewal
  window and status, as ``onshore transfer approvals list`` shows it.
* :mod:`.uploads` — ``/v1/console/transfers/{assess,run}/upload``: the transfer gate on an
  uploaded file.
* :mod:`.subjects` — ``/v1/console/subjects/{vin}``, ``/v1/console/requests``: what is held
  about a vehicle, and the subject-request queue with due dates and overdue items.
* :mod:`.ledger` — ``/v1/console/ledger/entries``: a search over the ledger's entries.
* :mod:`.notice` — ``/v1/console/notice``: the privacy notice
  (:func:`onshore.report.render_notice`).
* :mod:`.areas` — ``/v1/console/areas`` and ``/v1/console/areas/hits``: the sensitive-area
  catalogue as GeoJSON, and the points of a lake dataset that fall inside an area or its
  buffer, as the classifier finds them.

:mod:`.shared` holds what they share (:data:`READERS`, :data:`ERRORS`, the legal reference).

Reads that show personal data (a vehicle's rows, request pseudonyms, ledger entries naming a
subject, positions near sensitive areas) are ``view`` entries on the ledger and, for a client
abroad, first pass the transfer gate (:func:`onshore.service.abroad.gate_read`).
"""

from __future__ import annotations

from fastapi import APIRouter

from onshore.service.routes.console import (
    approvals,
    areas,
    ledger,
    notice,
    overview,
    session,
    subjects,
    uploads,
)
from onshore.service.routes.console.shared import ERRORS, READERS

__all__ = ["ERRORS", "READERS", "VIEWS", "router"]

VIEWS = (session, overview, approvals, uploads, subjects, ledger, notice, areas)

router = APIRouter()
# The views' own routes, not ``include_router``: FastAPI nests an included router lazily, and
# :func:`onshore.service.app.endpoint_roles` reads each operation's roles from ``router.routes``.
for _view in VIEWS:
    router.routes.extend(_view.router.routes)
