"""A local keystore: key files at mode 0600 under ``$ONSHORE_HOME/keys``, or environment keys.

Keys have a *kind* (``ledger-ed25519`` signs the ledger's tree heads; ``hmac-sha256`` is for
pseudonymization) and a *key id*. Each kind has a current key; ``rotate`` makes a new current
key and keeps the old ones so what they signed or pseudonymized can still be checked.

Layout::

    keys/<kind>/<key_id>.key    the raw key material, hex, mode 0600
    keys/<kind>/CURRENT         the current key id

A key may instead come from the environment: ``ONSHORE_KEY_LEDGER_ED25519=<hex>`` (the kind in
upper case, ``-`` as ``_``). Such a key is the current one for its kind and cannot be rotated
here. A key file that group or others may read is refused.

>>> import tempfile
>>> ks = Keystore(tempfile.mkdtemp(), environ={})
>>> key = ks.get_or_create("ledger-ed25519")
>>> ks.current_key_id("ledger-ed25519") == key.key_id
True
>>> ks.rotate("ledger-ed25519").key_id != key.key_id
True
>>> len(ks.keys("ledger-ed25519"))
2
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from onshore.errors import StorageError

LEDGER_KEY = "ledger-ed25519"
HMAC_KEY = "hmac-sha256"
_KIND_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_ID_RE = re.compile(r"^[0-9a-f]{16}$")


def onshore_home(environ: Mapping[str, str] | None = None) -> Path:
    """The data home: ``$ONSHORE_HOME`` or ``./onshore-data`` (:mod:`onshore.settings`)."""
    from onshore.settings import env_setting

    return Path(env_setting("home", environ) or "onshore-data")


@dataclass(frozen=True)
class KeyKind:
    """How to make and name keys of one kind: ``generate`` material, derive its ``key_id``."""

    name: str
    generate: Callable[[], bytes]
    key_id: Callable[[bytes], str]
    size: int


def _random_id(material: bytes) -> str:
    return hashlib.sha256(b"onshore-key-id\x00" + material).hexdigest()[:16]


def ed25519_key_id(public_raw: bytes) -> str:
    """The key id of an Ed25519 public key: the first 8 bytes of its SHA-256, hex.

    An auditor can compute it from the public key alone.
    """
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _ed25519_id(material: bytes) -> str:
    public = Ed25519PrivateKey.from_private_bytes(material).public_key()
    return ed25519_key_id(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


_DEFAULT_KINDS = (
    KeyKind(LEDGER_KEY, lambda: secrets.token_bytes(32), _ed25519_id, 32),
    KeyKind(HMAC_KEY, lambda: secrets.token_bytes(32), _random_id, 32),
)


@dataclass(frozen=True)
class Key:
    """Key material with its kind and id. ``repr`` never shows the material."""

    kind: str
    key_id: str
    material: bytes = field(repr=False)
    source: str = "file"  # "file", "env" or "derived"

    def ed25519_private(self) -> Ed25519PrivateKey:
        """The key as an Ed25519 private key (for kind ``ledger-ed25519``)."""
        return Ed25519PrivateKey.from_private_bytes(self.material)

    def ed25519_public(self) -> Ed25519PublicKey:
        return self.ed25519_private().public_key()


def derive_key(master: Key, info: bytes) -> Key:
    """A key derived from ``master`` for the one use ``info`` names (HKDF-SHA256).

    The same master and ``info`` always give the same key; other ``info`` give keys that
    cannot be told apart from random ones, nor computed from each other without the master.
    The key id is that of the derived material, so it differs per ``info``. Derived keys are
    never written anywhere: they are derived again when needed.

    >>> master = Key("hmac-sha256", "0123456789abcdef", bytes(32))
    >>> a, b = derive_key(master, b"a"), derive_key(master, b"b")
    >>> a.key_id != b.key_id != master.key_id, a == derive_key(master, b"a"), a.source
    (True, True, 'derived')
    """
    material = HKDF(
        algorithm=SHA256(),
        length=len(master.material),
        salt=None,
        info=b"onshore-derived-key\x00" + master.kind.encode() + b"\x00" + info,
    ).derive(master.material)
    return Key(master.kind, _random_id(material), material, source="derived")


class Keystore:
    """Keys by kind and id, in a directory (files at 0600) or from environment variables."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        kinds: tuple[KeyKind, ...] = _DEFAULT_KINDS,
    ) -> None:
        env = os.environ if environ is None else environ
        self.path = Path(path) if path is not None else onshore_home(env) / "keys"
        self._environ = dict(env)
        self._kinds: dict[str, KeyKind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: KeyKind) -> None:
        """Add a key kind (the desensitizer registers its own the same way)."""
        if not _KIND_RE.match(kind.name):
            raise ValueError(f"bad key kind name {kind.name!r}")
        self._kinds[kind.name] = kind

    # -- public API ---------------------------------------------------------------------------

    def current_key_id(self, kind: str) -> str | None:
        """The id of the current key of ``kind``, or ``None`` when there is none yet."""
        env_key = self._env_key(kind)
        if env_key is not None:
            return env_key.key_id
        current = self._kind_dir(kind) / "CURRENT"
        try:
            text = current.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {current}: {exc}") from exc
        if not _ID_RE.match(text):
            raise StorageError(f"{current} does not hold a key id")
        return text

    def get(self, kind: str, key_id: str | None = None) -> Key:
        """The key ``key_id`` of ``kind`` (default: the current one); ``StorageError`` if absent."""
        env_key = self._env_key(kind)
        if env_key is not None and key_id in (None, env_key.key_id):
            return env_key
        wanted = key_id or self.current_key_id(kind)
        if wanted is None:
            raise StorageError(f"no {kind} key in {self.path}")
        return self._read(kind, wanted)

    def get_or_create(self, kind: str) -> Key:
        """The current key of ``kind``, created on first use (safe across processes)."""
        self._kind(kind)
        if self.current_key_id(kind) is not None:
            return self.get(kind)
        with self._locked(kind):
            if self.current_key_id(kind) is not None:
                return self.get(kind)
            return self._create(kind)

    def rotate(self, kind: str) -> Key:
        """Make a new current key of ``kind``; older keys stay readable by id."""
        self._kind(kind)
        if self._env_key(kind) is not None:
            raise StorageError(f"the {kind} key comes from {self._env_name(kind)}; rotate it there")
        with self._locked(kind):
            return self._create(kind)

    def keys(self, kind: str) -> list[Key]:
        """Every key of ``kind``: the environment's and the directory's, in key id order."""
        found: dict[str, Key] = {}
        env_key = self._env_key(kind)
        if env_key is not None:
            found[env_key.key_id] = env_key
        directory = self._kind_dir(kind)
        if directory.is_dir():
            for file in sorted(directory.glob("*.key")):
                found.setdefault(file.stem, self._read(kind, file.stem))
        return [found[k] for k in sorted(found)]

    def ledger_signing_key(self) -> Key:
        """The ledger's Ed25519 key, created on first use."""
        return self.get_or_create(LEDGER_KEY)

    def ledger_public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every ledger public key by key id (old ones verify old tree heads)."""
        return {k.key_id: k.ed25519_public() for k in self.keys(LEDGER_KEY)}

    # -- internals ----------------------------------------------------------------------------

    def _kind(self, kind: str) -> KeyKind:
        try:
            return self._kinds[kind]
        except KeyError:
            raise StorageError(f"unknown key kind {kind!r} ({', '.join(self._kinds)})") from None

    def _kind_dir(self, kind: str) -> Path:
        self._kind(kind)
        return self.path / kind

    @staticmethod
    def _env_name(kind: str) -> str:
        return "ONSHORE_KEY_" + kind.upper().replace("-", "_")

    def _env_key(self, kind: str) -> Key | None:
        name = self._env_name(kind)
        text = self._environ.get(name)
        if not text:
            return None
        spec = self._kind(kind)
        try:
            material = bytes.fromhex(text.strip())
        except ValueError:
            raise StorageError(f"{name} must hold the key as hex") from None
        if len(material) != spec.size:
            raise StorageError(f"{name} must hold {spec.size} bytes, got {len(material)}")
        return Key(kind, spec.key_id(material), material, source="env")

    def _read(self, kind: str, key_id: str) -> Key:
        if not _ID_RE.match(key_id):
            raise StorageError(f"bad key id {key_id!r}")
        spec = self._kind(kind)
        file = self._kind_dir(kind) / f"{key_id}.key"
        try:
            fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise StorageError(f"no {kind} key {key_id} in {self.path}") from None
        except OSError as exc:
            raise StorageError(f"cannot open key file {file}: {exc}") from exc
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise StorageError(
                    f"refusing key file {file}: group or others may access it "
                    f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {file}"
                )
            text = handle.read().decode("ascii", "replace").strip()
        try:
            material = bytes.fromhex(text)
        except ValueError:
            raise StorageError(f"key file {file} does not hold hex key material") from None
        if len(material) != spec.size or spec.key_id(material) != key_id:
            raise StorageError(f"key file {file} does not match its key id")
        return Key(kind, key_id, material)

    def _create(self, kind: str) -> Key:
        spec = self._kind(kind)
        material = spec.generate()
        key_id = spec.key_id(material)
        directory = self._kind_dir(kind)
        try:
            file = directory / f"{key_id}.key"
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(material.hex() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            tmp = directory / f".CURRENT.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key_id + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, directory / "CURRENT")
        except OSError as exc:
            raise StorageError(f"cannot write a {kind} key in {directory}: {exc}") from exc
        return Key(kind, key_id, material)

    @contextmanager
    def _locked(self, kind: str) -> Iterator[None]:
        """An exclusive lock on the kind's directory, across processes."""
        directory = self._kind_dir(kind)
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot use keystore {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
