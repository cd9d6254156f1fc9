"""The processor's own settings (legal entity, CIIO status, contacts), from ``config.yaml``.

Looked up at ``--config FILE``, else ``$ONSHORE_HOME/config.yaml``; when absent, defaults that
say so (``legal_entity: "(not configured)"``), so nothing silently claims to be configured.

.. code-block:: yaml

    processor:
      legal_entity: Demo Auto Co., Ltd.
      ciio: false
      province: Beijing
      responsible_person: {name: Wang Fang, contact: dpo@example.cn}
      user_rights_contact: {name: Li Lei, phone: "400-000-0000", email: privacy@example.cn}
    remote_access:          # reads by service clients abroad (exports, PIPL Arts. 39, 55)
      impact_assessment: PIA-2026-03
      outbound_basis: contract
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from onshore.errors import BadInput
from onshore.settings import Defaults
from onshore.transfer.policy import OutboundBasis

NOT_CONFIGURED = "(not configured)"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = NOT_CONFIGURED
    contact: str = ""
    phone: str = ""
    email: str = ""


class Processor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    legal_entity: str = NOT_CONFIGURED
    ciio: bool = False
    province: str = NOT_CONFIGURED
    responsible_person: Contact = Field(default_factory=Contact)
    user_rights_contact: Contact = Field(default_factory=Contact)


class RemoteAccess(BaseModel):
    """What PIPL asks of remote access from abroad (a read by a service client abroad is an
    export): the impact assessment that covers it (Art. 55) and its basis (Art. 39). Without
    an impact assessment on record every remote read of personal information is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    impact_assessment: str | None = None
    outbound_basis: OutboundBasis = "separate_consent"
    outbound_basis_note: str = ""


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    processor: Processor = Field(default_factory=Processor)
    remote_access: RemoteAccess = Field(default_factory=RemoteAccess)
    defaults: Defaults = Field(default_factory=Defaults)  # onshore.settings: flags win
    source: str | None = None

    @property
    def configured(self) -> bool:
        return self.processor.legal_entity != NOT_CONFIGURED


def load_config(path: str | os.PathLike[str] | None = None, *, home: Path | None = None) -> Config:
    """Read the processor configuration; a missing default file gives the unconfigured default."""
    candidate = Path(path) if path is not None else (home / "config.yaml" if home else None)
    if candidate is None or not candidate.exists():
        if path is not None:
            raise BadInput("configuration file not found", file=str(path))
        return Config()
    try:
        raw = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
        return Config.model_validate({**raw, "source": str(candidate)})
    except yaml.YAMLError as exc:
        raise BadInput(f"not valid YAML: {exc}", file=str(candidate)) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise BadInput(first["msg"], file=str(candidate), field=key) from None
