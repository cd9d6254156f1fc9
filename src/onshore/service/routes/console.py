"""The JSON the compliance console needs beyond the rest of the API, from the library's own code.

* ``/v1/console/session``: who the key is and which operations its role may call (the console
  disables what it may not; the API refuses it anyway).
* ``/v1/console/overview``: what is stored by level and category over time, distinct
  individuals and vehicles (:func:`onshore.report.collect`, the annual report's own figures),
  and this year's cumulative exports against each threshold of the pack's ``transfer.yaml``
  (the transfer registry's counters) with the headroom left before the next mechanism.
* ``/v1/console/approvals``: the approvals registry with expiry, renewal window and status,
  as ``onshore transfer approvals list`` shows it.
* ``/v1/console/transfers/{assess,run}/upload``: the transfer gate on an uploaded file.
* ``/v1/console/subjects/{vin}``, ``/v1/console/requests``: what is held about a vehicle,
  and the subject-request queue with due dates and overdue items.
* ``/v1/console/ledger/entries``: a search over the ledger's entries.
* ``/v1/console/notice``: the privacy notice (:func:`onshore.report.render_notice`).
* ``/v1/console/areas`` and ``/v1/console/areas/hits``: the sensitive-area catalogue as
  GeoJSON, and the points of a lake dataset that fall inside an area or its buffer, as the
  classifier finds them.

Reads that show personal data (a vehicle's rows, request pseudonyms, ledger entries naming a
subject, positions near sensitive areas) are ``view`` entries on the ledger and, for a client
abroad, first pass the transfer gate (:func:`onshore.service.abroad.gate_read`).
"""

from __future__ import annotations

import json
import shutil
import uuid
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from onshore.classify import LABEL_COLUMNS, Classifier
from onshore.errors import BadInput
from onshore.ledger import Activity
from onshore.model import Level
from onshore.service import bodies
from onshore.service.abroad import gate_read
from onshore.service.auth import Principal, require, state_of
from onshore.service.problems import ServiceProblem, documented
from onshore.service.routes.data import _plain
from onshore.service.routes.ingest import raw_body
from onshore.service.routes.subjects import VIN
from onshore.service.snapshot import snapshot_dataset
from onshore.service.state import ServiceState
from onshore.store import DataHome, Lake
from onshore.transfer import transfer_policy
from onshore.transfer.execute import Outcome
from onshore.transfer.models import TransferRequest
from onshore.transfer.policy import Exemption

router = APIRouter(tags=["console"])
READERS = ("compliance", "auditor", "operator")
ERRORS = documented(401, 403, 422, 503)
UPLOAD_TYPES = (bodies.PARQUET, bodies.CSV, bodies.JSONL)


# -- session ----------------------------------------------------------------------------------
@router.get(
    "/v1/console/session",
    summary="Who this key is, and the operations its role may call",
    responses=documented(401, 403, 503),
)
def session(
    principal: Annotated[
        Principal, Depends(require("ingest", "operator", "compliance", "auditor"))
    ],
    request: Request,
) -> dict[str, Any]:
    """``allowed`` lists ``METHOD /path`` of every operation the role may call, from the
    same role declarations the API enforces."""
    from onshore.service.app import endpoint_roles

    role = principal.key.role
    allowed = sorted(
        f"{method} {path}" for (method, path), roles in endpoint_roles().items() if role in roles
    )
    state = state_of(request)
    pack = state.home.pack
    policy = transfer_policy(pack)
    return {
        "name": principal.key.name,
        "role": role,
        "key": principal.key.id,
        "country": principal.country,
        "abroad": principal.abroad,
        "jurisdiction": state.home.pack.jurisdiction,
        "pack": {"name": pack.name, "version": pack.version},
        "allowed": allowed,
        "exemptions": {k: v.applies_to for k, v in policy.exemptions.items()},
        "profiles": list(pack.profiles),
        "purposes": [p.key for p in pack.bases.purposes] if pack.bases else [],
        "levels": [level.label for level in sorted(Level)],
        "instruments": {
            i.id: {"title": i.title, "title_zh": i.title_zh, "number": i.number, "url": i.url}
            for i in pack.instruments.values()
        },
    }


