"""Gather the annual report's figures: every table with the query that produced it.

:func:`collect` returns the report's data block, a JSON-plain dict::

    {"format": "onshore-report/3", "year", "as_of", "tz", "pack", "sth", "processor",
     "tables": {ID: {"query": {...}, "columns": [...], "rows": [[...], ...]}}}

It is a function of the home, the configuration, the year, ``as_of`` (the time the figures
are taken; SQL reads rows written up to then) and ``tree_size`` (the ledger prefix the signed
tree head covers). ``onshore report verify`` calls it again with the embedded ``as_of`` and
tree size and compares table by table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping
from typing import Any

from onshore.config import Config
from onshore.keystore import HMAC_KEY, LEDGER_KEY
from onshore.ledger import SignedTreeHead, verify_tree_head
from onshore.report.figures import LakeScan, lake_query, run_lake
from onshore.report.incidents import migrate as migrate_register
from onshore.report.queries import Row, run_ledger, run_sql
from onshore.store import DataHome
from onshore.store.db import iso
from onshore.transfer.registry import migrate as migrate_transfers

FORMAT = "onshore-report/3"
COLUMNS: dict[str, list[str]] = {
    "contacts": ["role", "name", "contact"],
    "collection": ["dataset", "purpose", "entries", "records", "categories"],
    "necessity": ["dataset", "purpose", "basis", "necessity"],
    "scale": ["dataset", "records", "individuals", "vehicles"],
    "categories": ["category", "level", "records", "individuals", "datasets"],
    "important": ["rule", "area_kinds", "records", "individuals", "datasets"],
    "retention": ["category", "level", "retention_days", "legal_ref"],
    "deletions": ["purpose", "decision", "entries", "records"],
    "overdue": ["dataset", "rows"],
    "stores": ["store", "jurisdiction", "location", "files", "records", "bytes"],
    "measures": ["measure", "status", "evidence"],
    "risk_assessment": [
        "id",
        "assessed_at",
        "digest",
        "important_records",
        "open_risks",
        "assessments",
    ],
    "provision": ["recipient", "purpose", "entries", "records", "categories"],
    "incidents": [
        "id",
        "opened_at",
        "severity",
        "title",
        "status",
        "report_deadline",
        "reported_at",
        "closed_at",
        "handling",
    ],
    "complaints": [
        "id",
        "received_at",
        "channel",
        "summary",
        "status",
        "due_date",
        "responded_at",
        "handling",
        "transfer",
    ],
    "subject_requests": ["kind", "status", "requests", "on_time"],
    "exports": [
        "recipient",
        "country",
        "purpose",
        "decision",
        "approval",
        "exports",
        "categories",
        "datasets",
    ],
    "exports_use": [
        "recipient",
        "country",
        "recipient_contact",
        "purpose",
        "storage_location",
        "storage_period",
        "scope_of_use",
        "manner_of_use",
        "necessity",
        "exports",
    ],
    "exported_individuals": ["recipient", "purpose", "individuals", "sensitive_individuals"],
    "export_mechanisms": ["country", "mechanism", "access_mode", "exports"],
    "refusals": ["decision", "entries"],
    "volume_by_month": ["month", "level", "records"],
}


def year_bounds(year: int, tz: dt.timedelta) -> tuple[str, str]:
    """The local year ``[start, end)`` as UTC text, the way the metadata DB writes times."""
    zone = dt.timezone(tz)
    start = dt.datetime(year, 1, 1, tzinfo=zone)
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone)
    return iso(start), iso(end)


def collect(
    home: DataHome,
    config: Config,
    year: int,
    *,
    as_of: str | None = None,
    tree_size: int | None = None,
    cache: MutableMapping[str, LakeScan] | None = None,
) -> dict[str, Any]:
    """The report's data block for ``year`` (see the module docstring). ``cache`` keeps the
    pass over the lake for a caller that reads more lake figures (the console)."""
    migrate_register(home.meta)
    migrate_transfers(home.meta)
    home.stores()  # declares the default store, as every command does
    zone = home.pack.timezone
    offset = zone.utcoffset(None)
    tz = home.pack.calendar.timezone if home.pack.calendar is not None else "+00:00"
    as_of = as_of or iso(home.now())
    head = home.ledger.head() if tree_size is None else home.ledger.backend.head_at(tree_size)
    size = head.tree_size if head is not None else 0
    start, end = year_bounds(year, offset)
    ctx = _Context(home, config, year, as_of, size, tz, start, end)
    ctx.cache = cache if cache is not None else {}
    tables: dict[str, dict[str, Any]] = {}
    for table_id, build in BUILDERS.items():
        query, rows = build(ctx, tables)
        tables[table_id] = {"query": query, "columns": COLUMNS[table_id], "rows": rows}
    return {
        "format": FORMAT,
        "year": year,
        "as_of": as_of,
        "tz": tz,
        "pack": {"name": home.pack.name, "version": home.pack.version},
        "sth": head.to_dict() if head is not None else None,
        "processor": _processor(config),
        "tables": tables,
    }


class _Context:
    def __init__(
        self,
        home: DataHome,
        config: Config,
        year: int,
        as_of: str,
        size: int,
        tz: str,
        start: str,
        end: str,
    ) -> None:
        self.home, self.config, self.year, self.as_of = home, config, year, as_of
        self.size, self.tz, self.start, self.end = size, tz, start, end
        self.cache: MutableMapping[str, LakeScan] = {}

    def lake(self, figure: str) -> tuple[dict[str, Any], list[Row]]:
        query = lake_query(
            self.home, figure, as_of=self.as_of, start=self.start, end=self.end, tz=self.tz
        )
        return query, run_lake(self.home, query, self.cache)

    def ledger(
        self,
        kinds: list[str],
        group_by: list[str],
        aggregates: list[list[str]],
        explode: str | None = None,
        *,
        match: dict[str, Any] | None = None,
        then: str | None = None,
    ) -> tuple[dict[str, Any], list[Row]]:
        query: dict[str, Any] = {
            "source": "ledger",
            "kinds": kinds,
            "year": self.year if match is None else None,
            "tz": self.tz,
            "tree_size": self.size,
            "explode": explode,
            "group_by": group_by,
            "aggregates": aggregates,
        }
        if match is not None:
            query["match"] = match
        if then is not None:
            query["then"] = then
        rows = run_ledger(self.home.ledger, query) if self.size else []
        return query, rows

    def sql(self, statement: str, params: list[Any]) -> tuple[dict[str, Any], list[Row]]:
        query = {"source": "sql", "sql": " ".join(statement.split()), "params": params}
        return query, run_sql(self.home, query)


Builder = Callable[[_Context, dict[str, dict[str, Any]]], tuple[dict[str, Any], list[Row]]]


def _processor(config: Config) -> dict[str, Any]:
    p = config.processor
    return {
        "legal_entity": p.legal_entity,
        "province": p.province,
        "ciio": p.ciio,
        "configured": config.configured,
    }


def _contact(c: Any) -> str:
    return " · ".join(v for v in (c.phone, c.email, c.contact) if v)


def _contacts(ctx: _Context, _t: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[Row]]:
    p = ctx.config.processor
    rows: list[Row] = [
        ["responsible_person", p.responsible_person.name, _contact(p.responsible_person)],
        ["user_rights_contact", p.user_rights_contact.name, _contact(p.user_rights_contact)],
    ]
    query = {"source": "config", "what": "processor.responsible_person, user_rights_contact"}
    return query, rows


def _collection(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.ledger(
        ["collection"],
        ["dataset", "purpose"],
        [["count"], ["sum", "records"], ["union", "held_categories"]],
    )


def _necessity(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    """Why each dataset's processing for its purpose is necessary (Provisions 2021 Art. 13(2)):
    the legal bases the consent gate applied (the collection entries' reasons that are bases of
    the pack) to a category it collected, each with its kind and the pack's statement of what
    it covers and why. A basis whose every value the gate nulled is not listed."""
    query, rows = ctx.ledger(
        ["collection"],
        ["dataset", "purpose"],
        [["union", "reasons"], ["union", "held_categories"]],
        then="one row per reason that is a legal basis of the pack (bases.yaml) covering a "
        "category collected: its kind and description",
    )
    pack = ctx.home.pack
    known = {b.id: b for b in pack.bases.bases} if pack.bases is not None else {}
    out: list[Row] = []
    for dataset, purpose, reasons, held in rows:
        collected = [c.strip() for c in str(held or "").split(",") if c.strip()]
        for rule in (r.strip() for r in str(reasons or "").split(",")):
            basis = known.get(rule)
            if basis is not None and any(
                c in pack.categories and pack.is_within(c, b)
                for c in collected
                for b in basis.categories
            ):
                out.append(
                    [dataset, purpose, basis.basis, {"id": basis.id, "text": basis.description}]
                )
    return query, out


def _scale(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.lake("scale")


def _categories(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.lake("categories")


def _important(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.lake("important")


def _overdue(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.lake("overdue")


def _deletions(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.ledger(["deletion"], ["purpose", "decision"], [["count"], ["sum", "counts.rows"]])


def _retention(ctx: _Context, tables: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    pack = ctx.home.pack
    rows: list[Row] = []
    for category, *_rest in tables["categories"]["rows"]:
        if category not in pack.categories:
            rows.append([category, "unknown", None, ""])
            continue
        days = pack.retention.days_for(pack, category) if pack.retention else None
        ref = pack.legal_ref(pack.categories[category].ref)
        instrument = pack.instruments.get(ref.instrument)
        cite = {
            "instrument": ref.instrument,
            "title": ref.title or ref.instrument,
            "title_zh": instrument.title_zh if instrument is not None else "",
            "article": ref.article,
        }
        rows.append([category, pack.categories[category].level, days, cite])
    query = {
        "source": "pack",
        "what": f"{pack.name}@{pack.version}: level and retention per category",
    }
    return query, rows


def _stores(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.lake("stores")


def _measures(ctx: _Context, tables: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    """Each measure with its status and its evidence as ``{"key": …, values}`` (worded by the
    renderer in the report's language). Retention is in place only with no row overdue."""
    home, pack = ctx.home, ctx.home.pack
    stores = ", ".join(f"{s.name}:{s.jurisdiction}" for s in home.stores())
    residency = pack.retention.residency if pack.retention else None
    rows: list[Row] = [
        [
            "residency",
            "on" if residency else "off",
            {"key": "residency", "rule": residency.rule_id, "level": residency.min_level}
            | {"stores": stores}
            if residency
            else {"key": "residency_off", "stores": stores},
        ],
    ]
    head = home.ledger.backend.head_at(ctx.size) if ctx.size else None
    rows.append(
        [
            "ledger",
            "on" if head else "empty",
            {"key": "ledger", "size": ctx.size, "key_id": head.key_id}
            if head
            else {"key": "ledger_empty"},
        ]
    )
    keys = 0
    for kind in (LEDGER_KEY, HMAC_KEY, "transfer-count"):
        if (home.keystore.path / kind).is_dir():
            keys += sum(
                1 for p in (home.keystore.path / kind).iterdir() if not p.name.startswith(".")
            )
    rows.append(["keystore", "on" if keys else "off", {"key": "keystore", "keys": keys}])
    profiles = len(getattr(pack, "profiles", {}) or {})
    rows.append(
        ["desensitization", "on" if profiles else "off", {"key": "profiles", "count": profiles}]
    )
    consents = ctx.home.meta.query(
        "SELECT COUNT(*) FROM consents WHERE granted_at <= ?", (ctx.as_of,)
    )[0][0]
    bases = pack.bases
    rows.append(
        [
            "consent_gate",
            "on" if bases else "off",
            {
                "key": "consent",
                "bases": len(bases.bases),
                "purposes": len(bases.purposes),
                "consents": int(consents),
            }
            if bases
            else {"key": "consent_off"},
        ]
    )
    retention = pack.retention
    overdue = sum(int(r[1]) for r in tables["overdue"]["rows"])
    purged = sum(int(r[3]) for r in tables["deletions"]["rows"])
    rows.append(
        [
            "retention",
            "off" if retention is None else ("overdue" if overdue else "on"),
            {
                "key": "retention",
                "periods": len(retention.retention),
                "days": retention.default_days,
                "working_days": retention.deletion_due_working_days,
                "overdue": overdue,
                "deleted": purged,
            }
            if retention
            else {"key": "retention_off"},
        ]
    )
    query = {
        "source": "home",
        "what": "pack residency/retention/profiles/bases, keystore folders, ledger head, "
        "SELECT COUNT(*) FROM consents WHERE granted_at <= as_of; tables overdue, deletions",
    }
    return query, rows


def _provision(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.ledger(
        ["provision"],
        ["details.recipient", "purpose"],
        [["count"], ["sum", "counts.rows"], ["union", "categories"]],
    )


def _history(fields: list[str]) -> list[list[str]]:
    return [["last", f"details.{f}"] for f in fields]


def _incidents(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.ledger(["incident"], ["details.id"], _history(COLUMNS["incidents"][1:]))


def _complaints(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.ledger(["complaint"], ["details.id"], _history(COLUMNS["complaints"][1:]))


def _subject_requests(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.sql(
        """SELECT kind, status, COUNT(*), SUM(CASE WHEN completed_at IS NOT NULL
           AND due_date IS NOT NULL AND substr(completed_at, 1, 10) <= due_date THEN 1 ELSE 0 END)
           FROM subject_requests WHERE received_at >= ? AND received_at < ? AND received_at <= ?
           GROUP BY kind, status ORDER BY kind, status""",
        [ctx.start, ctx.end, ctx.as_of],
    )


def _exports(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.ledger(
        ["export"],
        ["details.recipient", "details.country", "purpose", "decision", "details.approval"],
        [["count"], ["union", "categories"], ["union", "dataset"]],
    )


USE_ABROAD = ("storage_location", "storage_period", "scope_of_use", "manner_of_use", "necessity")


def _exports_use(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    """For each export: the recipient's contact, where and how long the data is kept abroad,
    the scope and manner of its use there, and why the export is necessary (Provisions 2021
    Art. 14), as the transfer request declared them and the export entry recorded them."""
    return ctx.ledger(
        ["export"],
        [
            "details.recipient",
            "details.country",
            "details.contact",
            "purpose",
            *(f"details.use_abroad.{f}" for f in USE_ABROAD),
        ],
        [["count"]],
    )


def _risk_assessment(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    """The latest risk assessment of the year's important-data processing on the ledger
    (Provisions 2021 Art. 10; :mod:`onshore.report.risk`), and how many were made."""
    return ctx.ledger(
        ["risk_assessment"],
        [],
        [
            ["last", "details.id"],
            ["last", "details.as_of"],
            ["last", "details.digest"],
            ["last", "counts.important_records"],
            ["last", "details.open_risks"],
            ["count"],
        ],
        match={"details.year": ctx.year},
    )


def _exported_individuals(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    """Distinct natural persons exported this year, per recipient and purpose, and in all
    (``*``): the transfer registry's keyed hashes, counted before desensitization."""
    return ctx.sql(
        """SELECT recipient, purpose, individuals, sensitive_individuals FROM (
           SELECT 0 AS o, recipient, purpose, COUNT(DISTINCT subject_hash) AS individuals,
           COUNT(DISTINCT CASE WHEN sensitive = 1 THEN subject_hash END) AS sensitive_individuals
           FROM transfer_individuals WHERE year = ? AND first_at <= ? GROUP BY recipient, purpose
           UNION ALL
           SELECT 1, '*', '*', COUNT(DISTINCT subject_hash),
           COUNT(DISTINCT CASE WHEN sensitive = 1 THEN subject_hash END)
           FROM transfer_individuals WHERE year = ? AND first_at <= ?
           ) AS t ORDER BY o, recipient, purpose""",
        [ctx.year, ctx.as_of, ctx.year, ctx.as_of],
    )


def _export_mechanisms(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.sql(
        """SELECT country, mechanism, access_mode, COUNT(*)
           FROM transfers WHERE allowed = 1 AND at >= ? AND at < ? AND at <= ?
           GROUP BY country, mechanism, access_mode ORDER BY country, mechanism, access_mode""",
        [ctx.start, ctx.end, ctx.as_of],
    )


def _refusals(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.ledger(["policy_refusal"], ["decision"], [["count"]])


def _volume(ctx: _Context, _t: dict[str, Any]) -> tuple[dict[str, Any], list[Row]]:
    return ctx.lake("volume")


BUILDERS: dict[str, Builder] = {
    "contacts": _contacts,
    "collection": _collection,
    "necessity": _necessity,
    "scale": _scale,
    "categories": _categories,
    "important": _important,
    "retention": _retention,
    "deletions": _deletions,
    "overdue": _overdue,
    "stores": _stores,
    "measures": _measures,
    "risk_assessment": _risk_assessment,
    "provision": _provision,
    "incidents": _incidents,
    "complaints": _complaints,
    "subject_requests": _subject_requests,
    "exports": _exports,
    "exports_use": _exports_use,
    "exported_individuals": _exported_individuals,
    "export_mechanisms": _export_mechanisms,
    "refusals": _refusals,
    "volume_by_month": _volume,
}


def sth_of(data: dict[str, Any]) -> SignedTreeHead | None:
    """The signed tree head a data block embeds."""
    raw = data.get("sth")
    return SignedTreeHead.from_dict(raw) if raw else None


def head_problems(home: DataHome, head: SignedTreeHead | None) -> list[str]:
    """What is wrong with the signed tree head a document embeds, checked against ``home``'s
    ledger: its signature by a ledger key, and that the ledger holds that head for its size.
    A document without a head has none to check (empty list)."""
    if head is None:
        return []
    problems = []
    if not verify_tree_head(head, home.ledger.public_keys):
        problems.append(f"signed tree head (size {head.tree_size}): bad signature")
    stored = home.ledger.backend.head_at(head.tree_size)
    if stored is None or stored.root_hash != head.root_hash:
        problems.append(f"signed tree head (size {head.tree_size}): this ledger holds no such head")
    return problems
