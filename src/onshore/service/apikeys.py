"""API keys of the HTTP service, kept hashed in the metadata database, each with one role.

A key reads ``onshore_<id>_<secret>``: ``id`` (12 hex digits) finds the row, ``secret`` (43
URL-safe characters, 256 random bits) is checked against its SHA-256. A salted slow hash
(scrypt) protects guessable passwords; a 256-bit random secret cannot be guessed, so one
SHA-256 is enough and keeps every request cheap. The key itself is shown once, when made.

One table (component ``service`` of ``onshore_migrations``, same pattern as
``onshore.store.db`` and ``onshore.ingest.keys``)::

    service_api_keys(id, name, role, country, secret_sha256, created_at, created_by, revoked_at,
                     expires_at, replaced_by)

Keys expire: ``expires_at`` (a key made with :meth:`ApiKeys.add` lasts
:data:`DEFAULT_VALIDITY`, 365 days, unless told otherwise; ``None`` = never, only when asked
for, and for keys made before expiry existed). An expired key authenticates as nobody.
:meth:`ApiKeys.rotate` makes a new key for the same holder, role and country and revokes the
old one, at once or after a grace period (``revoked_at`` in the future), so a client can move
to the new key without a gap; ``replaced_by`` names the successor.

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
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast, get_args

from onshore.errors import BadInput
from onshore.store.db import MetaDB, iso, parse_iso

Role = Literal["ingest", "operator", "compliance", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)
Status = Literal["active", "retiring", "expired", "revoked"]
Refusal = Literal["unknown", "revoked", "expired"]
DEFAULT_VALIDITY = timedelta(days=365)
MAX_VALIDITY = timedelta(days=3650)
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
    (
        2,
        (
            # NULL: never expires (keys made before expiry existed keep working; listed so).
            "ALTER TABLE service_api_keys ADD COLUMN expires_at TEXT",
            "ALTER TABLE service_api_keys ADD COLUMN replaced_by TEXT",
        ),
    ),
)


def migrate(meta: MetaDB) -> None:
    """Create or update the service tables (idempotent; PostgreSQL under an advisory lock)."""
    meta.apply_migrations(COMPONENT, MIGRATIONS)


@dataclass(frozen=True)
class ApiKey:
    """A key on record (never its secret). Times are UTC text, as in the ledger."""

    id: str
    name: str
    role: Role
    country: str | None
    created_at: str
    created_by: str
    revoked_at: str | None = None  # in the future while a rotated key's grace period runs
    expires_at: str | None = None  # None: never
    replaced_by: str | None = None  # the key a rotation made in its place

    def status(self, now: datetime | None = None) -> Status:
        """``active``; ``retiring`` (rotated, valid until ``revoked_at``); ``expired``;
        ``revoked``."""
        moment = now or datetime.now(UTC)
        if self.revoked_at is not None and parse_iso(self.revoked_at) <= moment:
            return "revoked"
        if self.expires_at is not None and parse_iso(self.expires_at) <= moment:
            return "expired"
        return "retiring" if self.revoked_at is not None else "active"

    def valid(self, now: datetime | None = None) -> bool:
        """Whether the key authenticates at ``now``."""
        return self.status(now) in ("active", "retiring")

    @property
    def active(self) -> bool:
        return self.valid()

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "country": self.country,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "replaced_by": self.replaced_by,
            "status": self.status(now),
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


_COLUMNS = "id, name, role, country, created_at, created_by, revoked_at, expires_at, replaced_by"


def _record(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, role, country, created_at, created_by, revoked_at, expires, replaced = row
    return ApiKey(
        str(key_id),
        str(name),
        cast(Role, role),
        country,
        created_at,
        created_by,
        revoked_at,
        expires,
        replaced,
    )


def expiry(
    validity: timedelta | datetime | None, now: datetime, *, field: str = "expires"
) -> str | None:
    """When a key made at ``now`` expires: after ``validity``, at a time, or never (``None``).

    A validity must be positive and at most :data:`MAX_VALIDITY` (ten years)."""
    if validity is None:
        return None
    until = now + validity if isinstance(validity, timedelta) else validity
    if until.tzinfo is None:
        raise BadInput("an expiry time must be timezone-aware", field=field)
    if until <= now:
        raise BadInput(f"a key must expire in the future, not {iso(until)}", field=field)
    if until - now > MAX_VALIDITY:
        raise BadInput(
            f"a key may be valid for {MAX_VALIDITY.days} days at most (or never, if asked)",
            field=field,
        )
    return iso(until)


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
        validity: timedelta | datetime | None = DEFAULT_VALIDITY,
    ) -> NewKey:
        """Make a key for ``name`` with ``role``; the returned ``key`` is not stored anywhere.

        It expires after ``validity`` (default 365 days), at a given time, or never (``None``).
        """
        checked = check_role(role)
        if not name.strip():
            raise BadInput("a key needs the name of who holds it", field="name")
        code = check_country(country)
        moment = now or datetime.now(UTC)
        expires = expiry(validity, moment)
        return self._insert(checked, name.strip(), code, created_by, moment, expires)

    def _insert(
        self,
        role: Role,
        name: str,
        country: str | None,
        created_by: str,
        now: datetime,
        expires: str | None,
    ) -> NewKey:
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        created = iso(now)
        self.meta.execute(
            f"INSERT INTO service_api_keys ({_COLUMNS}, secret_sha256)"
            " VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, ?)",
            (key_id, name, role, country, created, created_by, expires, _sha256(secret)),
        )
        record = ApiKey(key_id, name, role, country, created, created_by, expires_at=expires)
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
        """Revoke a key at once (the next request with it is refused); a key in its rotation
        grace period is cut short."""
        self.get(key_id)
        moment = iso(now or datetime.now(UTC))
        self.meta.execute(
            "UPDATE service_api_keys SET revoked_at = ?"
            " WHERE id = ? AND (revoked_at IS NULL OR revoked_at > ?)",
            (moment, key_id, moment),
        )
        return self.get(key_id)

    def rotate(
        self,
        key_id: str,
        *,
        grace: timedelta = timedelta(0),
        created_by: str = "onshore",
        now: datetime | None = None,
        validity: timedelta | datetime | None = DEFAULT_VALIDITY,
    ) -> tuple[ApiKey, NewKey]:
        """A new key for the holder, role and country of ``key_id``, which is revoked at once or
        when ``grace`` has passed (both keys work meanwhile). Returns the old key's record as it
        is now and the new key.

        A revoked key, or one already rotated, is not rotated (make a new one with
        :meth:`add`: revocation may mean the holder should not have a key). An expired key
        may be: that is how its holder gets a fresh one."""
        moment = now or datetime.now(UTC)
        if grace < timedelta(0) or grace > MAX_VALIDITY:
            raise BadInput("the grace period must be between 0 and 10 years", field="grace")
        old = self.get(key_id)
        if old.status(moment) == "revoked":
            raise BadInput(f"API key {key_id} is revoked: make a new one (keys add)", field="id")
        if old.replaced_by is not None:
            raise BadInput(
                f"API key {key_id} was already rotated (replaced by {old.replaced_by})",
                field="id",
            )
        expires = expiry(validity, moment)
        retire = iso(moment + grace)
        if old.expires_at is not None and old.expires_at < retire:
            retire = max(old.expires_at, iso(moment))  # grace never outlives the old expiry
        with self.meta.transaction():
            made = self._insert(old.role, old.name, old.country, created_by, moment, expires)
            self.meta.execute(
                "UPDATE service_api_keys SET revoked_at = ?, replaced_by = ? WHERE id = ?",
                (retire, made.record.id, key_id),
            )
        return self.get(key_id), made

    def refusal(self, key: str, *, now: datetime | None = None) -> Refusal | None:
        """Why ``key`` does not authenticate (``unknown``, ``revoked``, ``expired``), or
        ``None`` when it does."""
        record = self._lookup(key)
        if record is None:
            return "unknown"
        status = record.status(now)
        if status in ("revoked", "expired"):
            return cast(Refusal, status)
        return None

    def authenticate(self, key: str, *, now: datetime | None = None) -> ApiKey | None:
        """The valid key record ``key`` belongs to, or ``None`` (unknown, wrong, revoked or
        expired)."""
        record = self._lookup(key)
        return record if record is not None and record.valid(now) else None

    def _lookup(self, key: str) -> ApiKey | None:
        """The record whose id and secret ``key`` holds, whatever its status."""
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
        return _record(tuple(row))
