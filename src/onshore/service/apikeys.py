"""API keys of the HTTP service, kept hashed in the metadata database, each with one role.

A key reads ``onshore_<id>_<secret>``: ``id`` (12 hex digits) finds the row, ``secret`` (43
URL-safe characters, 256 random bits) is checked against its SHA-256. A salted slow hash
(scrypt) protects guessable passwords; a 256-bit random secret cannot be guessed, so one
SHA-256 is enough and keeps every request cheap. The key itself is shown once, when made.

One table (component ``service`` of ``onshore_migrations``, same pattern as
``onshore.store.db`` and ``onshore.ingest.keys``)::

    service_api_keys(id, name, role, country, secret_sha256, created_at, created_by, revoked_at)

``name`` is who holds the key; for a client abroad it is the recipient that transfer approvals
name. ``country`` (optional, ISO 3166 alpha-2) is where the holder is: a key issued to a
client abroad is treated as remote access from abroad whatever the client declares.

>>> import tempfile
>>> from onshore.store import DataHome
>>> with DataHome(tempfile.mkdtemp(), environ={}) as home:
...     keys = ApiKeys(home.meta)
...     made = keys.add("auditor", name="external audit")
...     found = keys.authenticate(made.key)
...     _ = keys.revoke(made.record.id)
...     gone = keys.authenticate(made.key)
>>> found.role, gone
('auditor', None)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

from onshore.errors import BadInput
from onshore.store.db import MetaDB, iso

Role = Literal["ingest", "operator", "compliance", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)
COMPONENT = "service"
PREFIX = "onshore_"
_KEY_RE = re.compile(r"^onshore_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE service_api_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                country TEXT,
                secret_sha256 TEXT NOT NULL,
                created_at TEXT NOT NULL,
                created_by TEXT NOT NULL,
                revoked_at TEXT
            )""",
        ),
    ),
)


def migrate(meta: MetaDB) -> None:
    """Create or update the service tables (idempotent; PostgreSQL under an advisory lock)."""
    meta.apply_migrations(COMPONENT, MIGRATIONS)


@dataclass(frozen=True)
class ApiKey:
    """A key on record (never its secret)."""

    id: str
    name: str
    role: Role
    country: str | None
    created_at: str
    created_by: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "country": self.country,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked_at": self.revoked_at,
            "status": "active" if self.active else "revoked",
        }


@dataclass(frozen=True)
class NewKey:
    """A key just made: the record and the key itself, which is shown this once."""

    record: ApiKey
    key: str


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise BadInput(f"unknown role {role!r} (one of {', '.join(ROLES)})", field="role")


def check_country(country: str | None, field: str = "country") -> str | None:
    if country is None:
        return None
    code = country.strip().upper()
    if not _COUNTRY_RE.match(code):
        raise BadInput(f"{country!r} is not an ISO 3166 alpha-2 country code", field=field)
    return code


_COLUMNS = "id, name, role, country, created_at, created_by, revoked_at"


def _record(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, role, country, created_at, created_by, revoked_at = row
    return ApiKey(
        str(key_id), str(name), cast(Role, role), country, created_at, created_by, revoked_at
    )


class ApiKeys:
    """Make, list, revoke and check the service's API keys in a metadata database."""

    def __init__(self, meta: MetaDB) -> None:
        self.meta = meta
        migrate(meta)

    def add(
        self,
        role: str,
        *,
        name: str,
        country: str | None = None,
        created_by: str = "onshore",
        now: datetime | None = None,
    ) -> NewKey:
        """Make a key for ``name`` with ``role``; the returned ``key`` is not stored anywhere."""
        checked = check_role(role)
        if not name.strip():
            raise BadInput("a key needs the name of who holds it", field="name")
        code = check_country(country)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        created = iso(now or datetime.now(UTC))
        self.meta.execute(
            f"INSERT INTO service_api_keys ({_COLUMNS}, secret_sha256)"
            " VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            (key_id, name.strip(), checked, code, created, created_by, _sha256(secret)),
        )
        record = ApiKey(key_id, name.strip(), checked, code, created, created_by)
        return NewKey(record, f"{PREFIX}{key_id}_{secret}")

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        rows = self.meta.query(f"SELECT {_COLUMNS} FROM service_api_keys ORDER BY created_at, id")
        keys = [_record(r) for r in rows]
        return keys if include_revoked else [k for k in keys if k.active]

    def get(self, key_id: str) -> ApiKey:
        rows = self.meta.query(f"SELECT {_COLUMNS} FROM service_api_keys WHERE id = ?", (key_id,))
        if not rows:
            raise BadInput(f"no API key {key_id!r}", field="id")
        return _record(rows[0])

    def revoke(self, key_id: str, *, now: datetime | None = None) -> ApiKey:
        """Revoke a key at once (the next request with it is refused)."""
        self.get(key_id)
        self.meta.execute(
            "UPDATE service_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (iso(now or datetime.now(UTC)), key_id),
        )
        return self.get(key_id)

    def authenticate(self, key: str) -> ApiKey | None:
        """The active key record ``key`` belongs to, or ``None`` (unknown, wrong or revoked)."""
        match = _KEY_RE.match(key.strip())
        if match is None:
            return None
        key_id, secret = match.groups()
        rows = self.meta.query(
            f"SELECT {_COLUMNS}, secret_sha256 FROM service_api_keys WHERE id = ?", (key_id,)
        )
        if not rows:
            return None
        *row, digest = rows[0]
        if not hmac.compare_digest(str(digest), _sha256(secret)):
            return None
        record = _record(tuple(row))
        return record if record.active else None
