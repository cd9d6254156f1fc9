"""Every setting Onshore runs with, resolved in one place: flags > environment > the data
home's ``config.yaml`` (its ``defaults:`` section) > built-in defaults.

The CLI, the service and the MQTT worker resolve their settings here, and ``onshore config
show`` prints each one with where it came from::

    defaults:              # in HOME/config.yaml, beside processor: and remote_access:
      areas: /etc/onshore/areas.geojson
      purpose: national_monitoring
      store: local
      pack: cn-auto

The data home itself cannot come from its own ``config.yaml``: it is a flag (``--home``),
``ONSHORE_HOME`` or ``./onshore-data``.

>>> s = Settings.resolve({"purpose": "maintenance"}, environ={"ONSHORE_HOME": "/tmp/h"})
>>> s.home, s.purpose, s.origin("purpose"), s.origin("home")
(PosixPath('/tmp/h'), 'maintenance', 'flag --purpose', 'environment ONSHORE_HOME')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from onshore.errors import BadInput


@dataclass(frozen=True)
class Field:
    """One setting: its environment variable, built-in default and meaning."""

    name: str
    env: str
    default: str | None
    help: str


FIELDS: tuple[Field, ...] = (
    Field("home", "ONSHORE_HOME", "onshore-data", "the data home (lake, metadata, keys)"),
    Field("db", "ONSHORE_DB", None, "metadata and ledger database (default: HOME/meta.db)"),
    Field("config", "ONSHORE_CONFIG", None, "processor configuration (default: HOME/config.yaml)"),
    Field("pack", "ONSHORE_PACK", "cn-auto", "policy pack, by name or folder"),
    Field("jurisdiction", "ONSHORE_JURISDICTION", None, "the local store's jurisdiction"),
    Field("areas", "ONSHORE_AREAS", None, "sensitive-area GeoJSON (default: HOME/areas.geojson)"),
    Field("purpose", "ONSHORE_PURPOSE", "national_monitoring", "purpose of collection"),
    Field("store", "ONSHORE_STORE", "local", "store that ingest writes to"),
)
BY_NAME = {f.name: f for f in FIELDS}


class Defaults(BaseModel):
    """The ``defaults:`` section of ``config.yaml`` (every setting but the home and the file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    db: str | None = None
    pack: str | None = None
    jurisdiction: str | None = None
    areas: str | None = None
    purpose: str | None = None
    store: str | None = None


@dataclass(frozen=True)
class Settings:
    """The resolved settings and the origin of each (``flag --x``, ``environment X``,
    ``config.yaml``, ``default``)."""

    values: Mapping[str, Any]
    origins: Mapping[str, str]

    @classmethod
    def resolve(
        cls,
        flags: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Resolve every setting; ``flags`` holds the ones given on the command line (``None``
        values count as not given)."""
        given = {k: v for k, v in (flags or {}).items() if v is not None}
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}

        def take(name: str, from_file: Any = None) -> None:
            field = BY_NAME[name]
            if name in given:
                values[name], origins[name] = given[name], f"flag --{name}"
            elif env.get(field.env):
                values[name], origins[name] = env[field.env], f"environment {field.env}"
            elif from_file is not None:
                values[name], origins[name] = from_file, "config.yaml"
            else:
                values[name], origins[name] = field.default, "default"

        take("home")
        values["home"] = Path(values["home"])
        take("config")
        path = Path(values["config"]) if values["config"] else values["home"] / "config.yaml"
        values["config"] = path
        defaults = read_defaults(path, required=origins["config"] != "default")
        for name in ("db", "pack", "jurisdiction", "areas", "purpose", "store"):
            take(name, getattr(defaults, name))
        if values["areas"] is None and (values["home"] / "areas.geojson").is_file():
            values["areas"] = str(values["home"] / "areas.geojson")
            origins["areas"] = "default (HOME/areas.geojson)"
        return cls(values, origins)

    def origin(self, name: str) -> str:
        return self.origins[name]

    @property
    def home(self) -> Path:
        return Path(self.values["home"])

    @property
    def db(self) -> str | None:
        return self.values["db"]  # type: ignore[no-any-return]

    @property
    def config(self) -> Path:
        return Path(self.values["config"])

    @property
    def pack(self) -> str:
        return str(self.values["pack"])

    @property
    def jurisdiction(self) -> str | None:
        return self.values["jurisdiction"]  # type: ignore[no-any-return]

    @property
    def areas(self) -> str | None:
        return self.values["areas"]  # type: ignore[no-any-return]

    @property
    def purpose(self) -> str:
        return str(self.values["purpose"])

    @property
    def store(self) -> str:
        return str(self.values["store"])

    def rows(self) -> list[dict[str, Any]]:
        """Each setting, its value and where it came from (``onshore config show``)."""
        return [
            {
                "setting": f.name,
                "value": None if self.values[f.name] is None else str(self.values[f.name]),
                "from": self.origins[f.name],
                "env": f.env,
                "meaning": f.help,
            }
            for f in FIELDS
        ]


def read_defaults(path: Path, *, required: bool = False) -> Defaults:
    """The ``defaults:`` of a configuration file (empty when the file is absent)."""
    if not path.is_file():
        if required:
            raise BadInput("configuration file not found", file=str(path))
        return Defaults()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise BadInput(f"not valid YAML: {exc}", file=str(path)) from exc
    if not isinstance(raw, dict):
        raise BadInput("a configuration file is a mapping", file=str(path))
    try:
        return Defaults.model_validate(raw.get("defaults") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(["defaults", *(str(p) for p in first["loc"])])
        raise BadInput(first["msg"], file=str(path), field=key) from None


def env_setting(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """One setting from the environment only (for code below the adapters that is handed an
    ``environ``): the variable of :data:`FIELDS`, or its built-in default."""
    field = BY_NAME[name]
    env = os.environ if environ is None else environ
    return env.get(field.env) or field.default
