"""Assess and run a transfer against a data home: stage, classify, count, decide, package.

``run`` writes to the outbox only when the decision allows it: a Parquet file and a manifest
with the SHA-256 of every file, the decision and the approval used. The counters and the
transfer log are updated in one transaction and the export is entered on the ledger; a refusal
is entered on the ledger too, and nothing reaches the outbox.

A profile that pseudonymizes does so under the recipient's own key, derived from the home's
HMAC key for the recipient's name and country (:meth:`TransferGate.pseudonym_key`): the same
recipient gets the same pseudonyms in every package (per trip or day where the profile's scope
says so), two recipients get none in common, and none equals a home-key pseudonym (the
ledger's, ``POST /v1/desensitize``'s). The manifest and the ledger name the key by its id.

The volume tiers count natural persons: with a profile, the people are counted on the data
before desensitization (the gate knows the subjects), never by the pseudonyms the profile writes
(a per-trip pseudonym would make one person many), and that count is carried into the decision,
the dataset rules, the counters, the manifest and the ledger. Each person's separate consent to
the export (PIPL Art. 39) is looked up in the consent registry under the pack's
``pipl.outbound_consent_purpose``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from onshore.config import Config
from onshore.errors import BadInput, PolicyRefusal
from onshore.geo import AreaIndex
from onshore.io import TableWriter, open_source
from onshore.jsonenc import dumps
from onshore.keystore import Key
from onshore.model import Level
from onshore.store import DataHome
from onshore.transfer.decide import decide_transfer
from onshore.transfer.facts import DatasetFacts, dataset_facts
from onshore.transfer.models import Decision, ProcessorSettings, TransferFacts, TransferRequest
from onshore.transfer.policy import transfer_policy
from onshore.transfer.registry import Registry, TransferRecord
from onshore.transfer.renewal import ApprovalStatus, approval_statuses


def read_request(path: str | Path) -> TransferRequest:
    """A request file, JSON or YAML; its dataset is a file (a relative path is relative to the
    request file) or, when there is no such file, the name of a lake dataset."""
    p = Path(path)
    if not p.exists():
        raise BadInput("no such request file", file=str(p))
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadInput(f"not JSON or YAML: {exc}", file=str(p)) from exc
    if not isinstance(raw, dict):
        raise BadInput("a request is a mapping", file=str(p))
    request = TransferRequest.from_mapping(raw, file=str(p))
    dataset = Path(request.dataset)
    if not dataset.is_absolute() and (p.parent / dataset).exists():
        dataset = p.parent / dataset  # a file beside the request; else a lake dataset's name
    return replace(request, dataset=str(dataset))


@dataclass(frozen=True)
class Outcome:
    """A decision with what it rested on, and, after ``run``, where the package went.

    ``dataset_name`` names the dataset on the ledger, in the transfer log and the manifest when
    the request's ``dataset`` is only where it was staged (a lake dataset's snapshot, an upload).
    """

    id: str
    request: TransferRequest
    decision: Decision
    facts: DatasetFacts
    risk: dict[str, Any] | None
    package: Path | None = None
    ledger_index: int | None = None
    dataset_name: str | None = None
    pseudonym_key_id: str | None = None
    rows_quarantined: int = 0  # input records that could not be read: not exported

    @property
    def dataset(self) -> str:
        """The dataset as recorded: ``dataset_name``, else the request's file."""
        return self.dataset_name or self.request.dataset

    def to_dict(self) -> dict[str, Any]:
        return {
            "transfer": self.id,
            "dataset": self.dataset,
            "recipient": {
                "name": self.request.recipient.name,
                "country": self.request.recipient.country,
                "contact": self.request.recipient.contact,
            },
            "purpose": self.request.purpose,
            "access_mode": self.request.access_mode,
            "exemption": self.request.exemption,
            "profile": self.request.profile,
            "impact_assessment": self.request.impact_assessment,
            "outbound_basis": self.request.outbound_basis,
            "outbound_basis_note": self.request.outbound_basis_note,
            "use_abroad": self.request.use.to_dict(),
            **self.decision.to_dict(),
            "dataset_level": self.facts.assessment.level.label,
            "categories": list(self.facts.categories),
            "important_rules": list(self.facts.important_rules),
            "risk": self.risk,
            "pseudonym_key_id": self.pseudonym_key_id,
            "rows_quarantined": self.rows_quarantined,
            "package": str(self.package) if self.package else None,
            "ledger_index": self.ledger_index,
        }