# -- overview ---------------------------------------------------------------------------------
def _thresholds(home: DataHome, state: ServiceState, year: int) -> dict[str, Any]:
    """This year's cumulative exported individuals against each tier of ``transfer.yaml``."""
    policy = transfer_policy(home.pack)
    gate = state.gate()
    counts = gate.registry.count([], np.zeros(0, dtype=bool), year=year, recipient="", purpose="")
    current = {
        "non_sensitive": counts.cumulative_non_sensitive,
        "sensitive": counts.cumulative_sensitive,
    }
    tiers = policy.tiers
    named = [
        ("standard_contract_or_certification", tiers.standard_contract_or_certification),
        ("security_assessment", tiers.security_assessment),
    ]
    measures: list[dict[str, Any]] = []
    for measure, attr in (("non_sensitive", "non_sensitive_gte"), ("sensitive", "sensitive_gte")):
        value = current[measure]
        steps = []
        for mechanism, tier in named:
            threshold = getattr(tier, attr)
            if threshold is None:
                continue
            steps.append(
                {
                    "mechanism": mechanism,
                    "gte": threshold,
                    "reached": value >= threshold,
                    "headroom": max(threshold - value, 0),
                    "ref": _ref(home, tier.ref),
                }
            )
        steps.sort(key=lambda s: s["gte"])
        reached = [s for s in steps if s["reached"]]
        upcoming = next((s for s in steps if not s["reached"]), None)
        measures.append(
            {
                "measure": measure,
                "value": value,
                "mechanism": reached[-1]["mechanism"] if reached else "none_required",
                "tiers": steps,
                "next": upcoming,
            }
        )
    order = ["none_required", "standard_contract_or_certification", "security_assessment"]
    return {
        "year": year,
        "window": policy.counting.window,
        "mechanism": max((str(m["mechanism"]) for m in measures), key=order.index),
        "none_required_ref": _ref(home, tiers.none_required.ref),
        "measures": measures,
    }


def _timeline(home: DataHome) -> dict[str, Any]:
    """Rows stored per partition day, by level and by category (from the lake's index)."""
    by_level: dict[str, dict[str, int]] = {}
    by_category: dict[str, dict[str, int]] = {}
    for f in Lake(home).files():
        day = by_level.setdefault(f.part_date, {})
        day[f.level] = day.get(f.level, 0) + f.rows
        for category in f.categories:
            cats = by_category.setdefault(f.part_date, {})
            cats[category] = cats.get(category, 0) + f.rows
    return {
        "days": sorted(by_level),
        "by_level": [{"date": d, **by_level[d]} for d in sorted(by_level)],
        "by_category": [{"date": d, "rows": by_category.get(d, {})} for d in sorted(by_level)],
    }


def _ref(home: DataHome, ref: Any) -> dict[str, str]:
    """A pack reference as the transfer gate's reasons carry it (instrument, article, text)."""
    legal = home.pack.legal_ref(ref)
    return {"instrument": legal.instrument, "article": legal.article, "text": str(legal)}


def _level(home: DataHome, category: str) -> str | None:
    known = home.pack.categories.get(category)
    return known.level if known is not None else None


