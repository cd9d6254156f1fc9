"""The privacy notice of Provisions 2021 Art. 7 (GB/T 41871-2022 §4): one row per type of
personal information, from the pack (levels, legal bases, retention) and the home (what the
stores hold, for which purposes, where).

For every type: when it is collected (its legal basis), how to stop it, the purposes, where it
is stored and for how long; then how to view, copy and delete (within the pack's deletion period
in working days) and the user-rights contact from ``config.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from onshore.config import Config
from onshore.errors import BadInput
from onshore.model import Level
from onshore.report.render import category_name, labels, render_text
from onshore.store import DataHome

STOP_KEYS = {
    "consent": "stop_default",
    "separate_consent": "stop_default",
    "legal_obligation": "stop_legal",
    "contract": "stop_contract",
    "public_interest": "stop_legal",
}


@dataclass(frozen=True)
class NoticeItem:
    """One type of personal information and what the notice says about it."""

    category: str
    level: str
    bases: tuple[str, ...]
    purposes: tuple[str, ...]
    stores: tuple[str, ...]
    retention_days: int | None


def notice_items(home: DataHome) -> list[NoticeItem]:
    """Every personal-information type the pack has a legal basis for, and any the home holds.

    Purposes are those the ledger saw the category collected for (else those its bases allow);
    stores are where the lake holds it (else the default store).
    """
    pack = home.pack
    if pack.bases is None:
        raise BadInput("the privacy notice needs the pack's bases.yaml (purposes and bases)")
    bases = pack.bases
    held: dict[str, set[str]] = {}
    stores = {s.name: s for s in home.stores()}
    for store, categories in home.meta.query("SELECT DISTINCT store, categories FROM lake_files"):
        for key in _json_list(categories):
            held.setdefault(key, set()).add(store)
    used: dict[str, set[str]] = {}
    for _i, entry in home.ledger.entries(kind="collection"):
        for key in entry.categories:
            used.setdefault(key, set()).add(entry.purpose)
    keys = sorted(set(held) | {k for b in bases.bases for k in b.categories})
    items = []
    for key in keys:
        if key not in pack.categories or not bases.needs_basis(pack, key):
            continue
        if pack.level_of(key) < Level.PERSONAL:
            continue
        covering = [b for p in sorted(bases.purpose_keys) for b in bases.covering(pack, key, p)]
        purposes = sorted(used.get(key) or {p for b in covering for p in b.purposes})
        where = sorted(held.get(key) or {"local"})
        items.append(
            NoticeItem(
                category=key,
                level=pack.categories[key].level,
                bases=tuple(sorted({b.basis for b in covering})),
                purposes=tuple(purposes),
                stores=tuple(
                    f"{s} ({stores[s].jurisdiction})" if s in stores else s for s in where
                ),
                retention_days=pack.retention.days_for(pack, key) if pack.retention else None,
            )
        )
    return items


def _json_list(text: Any) -> list[str]:
    import json

    try:
        value = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        value = [t.strip() for t in str(text).split(",")]
    return [str(v) for v in value or []]


def notice_context(home: DataHome, config: Config, lang: str) -> dict[str, Any]:
    words = labels(lang)
    purposes: Mapping[str, str] = {
        p.key: p.description for p in (home.pack.bases.purposes if home.pack.bases else [])
    }
    zh_purposes = words.get("purposes") or {}
    rows = []
    for item in notice_items(home):
        rows.append(
            {
                "type": category_name(item.category, lang),
                "level": words["levels"].get(item.level, item.level),
                "when": "；".join(words["bases"].get(b, b) for b in item.bases)
                if lang == "zh"
                else "; ".join(words["bases"].get(b, b) for b in item.bases),
                "stop": " ".join(
                    dict.fromkeys(
                        words["notice"][STOP_KEYS.get(b, "stop_default")] for b in item.bases
                    )
                ),
                "purposes": [zh_purposes.get(p) or purposes.get(p, p) for p in item.purposes],
                "storage": ", ".join(item.stores),
                "retention": f"{item.retention_days} {words['notice']['days']}"
                if item.retention_days
                else "—",
            }
        )
    days = home.pack.retention.deletion_due_working_days if home.pack.retention else 10
    contact = config.processor.user_rights_contact
    return {
        "w": words,
        "n": words["notice"],
        "lang": lang,
        "p": config.processor,
        "rows": rows,
        "rights": words["notice"]["rights_text"].format(days=days),
        "contact": contact,
        "abroad": overseas_recipients(home, lang),
    }


def overseas_recipients(home: DataHome, lang: str) -> list[dict[str, Any]]:
    """Every recipient abroad that received personal information (PIPL Art. 39: the person is
    told the recipient, its contact, the purposes and the types of information), from the
    ledger's export entries: one row per recipient and country."""
    words = labels(lang)
    countries = words.get("countries") or {}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for _i, entry in home.ledger.entries(kind="export"):
        d = entry.details
        recipient, country = str(d.get("recipient") or ""), str(d.get("country") or "")
        if not recipient:
            continue
        row = found.setdefault(
            (recipient, country),
            {"purposes": set(), "categories": set(), "contact": "", "storage": set()},
        )
        row["purposes"].add(entry.purpose)
        row["categories"].update(entry.categories)
        row["contact"] = str(d.get("contact") or row["contact"])
        use = d.get("use_abroad") or {}
        where = " · ".join(
            str(use.get(k)) for k in ("storage_location", "storage_period") if use.get(k)
        )
        if where:
            row["storage"].add(where)
    return [
        {
            "recipient": recipient,
            "country": f"{countries.get(country, country)}"
            + (f" ({country})" if lang == "zh" and country in countries else ""),
            "contact": row["contact"] or "—",
            "purposes": sorted(row["purposes"]),
            "categories": [category_name(c, lang) for c in sorted(row["categories"])],
            "storage": "; ".join(sorted(row["storage"])) or "—",
        }
        for (recipient, country), row in sorted(found.items())
    ]


def render_notice(home: DataHome, config: Config, *, lang: str = "zh", fmt: str = "html") -> str:
    """The privacy notice as HTML or Markdown."""
    if fmt not in ("html", "md"):
        raise BadInput(f"the notice is html or md, not {fmt!r}", field="format")
    return render_text(f"notice.{fmt}.j2", notice_context(home, config, lang))