class TransferGate:
    """The gate bound to a data home and the processor's configuration."""

    def __init__(self, home: DataHome, config: Config, *, areas: AreaIndex | None = None) -> None:
        self.home = home
        self.config = config
        self.areas = areas
        self.registry = Registry(home)
        self.outbox = home.path / "outbox"

    def today(self) -> dt.date:
        return self.home.now().astimezone(self.home.pack.timezone).date()

    def approval_statuses(self, today: dt.date | None = None) -> list[ApprovalStatus]:
        """Every approval on record with its expiry, renewal window and status (as of today)."""
        day = self.today() if today is None else today
        return approval_statuses(self.registry.approvals(), self.home.pack, day)

    def pseudonym_key(self, request: TransferRequest) -> Key:
        """The key a package for ``request``'s recipient is pseudonymized with: derived from the
        home's HMAC key for that recipient (name and country, normalised), never the home key
        itself, so recipients' pseudonyms cannot be joined with each other's or the home's."""
        from onshore.desensitize import recipient_pseudonym_key

        r = request.recipient
        return recipient_pseudonym_key(self.home.keystore, r.name, r.country)

    def _stage(
        self, request: TransferRequest, staging: Path, label: str
    ) -> tuple[Path, dict[str, Any] | None, str | None, int]:
        """Write the (desensitized) data to ``staging``; returns the file, the risk report, the
        id of the recipient's pseudonym key when the profile pseudonymizes, and how many input
        records could not be read (they are not exported, and the outcome says so).

        A profile whose output breaks its promise stops the transfer (``PolicyRefusal``), as
        ``onshore desensitize`` refuses to write such an output."""
        from onshore import app
        from onshore.io.chunks import chunks_of

        source = open_source(request.dataset)
        staging.mkdir(parents=True, exist_ok=True)
        target = staging / "data.parquet"
        bad = app.KeepBad(limit=0)  # raw bad rows never go into a package: only their count
        risk: dict[str, Any] | None = None
        key: Key | None = None
        if request.profile:
            pack = self.home.pack
            profile = pack.profile(request.profile)
            if any(step.op == "pseudonymize" for step in profile.steps):
                key = self.pseudonym_key(request)
            result = app.desensitize(
                chunks_of(source),
                profile,
                pack,
                out=TableWriter(target),
                quarantine=bad,
                key=key,
                areas=self.areas,
                label=label,
            )
            if not result.released:
                raise PolicyRefusal(result.refusal(f"the package for {request.recipient.name}"))
            risk = result.report.to_dict()
        else:
            with TableWriter(target) as writer:
                for chunk in chunks_of(source):
                    if chunk.batch is not None:
                        writer.write(chunk.batch)
                    bad.write(chunk.bad)
        if not target.exists() or pq.ParquetFile(target).metadata.num_rows == 0:
            raise BadInput("the dataset has no rows to transfer", file=request.dataset)
        return target, risk, key.key_id if key is not None else None, bad.count

    def _people(self, request: TransferRequest, staged: Path) -> tuple[DatasetFacts, pa.Table]:
        """The staged data's facts, and the natural persons it is about: counted on the data
        before desensitization when a profile ran, each with whether the exported data holds
        their sensitive and other PI (columns subject, sensitive, non_sensitive)."""
        pack = self.home.pack
        if not request.profile:
            facts = dataset_facts(
                pq.ParquetFile(staged).iter_batches(batch_size=65_536), pack, self.areas
            )
            return facts, facts.subjects
        raw = dataset_facts(
            (b for b, _rows in open_source(request.dataset).batches()), pack, self.areas
        )
        persons = raw.subjects
        facts = dataset_facts(
            pq.ParquetFile(staged).iter_batches(batch_size=65_536),
            pack,
            self.areas,
            natural_persons=persons.num_rows,
        )
        if not facts.has_personal:  # anonymized: nobody's personal information leaves
            return facts, persons.slice(0, 0)
        levels = [pack.level_of(c) for c in facts.categories]
        sensitive_out = any(level == Level.SENSITIVE_PERSONAL for level in levels)
        other_out = any(level == Level.PERSONAL for level in levels) or not sensitive_out
        s = pc.and_(persons.column("sensitive"), pa.scalar(sensitive_out))
        n = pc.and_(persons.column("non_sensitive"), pa.scalar(other_out))
        # someone whose raw rows were all sensitive keeps counting once the output is not
        n = pc.or_(n, pc.invert(s))
        return facts, pa.table(
            {"subject": persons.column("subject"), "sensitive": s, "non_sensitive": n}
        )

    def _without_outbound_consent(self, subjects: pa.Array, categories: tuple[str, ...]) -> int:
        """How many of ``subjects`` (VINs or person ids) have no separate consent to the export
        in force that covers every personal category exported."""
        from onshore.consent import ConsentRegistry

        pack = self.home.pack
        pipl = transfer_policy(pack).pipl
        if pipl is None or pack.bases is None:
            return 0
        now = self.home.now()
        covered: dict[str, list[str]] = {}
        for consent in ConsentRegistry(self.home).list(purpose=pipl.outbound_consent_purpose):
            if consent.active_at(now):
                for who in {consent.vin, consent.person} - {None}:
                    covered.setdefault(str(who), []).append(consent.category)
        personal = [c for c in categories if pack.bases.needs_basis(pack, c)]

        def consented(subject: str) -> bool:
            cats = covered.get(subject)
            return cats is not None and all(
                any(pack.is_within(c, g) for g in cats) for c in personal
            )

        return sum(1 for subject in subjects.to_pylist() if not consented(str(subject)))

    def _decide(
        self, request: TransferRequest, staged: Path
    ) -> tuple[Decision, DatasetFacts, list[str], np.ndarray, np.ndarray]:
        facts, persons = self._people(request, staged)
        hashes = self.registry.hash_subjects(persons.column("subject"))
        sensitive = np.asarray(persons.column("sensitive").to_numpy(zero_copy_only=False))
        non_sensitive = np.asarray(persons.column("non_sensitive").to_numpy(zero_copy_only=False))
        today = self.today()
        policy = transfer_policy(self.home.pack)
        counts = self.registry.count(
            hashes,
            sensitive,
            non_sensitive=non_sensitive,
            year=today.year,
            recipient=request.recipient.name,
            purpose=request.purpose,
            people_with_both=policy.counting.people_with_both,
        )
        without = 0
        if facts.has_personal and request.outbound_basis == "separate_consent":
            without = self._without_outbound_consent(persons.column("subject"), facts.categories)
        gate_facts = TransferFacts(
            year=today.year,
            important_rules=facts.important_rules,
            categories=facts.categories,
            has_personal=facts.has_personal,
            individuals=counts.individuals,
            sensitive_individuals=counts.sensitive_individuals,
            cumulative_non_sensitive=counts.cumulative_non_sensitive,
            cumulative_sensitive=counts.cumulative_sensitive,
            group_individuals=counts.group_individuals,
            cumulative_individuals=counts.cumulative_individuals,
            without_outbound_consent=without,
        )
        settings = ProcessorSettings(
            self.config.processor.legal_entity, ciio=self.config.processor.ciio
        )
        decision = decide_transfer(
            request,
            gate_facts,
            self.registry.approvals(),
            settings,
            self.home.pack,
            today=today,
        )
        return decision, facts, hashes, sensitive, non_sensitive

    def assess(self, request: TransferRequest, *, dataset_name: str | None = None) -> Outcome:
        """Decide without moving anything; the staging copy is removed afterwards.

        ``dataset_name`` is the name to report for the dataset when ``request.dataset`` is a
        staged copy of it (default: the request's file).
        """
        tid = _new_id()
        staging = self.outbox / ".staging" / tid
        try:
            outcome, _staged, _counted = self._evaluate(tid, request, staging, dataset_name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return outcome

    def _evaluate(
        self, tid: str, request: TransferRequest, staging: Path, dataset_name: str | None
    ) -> tuple[Outcome, Path, tuple[list[str], np.ndarray, np.ndarray]]:
        """Stage the data under ``staging`` and decide: the outcome (the one place it is built),
        the staged file and the people counted (hashes, sensitive and non-sensitive flags)."""
        label = dataset_name or request.dataset
        staged, risk, key_id, quarantined = self._stage(request, staging, label)
        decision, facts, hashes, sensitive, non_sensitive = self._decide(request, staged)
        outcome = Outcome(
            tid,
            request,
            decision,
            facts,
            risk,
            dataset_name=dataset_name,
            pseudonym_key_id=key_id,
            rows_quarantined=quarantined,
        )
        return outcome, staged, (hashes, sensitive, non_sensitive)

    def run(self, request: TransferRequest, *, dataset_name: str | None = None) -> Outcome:
        """Re-assess and, only if allowed, package the data into the outbox and record it.

        ``dataset_name`` names the dataset on the ledger, in the transfer log and the manifest
        when ``request.dataset`` is a staged copy of it (default: the request's file).
        """
        tid = _new_id()
        staging = self.outbox / ".staging" / tid
        label = dataset_name or request.dataset
        try:
            outcome, staged, counted = self._evaluate(tid, request, staging, dataset_name)
            decision, facts = outcome.decision, outcome.facts
            hashes, sensitive, non_sensitive = counted
            if not decision.allowed:
                head = self.home.record(
                    "policy_refusal",
                    purpose=request.purpose,
                    dataset=label,
                    categories=facts.categories,
                    counts=decision.counts,
                    decision=f"transfer refused: {decision.mechanism}",
                    reasons=[r.rule_id for r in decision.reasons] + list(decision.missing),
                    details={
                        "transfer": tid,
                        "recipient": request.recipient.name,
                        "country": request.recipient.country,
                    },
                )
                self._log(outcome, None, head.tree_size - 1)
                return replace(outcome, ledger_index=head.tree_size - 1)
            package = self.outbox / tid
            package.mkdir(parents=True, exist_ok=False)
            final = package / "data.parquet"
            shutil.move(str(staged), final)
            manifest = _manifest(outcome, [final])
            (package / "manifest.json").write_text(
                dumps(manifest, indent=2, sort_keys=False), encoding="utf-8"
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        today = self.today()
        started = self.home.now()
        with self.home.meta.transaction():
            self.registry.add_individuals(
                hashes,
                sensitive,
                non_sensitive=non_sensitive,
                year=today.year,
                recipient=request.recipient.name,
                purpose=request.purpose,
            )
        try:
            head = self.home.record(
                "export",
                purpose=request.purpose,
                dataset=label,
                categories=facts.categories,
                counts=decision.counts,
                decision=f"exported under {decision.mechanism}",
                reasons=[r.rule_id for r in decision.reasons],
                details={
                    "transfer": tid,
                    "recipient": request.recipient.name,
                    "country": request.recipient.country,
                    "contact": request.recipient.contact,
                    "use_abroad": request.use.to_dict(),
                    "impact_assessment": request.impact_assessment,
                    "outbound_basis": request.outbound_basis,
                    "approval": decision.approval_used,
                    "manifest_sha256": _sha256(package / "manifest.json"),
                    "pseudonym_key_id": outcome.pseudonym_key_id,
                },
            )
        except BaseException:
            from onshore.store.db import iso

            self.registry.remove_individuals_since(iso(started))
            shutil.rmtree(package, ignore_errors=True)
            raise
        done = replace(outcome, package=package, ledger_index=head.tree_size - 1)
        self._log(done, package, head.tree_size - 1)
        return done

    def _log(self, outcome: Outcome, package: Path | None, index: int | None) -> None:
        from onshore.store.db import iso

        r = outcome.request
        self.registry.log(
            TransferRecord(
                id=outcome.id,
                at=iso(self.home.now()),
                dataset=outcome.dataset,
                recipient=r.recipient.name,
                purpose=r.purpose,
                mechanism=outcome.decision.mechanism,
                allowed=outcome.decision.allowed,
                approval=outcome.decision.approval_used,
                package=str(package) if package else None,
                individuals=outcome.decision.counts["individuals"],
            ),
            country=r.recipient.country,
            access_mode=r.access_mode,
            sensitive_individuals=outcome.decision.counts["sensitive_individuals"],
            ledger_index=index,
        )


def _new_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest(outcome: Outcome, files: list[Path]) -> dict[str, Any]:
    return {
        "onshore_export": 1,
        **outcome.to_dict(),
        "files": [
            {
                "path": f.name,
                "sha256": _sha256(f),
                "bytes": f.stat().st_size,
                "rows": pq.ParquetFile(f).metadata.num_rows,
            }
            for f in files
        ],
    }