def _table(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    table = data["tables"][name]
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


@router.get(
    "/v1/console/overview",
    summary="Stored data by level and category over time, scale, and the year's export volume",
    responses=ERRORS,
)
def overview(
    principal: Annotated[Principal, Depends(require(*READERS))],
    request: Request,
    year: int | None = Query(None, ge=2000, le=2100, description="Default: this year (China)"),
) -> dict[str, Any]:
    """Aggregates only (no individual is named): the annual report's scale, category and
    export tables (:func:`onshore.report.collect`), the lake index per day, and the transfer
    registry's counters of distinct individuals exported since 1 January."""
    from onshore.report import collect

    state = state_of(request)
    with state.session(principal.actor) as home:
        year = year or state.gate().today().year
        data = collect(home, state.config, year)
        scale = _table(data, "scale")
        total = next((r for r in scale if r["dataset"] == "*"), None)
        return {
            "year": year,
            "as_of": data["as_of"],
            "levels": [level.label for level in sorted(Level)],
            "individuals": total["individuals"] if total else 0,
            "vehicles": total["vehicles"] if total else 0,
            "records": total["records"] if total else 0,
            "scale": [r for r in scale if r["dataset"] != "*"],
            "categories": [
                c | {"level": _level(home, c["category"])} for c in _table(data, "categories")
            ],
            "volume_by_month": _table(data, "volume_by_month"),
            "stores": _table(data, "stores"),
            "exports": _table(data, "exports"),
            "export_mechanisms": _table(data, "export_mechanisms"),
            "timeline": _timeline(home),
            "thresholds": _thresholds(home, state, year),
            "ledger_size": home.ledger.size(),
        }


# -- approvals --------------------------------------------------------------------------------
@router.get(
    "/v1/console/approvals",
    summary="Approvals on record with expiry, renewal window and status",
    responses=documented(401, 403, 503),
)
def approvals(
    principal: Annotated[Principal, Depends(require(*READERS))], request: Request
) -> dict[str, Any]:
    """As `onshore transfer approvals list --json`: ``renew_from`` is the start of the pack's
    renewal window (working days before expiry); ``status`` is valid, renew now or expired."""
    state = state_of(request)
    with state.session(principal.actor) as home:
        gate = state.gate()
        today = gate.today()
        policy = transfer_policy(home.pack)
        return {
            "today": today.isoformat(),
            "renewal_window_working_days": policy.approvals.renewal_window_working_days,
            "ref": _ref(home, policy.approvals.ref),
            "approvals": [s.to_dict() for s in gate.approval_statuses(today)],
        }


# -- transfers of an uploaded file ------------------------------------------------------------
def _upload_decide(
    state: ServiceState,
    principal: Principal,
    body: bytes,
    media: str,
    request: TransferRequest,
    name: str,
    run: bool,
) -> tuple[Outcome, dict[str, Any]]:
    fmt = bodies.FILE_TYPES.get(media)
    if fmt is None:
        raise bodies.unsupported(media, UPLOAD_TYPES)
    if not body:
        raise ServiceProblem(400, "the body is empty", file=bodies.BODY)
    with state.session(principal.actor) as home:
        if request.profile is not None and request.profile not in home.pack.profiles:
            raise BadInput(
                f"no profile {request.profile!r} (profiles: {', '.join(home.pack.profiles)})",
                field="profile",
            )
        folder = home.path / "outbox" / ".uploads" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        staged = folder / f"upload.{fmt}"
        staged.write_bytes(body)
        try:
            staged_request = TransferRequest(
                dataset=str(staged),
                recipient=request.recipient,
                purpose=request.purpose,
                access_mode=request.access_mode,
                exemption=request.exemption,
                profile=request.profile,
            )
            gate = state.gate()
            label = f"upload:{name}"  # on the ledger, in the log and the manifest
            try:
                if run:
                    outcome = gate.run(staged_request, dataset_name=label)
                else:
                    outcome = gate.assess(staged_request, dataset_name=label)
            except BadInput as exc:  # name the upload, not the staging path
                if exc.file not in (str(staged), label):
                    raise
                raise BadInput(
                    exc.message, file=f"upload {name}", record=exc.record, field=exc.field
                ) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return outcome, outcome.to_dict() | {"dataset": f"upload:{name}", "store": None}


def _upload_request(
    recipient: str, country: str, purpose: str, exemption: str | None, profile: str | None
) -> TransferRequest:
    raw: dict[str, Any] = {
        "dataset": "upload",
        "recipient": {"name": recipient, "country": country},
        "purpose": purpose,
    }
    if exemption:
        raw["exemption"] = exemption
    if profile:
        raw["profile"] = profile
    return TransferRequest.from_mapping(raw)


UPLOAD_DOC = bodies.request_body(
    *UPLOAD_TYPES, description="The dataset to transfer: Parquet, CSV or JSON lines"
)


def _upload(
    request: Request,
    principal: Principal,
    body: bytes,
    wanted: TransferRequest,
    name: str,
    run: bool,
) -> dict[str, Any]:
    media = bodies.media_type(request.headers.get("content-type"))
    outcome, out = _upload_decide(state_of(request), principal, body, media, wanted, name, run)
    if run and not outcome.decision.allowed:
        decision = outcome.decision
        raise ServiceProblem(
            403,
            f"transfer refused ({decision.mechanism}): " + "; ".join(decision.missing),
            slug="policy-refusal",
            title="Refused by policy",
            mechanism=decision.mechanism,
            missing=list(decision.missing),
            reasons=[r.to_dict() for r in decision.reasons],
            decision=out,
        )
    return out


Recipient = Annotated[str, Query(min_length=1, max_length=200)]
Country = Annotated[str, Query(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$")]
Purpose = Annotated[str, Query(min_length=1, max_length=200)]
FileName = Annotated[str, Query(max_length=200, description="The file's name, for the record")]


@router.post(
    "/v1/console/transfers/assess/upload",
    summary="Decide a cross-border transfer of an uploaded file without moving anything",
    responses=documented(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=UPLOAD_DOC,
)
def assess_upload(
    body: Annotated[bytes, Depends(raw_body)],
    principal: Annotated[Principal, Depends(require("operator", "compliance"))],
    request: Request,
    recipient: Recipient,
    country: Country,
    purpose: Purpose,
    exemption: Annotated[Exemption | None, Query()] = None,
    profile: str | None = Query(None, min_length=1),
    name: FileName = "upload",
) -> dict[str, Any]:
    """The gate of ``/v1/transfers/assess`` on the body instead of a lake dataset."""
    wanted = _upload_request(recipient, country, purpose, exemption, profile)
    return _upload(request, principal, body, wanted, name, run=False)


@router.post(
    "/v1/console/transfers/run/upload",
    summary="Run a cross-border transfer of an uploaded file: the package, or 403 with reasons",
    responses=documented(400, 401, 403, 413, 415, 422, 503),
    openapi_extra=UPLOAD_DOC,
)
def run_upload(
    body: Annotated[bytes, Depends(raw_body)],
    principal: Annotated[Principal, Depends(require("compliance"))],
    request: Request,
    recipient: Recipient,
    country: Country,
    purpose: Purpose,
    exemption: Annotated[Exemption | None, Query()] = None,
    profile: str | None = Query(None, min_length=1),
    name: FileName = "upload",
) -> dict[str, Any]:
    """The gate of ``/v1/transfers/run`` on the body: written to the outbox only if allowed."""
    wanted = _upload_request(recipient, country, purpose, exemption, profile)
    return _upload(request, principal, body, wanted, name, run=True)


# -- subjects ---------------------------------------------------------------------------------
SAMPLE_ROWS = 10  # per dataset


@router.get(
    "/v1/console/subjects/{vin}",
    summary="What is held about a vehicle: rows per dataset, a sample, requests, ledger entries",
    responses=documented(400, 401, 403, 422, 503),
)
def subject(
    principal: Annotated[Principal, Depends(require("compliance", "auditor"))],
    request: Request,
    vin: str = Path(pattern=VIN, description="The vehicle's VIN"),
) -> dict[str, Any]:
    """A read of personal data: a ``view`` entry naming the vehicle by its pseudonym, and for
    a client abroad the transfer gate first (on the rows shown)."""
    state = state_of(request)
    with state.session(principal.actor) as home:
        lake = Lake(home)
        per: dict[str, dict[str, Any]] = {}
        parts: dict[str, list[pa.Table]] = {}
        for store, lake_file in lake.all_files():
            found = lake.read_vin(store, lake_file, vin)
            if found is None or found.num_rows == 0:
                continue
            d = per.setdefault(
                lake_file.dataset,
                {
                    "dataset": lake_file.dataset,
                    "rows": 0,
                    "files": 0,
                    "stores": set(),
                    "levels": set(),
                    "columns": [],
                },
            )
            d["rows"] += found.num_rows
            d["files"] += 1
            d["stores"].add(store.name)
            d["levels"].add(lake_file.level)
            keep = [c for c in found.column_names if c not in LABEL_COLUMNS]
            d["columns"] = list(dict.fromkeys([*d["columns"], *keep]))
            taken = parts.setdefault(lake_file.dataset, [])
            room = SAMPLE_ROWS - sum(p.num_rows for p in taken)
            if room > 0:
                taken.append(found.select(keep).slice(0, room).replace_schema_metadata(None))
        samples = {
            name: pa.concat_tables(tables, promote_options="permissive")
            for name, tables in parts.items()
        }
        refs = home.subject_refs(vin)
        marks = ", ".join("?" for _ in refs)
        requests = home.meta.query(
            "SELECT id, kind, received_at, due_date, completed_at, status FROM subject_requests "
            f"WHERE subject IN ({marks}) ORDER BY received_at",
            refs,
        )
        entries = sum(1 for _i, e in home.ledger.entries() if e.subject in refs)
        # From abroad each dataset's rows pass the gate on their own, the most sensitive
        # first: in one mixed table a person identifier of one dataset (null in the others)
        # would name the individuals, and rows without it would go uncounted.
        allowed = []
        for name in sorted(samples, key=lambda n: -max(Level.parse(v) for v in per[n]["levels"])):
            outcome = gate_read(
                state,
                home,
                principal,
                samples[name],
                f"subject {vin} {name}",
                label=f"subject lookup {name}",
            )
            if outcome is not None:
                allowed.append(outcome)
        subject_ref = home.subject_ref(vin)
        home.record(
            Activity.VIEW,
            purpose=principal.purpose or "data-subject lookup (console)",
            dataset="subjects",
            counts={
                "rows": sum(d["rows"] for d in per.values()),
                "rows_shown": sum(t.num_rows for t in samples.values()),
            },
            decision="read",
            subject=subject_ref,
            details={"country": principal.country, "abroad": principal.abroad},
        )
    return {
        "vin": vin,
        "subject": subject_ref,
        "datasets": [
            d
            | {
                "stores": sorted(d["stores"]),
                "levels": sorted(d["levels"]),
                "sample": _plain(samples[name].to_pylist()),
                "sample_columns": samples[name].column_names,
            }
            for name, d in per.items()
        ],
        "requests": [
            dict(
                zip(
                    ("id", "kind", "received_at", "due_date", "completed_at", "status"),
                    r,
                    strict=True,
                )
            )
            for r in requests
        ],
        "ledger_entries": entries,
        "remote_access": allowed or None,
    }


@router.get(
    "/v1/console/requests",
    summary="Data-subject requests with due dates (working days), overdue ones flagged",
    responses=documented(401, 403, 503),
)
def subject_requests(
    principal: Annotated[Principal, Depends(require("compliance", "auditor"))],
    request: Request,
    kind: str | None = Query(None, description="deletion, access …"),
) -> dict[str, Any]:
    """Each request names its vehicle by pseudonym only; the list is a ``view`` entry.
    ``overdue``: still open after its due date, or completed after it."""
    state = state_of(request)
    with state.session(principal.actor) as home:
        today = state.gate().today()
        sql = (
            "SELECT id, kind, subject, received_at, due_date, due_confidence, completed_at, "
            "status FROM subject_requests"
        )
        params: list[Any] = []
        if kind:
            sql += " WHERE kind = ?"
            params.append(kind)
        rows = home.meta.query(sql + " ORDER BY received_at DESC", params)
        out = []
        for r in rows:
            item = dict(
                zip(
                    (
                        "id",
                        "kind",
                        "subject",
                        "received_at",
                        "due_date",
                        "due_confidence",
                        "completed_at",
                        "status",
                    ),
                    r,
                    strict=True,
                )
            )
            due = item["due_date"]
            done = item["completed_at"]
            item["overdue"] = bool(
                due and ((not done and today.isoformat() > due) or (done and done[:10] > due))
            )
            out.append(item)
        days = home.pack.retention.deletion_due_working_days if home.pack.retention else None
        home.record(
            Activity.VIEW,
            purpose=principal.purpose or "subject request queue (console)",
            dataset="subject_requests",
            counts={"requests": len(out)},
            decision="read",
            details={"kind": kind, "country": principal.country},
        )
    return {"today": today.isoformat(), "due_working_days": days, "requests": out}


# -- ledger -----------------------------------------------------------------------------------
@router.get(
    "/v1/console/ledger/entries",
    summary="Search the ledger's entries (newest first)",
    responses=ERRORS,
)
def ledger_entries(
    principal: Annotated[Principal, Depends(require(*READERS))],
    request: Request,
    q: str | None = Query(None, max_length=200, description="Text anywhere in the entry"),
    kind: str | None = Query(None, description="An activity: collection, export, view …"),
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=0, description="Only entries below this index"),
) -> dict[str, Any]:
    """Entries that name a subject (by pseudonym) make the search a read of personal data:
    a ``view`` entry then records it."""
    if kind is not None and kind not in {a.value for a in Activity}:
        raise BadInput(
            f"unknown kind {kind!r} (one of {', '.join(a.value for a in Activity)})",
            field="kind",
        )
    needle = q.casefold() if q else None
    state = state_of(request)
    with state.session(principal.actor) as home:
        size = home.ledger.size()
        stop = size if before is None else min(before, size)
        found: list[dict[str, Any]] = []
        matched = 0
        for index, entry in home.ledger.entries(kind=kind, stop=stop):
            data = entry.to_dict()
            if needle and needle not in json.dumps(data, ensure_ascii=False).casefold():
                continue
            matched += 1
            found.append({"index": index} | data)
        found.reverse()
        shown = found[:limit]
        subjects = sorted({e["subject"] for e in shown if e.get("subject")})
        if subjects:
            table = pa.table({"vehicle_id_pseudonym": subjects})
            gate_read(state, home, principal, table, "ledger search")
            home.record(
                Activity.VIEW,
                purpose=principal.purpose or "ledger search (console)",
                dataset="ledger",
                counts={"entries": len(shown), "subjects": len(subjects)},
                decision="read",
                details={"q": q, "kind": kind, "country": principal.country},
            )
    return {"size": size, "matched": matched, "entries": shown}


# -- notice -----------------------------------------------------------------------------------
@router.get(
    "/v1/console/notice",
    summary="The privacy notice (Provisions 2021 Art. 7), html or md",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
            "description": "The notice, from the pack and what the home holds",
        },
        **ERRORS,
    },
)
def notice(
    principal: Annotated[Principal, Depends(require("compliance", "auditor"))],
    request: Request,
    lang: Literal["zh", "en"] = Query("zh"),
    format: Literal["html", "md"] = Query("html"),
) -> Response:
    """As `onshore notice --lang LANG --format FORMAT`."""
    from onshore.report import render_notice

    state = state_of(request)
    with state.session(principal.actor) as home:
        text = render_notice(home, state.config, lang=lang, fmt=format)
    media = "text/html" if format == "html" else "text/markdown"
    return Response(
        text.encode("utf-8"),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="notice.{lang}.{format}"'},
    )


# -- sensitive areas --------------------------------------------------------------------------
@router.get(
    "/v1/console/areas",
    summary="The sensitive-area catalogue the service classifies with, as GeoJSON",
    responses=documented(401, 403, 503),
)
def areas(
    principal: Annotated[Principal, Depends(require(*READERS))], request: Request
) -> dict[str, Any]:
    import shapely.geometry

    state = state_of(request)
    features = []
    if state.areas is not None:
        for area in state.areas.catalogue.areas:
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "id": area.id,
                        "kind": area.kind,
                        "name": area.name,
                        "buffer_m": area.buffer_m,
                        "admin_level": area.admin_level,
                    },
                    "geometry": shapely.geometry.mapping(area.geometry),
                }
            )
    return {"type": "FeatureCollection", "features": features}


MAX_POINTS = 5000


@router.get(
    "/v1/console/areas/hits",
    summary="Points of a lake dataset inside a sensitive area or its buffer",
    responses=ERRORS,
)
def area_hits(
    principal: Annotated[Principal, Depends(require(*READERS))],
    request: Request,
    dataset: str = Query(min_length=1, description="A lake dataset (GET /v1/datasets)"),
    limit: int = Query(MAX_POINTS, ge=1, le=50_000, description="Most points returned"),
) -> dict[str, Any]:
    """The dataset is classified again with the service's catalogue (positions brought to
    WGS-84 as the classifier does). Positions of vehicles are personal data: a ``view``
    entry, and the transfer gate first for a client abroad. No VIN is returned."""
    state = state_of(request)
    with state.session(principal.actor) as home:
        if state.areas is None:
            raise BadInput("the service has no sensitive-area catalogue (--areas)", field="areas")
        catalogue = state.areas.catalogue
        folder = home.path / "outbox" / ".console" / uuid.uuid4().hex[:12]
        try:
            staged = snapshot_dataset(home, dataset, folder / f"{dataset}.parquet")
            from onshore.io import open_source

            classifier = Classifier(home.pack, state.areas)
            rows = 0
            per_area: dict[str, int] = {}
            points: dict[str, list[Any]] = {"lon": [], "lat": [], "area": [], "level": []}
            for batch, _rows in open_source(staged).batches():
                result = classifier.classify_batch(batch)
                rows += result.data.num_rows
                plan = classifier.plan_for(batch.schema)
                area = result.labels.column(LABEL_COLUMNS.index("onshore_area"))
                hit = pc.is_valid(area)
                if plan.lat is None or plan.lon is None or not pc.any(hit).as_py():
                    continue
                picked = result.data.filter(hit)
                names = area.filter(hit).to_pylist()
                levels = result.labels.column(0).filter(hit).to_pylist()
                for name in names:
                    per_area[name] = per_area.get(name, 0) + 1
                lon, lat = picked.column(plan.lon), picked.column(plan.lat)
                if plan.crs is not None:
                    from onshore.geo import to_wgs84

                    x, y, _bad = to_wgs84(
                        lon.to_numpy(zero_copy_only=False),
                        lat.to_numpy(zero_copy_only=False),
                        picked.column(plan.crs).to_pylist(),
                    )
                    lon, lat = pa.array(x), pa.array(y)
                room = limit - len(points["lon"])
                if room > 0:
                    points["lon"] += lon.to_pylist()[:room]
                    points["lat"] += lat.to_pylist()[:room]
                    points["area"] += names[:room]
                    points["level"] += [str(v) for v in levels[:room]]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        shown = pa.table(
            {
                "lat": pa.array(points["lat"], pa.float64()),
                "lon": pa.array(points["lon"], pa.float64()),
            }
        )
        allowed = gate_read(state, home, principal, shown, f"area hits of {dataset}")
        total = sum(per_area.values())
        if total:
            home.record(
                Activity.VIEW,
                purpose=principal.purpose or "sensitive-area hits (console)",
                dataset=dataset,
                categories=["location.trajectory"],
                counts={"rows": rows, "hits": total, "points_shown": len(points["lon"])},
                decision="read",
                details={"areas": sorted(per_area), "country": principal.country},
            )
    kinds = {a.id: a.kind for a in catalogue.areas}
    return {
        "dataset": dataset,
        "rows": rows,
        "hits": total,
        "areas": [{"id": k, "kind": kinds.get(k), "hits": v} for k, v in sorted(per_area.items())],
        "points": [
            {"lon": x, "lat": y, "area": a, "level": lv}
            for x, y, a, lv in zip(
                points["lon"], points["lat"], points["area"], points["level"], strict=True
            )
        ],
        "truncated": total > len(points["lon"]),
        "remote_access": allowed,
    }
