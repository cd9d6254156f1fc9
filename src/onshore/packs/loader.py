"""Load a policy pack from its YAML files, validate it, and give the classifier fast lookups.

A pack is a directory of YAML files, one concern per file. Each file is validated by its pydantic
model; then the cross-references (parents, categories, kinds, instruments) are checked. Every
error names the file and the dotted key: ``taxonomy.yaml: field 'categories[4].parent': ...``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from onshore.errors import PackError
from onshore.model import FieldLabel, LegalRef, Level
from onshore.packs.bases import Bases, Retention, WorkCalendar, check_bases
from onshore.packs.models import (
    AreaKind,
    AreaKinds,
    Category,
    DatasetRule,
    FieldMap,
    FieldMapping,
    Instrument,
    PackHeader,
    RecordRule,
    Rules,
    Taxonomy,
    to_legal_ref,
)
from onshore.packs.profiles import Profile, ProfileFile, check_profiles

BUILTIN_DIR = Path(__file__).parent
FILES: dict[str, type[BaseModel]] = {
    "pack.yaml": PackHeader,
    "taxonomy.yaml": Taxonomy,
    "fields.yaml": FieldMap,
    "areas.yaml": AreaKinds,
    "rules.yaml": Rules,
    "profiles.yaml": ProfileFile,
}
# Optional files: a pack without them loads; the features that need them say so.
OPTIONAL_FILES: dict[str, type[BaseModel]] = {
    "bases.yaml": Bases,
    "retention.yaml": Retention,
    "calendar.yaml": WorkCalendar,
}
M = TypeVar("M", bound=BaseModel)


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when there


def _load_yaml(text: str) -> Any:
    """YAML as ``yaml.safe_load`` reads it, with libyaml's parser where PyYAML has it (the pack
    loads at every command's start: the pure-Python parser took about 0.2 s of it)."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader (C or Python): no tags run code


@dataclass(frozen=True)
class RuleInfo:
    """What a reason id resolves to: the level it sets, its legal reference and a sentence."""

    rule_id: str
    level: Level
    ref: LegalRef
    description: str


@dataclass(frozen=True)
class Pack:
    """A loaded, validated policy pack. Build it with :func:`load_pack`.

    >>> pack = load_pack("cn-auto")
    >>> pack.resolve_field("Vehicle.CurrentLocation.Latitude").category
    'location.trajectory'
    """

    name: str
    version: str
    jurisdiction: str
    path: Path
    header: PackHeader
    categories: Mapping[str, Category]
    fields: tuple[FieldMapping, ...]
    area_kinds: Mapping[str, AreaKind]
    record_rules: tuple[RecordRule, ...]
    dataset_rules: tuple[DatasetRule, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    bases: Bases | None = None
    retention: Retention | None = None
    calendar: WorkCalendar | None = None

    def __post_init__(self) -> None:
        if isinstance(self.profiles, LazyProfiles):
            self.profiles._bind(self)

    # -- lookups -----------------------------------------------------------------------------
    @cached_property
    def timezone(self) -> dt.timezone:
        """The jurisdiction's local time (``calendar.yaml``'s ``timezone``; UTC without one):
        what "today", "this year" and deadlines are counted in."""
        if self.calendar is None:
            return dt.UTC
        return dt.timezone(self.calendar.utc_offset(), self.calendar.timezone)

    @cached_property
    def instruments(self) -> dict[str, Instrument]:
        return {i.id: i for i in self.header.instruments}

    @cached_property
    def _names(self) -> dict[str, FieldMapping]:
        out: dict[str, FieldMapping] = {}
        for mapping in self.fields:
            for name in mapping.names:
                out.setdefault(name.casefold(), mapping)
        return out

    @cached_property
    def _patterns(self) -> list[tuple[re.Pattern[str], FieldMapping]]:
        return [
            (re.compile(m.pattern, re.IGNORECASE), m) for m in self.fields if m.pattern is not None
        ]

    @cached_property
    def _rules(self) -> dict[str, RuleInfo]:
        out: dict[str, RuleInfo] = {}
        for key, cat in self.categories.items():
            rid = self.category_rule_id(key)
            out[rid] = RuleInfo(
                rid, Level.parse(cat.level), self.legal_ref(cat.ref), cat.description
            )
        rules: list[RecordRule | DatasetRule] = [*self.record_rules, *self.dataset_rules]
        for rule in rules:
            out[rule.id] = RuleInfo(
                rule.id, Level.parse(rule.level), self.legal_ref(rule.ref), rule.description
            )
        return out

    def legal_ref(self, ref: Any) -> LegalRef:
        return to_legal_ref(ref, self.instruments)

    def level_of(self, category: str) -> Level:
        """The default level of a category."""
        return Level.parse(self.categories[category].level)

    def category_rule_id(self, category: str) -> str:
        """The reason id a row carries because it holds a field of ``category``."""
        return f"{self.name}/category/{category}"

    def rule(self, rule_id: str) -> RuleInfo:
        """Resolve a reason id (a rule or a category reason) to its level, reference, sentence."""
        try:
            return self._rules[rule_id]
        except KeyError:
            raise KeyError(f"pack {self.name!r} has no rule {rule_id!r}") from None

    def rule_ids(self) -> list[str]:
        return [r.id for r in self.record_rules] + [r.id for r in self.dataset_rules]

    def subject_kind(self, category: str | None) -> str | None:
        """``"person"`` or ``"vehicle"`` for a category that names a data subject, else None.

        >>> pack = load_pack("cn-auto")
        >>> [pack.subject_kind(c) for c in ("person.identity.account_id", "vehicle.identity.vin")]
        ['person', 'vehicle']
        """
        settings = self.header.settings
        if category in settings.person_subject_categories:
            return "person"
        if category in settings.subject_categories:
            return "vehicle"
        return None

    def is_within(self, category: str, ancestor: str) -> bool:
        """True when ``category`` is ``ancestor`` or one of its descendants."""
        key: str | None = category
        while key is not None:
            if key == ancestor:
                return True
            key = self.categories[key].parent
        return False

    def resolve_field(self, name: str) -> FieldLabel:
        """The category, level and role the pack gives a column name.

        Exact names (case-insensitive) win over patterns; patterns are tried in file order.
        An unknown field gets no category and the pack's ``unknown_field_level``.
        """
        mapping = self._names.get(name.casefold())
        matched_by = "name"
        if mapping is None:
            for regex, candidate in self._patterns:
                if regex.search(name):
                    mapping, matched_by = candidate, f"pattern:{candidate.pattern}"
                    break
        if mapping is None:
            level = Level.parse(self.header.settings.unknown_field_level)
            return FieldLabel(name=name, category=None, level=level, role=None, matched_by="")
        return FieldLabel(
            name=name,
            category=mapping.category,
            level=self.level_of(mapping.category),
            role=mapping.role,
            matched_by=matched_by,
        )

    def profile(self, name_or_path: str | Path) -> Profile:
        """A desensitization profile of the pack by name, or a user's profile file (YAML with
        ``profiles:``, or one profile) checked against this pack.

        >>> load_pack("cn-auto").profile("export-default").promise.level
        'sensitive_personal'
        """
        if str(name_or_path) in self.profiles:
            return self.profiles[str(name_or_path)]
        path = Path(name_or_path)
        if not path.is_file():
            raise PackError(
                f"no profile {str(name_or_path)!r}: not a file and not a profile of pack "
                f"{self.name!r} (profiles: {', '.join(self.profiles) or 'none'})"
            )
        try:
            raw = _load_yaml(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise PackError(f"not valid YAML: {exc}", file=str(path)) from exc
        if isinstance(raw, dict) and "profiles" not in raw:
            raw = {"profiles": [raw]}
        found = _profiles(path, self, _validate(path, raw, ProfileFile))
        if len(found) != 1:
            raise PackError("a profile file given alone must hold one profile", file=str(path))
        return next(iter(found.values()))

    def area_buffers(self) -> dict[str, float]:
        """Default buffer in metres per sensitive-area kind."""
        return {k: kind.buffer_m for k, kind in self.area_kinds.items()}


# -- loading ---------------------------------------------------------------------------------
def _locate(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.is_dir():
        return candidate
    builtin = BUILTIN_DIR / str(name_or_path).replace("-", "_")
    if builtin.is_dir() and (builtin / "pack.yaml").exists():
        return builtin
    shipped = sorted(
        p.name.replace("_", "-") for p in BUILTIN_DIR.iterdir() if (p / "pack.yaml").exists()
    )
    raise PackError(
        f"no policy pack {str(name_or_path)!r}: not a directory and not a shipped pack "
        f"(shipped: {', '.join(shipped)})"
    )


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _read(path: Path, model: type[M]) -> M:
    try:
        raw = _load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackError("file is missing from the pack", file=str(path)) from None
    except yaml.YAMLError as exc:
        raise PackError(f"not valid YAML: {exc}", file=str(path)) from exc
    return _validate(path, raw, model)


def _profiles(path: Path, pack: Pack, file: ProfileFile) -> dict[str, Profile]:
    return check_profiles(
        file.profiles,
        categories=pack.categories,
        rule_ids=pack.rule_ids(),
        area_kinds=pack.area_kinds,
        file=str(path),
    )


def _validate(path: Path, raw: Any, model: type[M]) -> M:
    if not isinstance(raw, dict):
        raise PackError("expected a mapping at the top level", file=str(path))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PackError(f"{first['msg']}{more}", file=str(path), field=_loc(first["loc"])) from None


def load_pack(name_or_path: str | Path = "cn-auto", *, profiles: bool = True) -> Pack:
    """Load and validate a policy pack: a shipped name (``"cn-auto"``) or a directory.

    Raises :class:`~onshore.errors.PackError` naming the file and the key on any problem.
    With ``profiles=False`` the desensitization profiles (``profiles.yaml``) are read and
    checked on the first use of :attr:`Pack.profiles` instead: a command that never
    desensitizes (``onshore scan``) does not pay for them at start-up, and a problem in them is
    raised, as the same :class:`~onshore.errors.PackError`, by what uses them.

    >>> pack = load_pack("cn-auto", profiles=False)
    >>> pack.profiles.loaded
    False
    >>> "export-default" in pack.profiles, pack.profiles.loaded
    (True, True)
    """
    root = _locate(name_or_path)
    header = _read(root / "pack.yaml", PackHeader)
    taxonomy = _read(root / "taxonomy.yaml", Taxonomy)
    fieldmap = _read(root / "fields.yaml", FieldMap)
    kinds = _read(root / "areas.yaml", AreaKinds)
    rules = _read(root / "rules.yaml", Rules)
    optional = {
        name: _read(root / name, model) if (root / name).exists() else None
        for name, model in OPTIONAL_FILES.items()
    }
    extra = {}
    for path in sorted(root.glob("*.yaml")):
        if path.name not in FILES and path.name not in OPTIONAL_FILES:
            raw = _load_yaml(path.read_text(encoding="utf-8"))
            extra[path.stem] = raw
    _check(root, header, taxonomy, fieldmap, kinds, rules)
    pack = Pack(
        name=header.name,
        version=header.version,
        jurisdiction=header.jurisdiction,
        path=root,
        header=header,
        categories={c.key: c for c in taxonomy.categories},
        fields=tuple(fieldmap.fields),
        area_kinds={k.key: k for k in kinds.area_kinds},
        record_rules=tuple(rules.record_rules),
        dataset_rules=tuple(rules.dataset_rules),
        extra=extra,
        bases=optional["bases.yaml"],  # type: ignore[arg-type]
        retention=optional["retention.yaml"],  # type: ignore[arg-type]
        calendar=optional["calendar.yaml"],  # type: ignore[arg-type]
    )

    def need_category(key: str, file: str, where: str) -> None:
        if key not in pack.categories:
            raise PackError(f"unknown category {key!r}", file=str(root / file), field=where)

    check_bases(pack, pack.bases, pack.retention, pack.calendar, need_category)
    if (root / "profiles.yaml").exists():
        if not profiles:
            return dataclasses.replace(pack, profiles=LazyProfiles(root / "profiles.yaml"))
        file = _read(root / "profiles.yaml", ProfileFile)
        pack = dataclasses.replace(pack, profiles=_profiles(root / "profiles.yaml", pack, file))
    return pack


class LazyProfiles(Mapping[str, Profile]):
    """A pack's profiles, read from ``path`` and checked against the pack on first use.

    The mapping belongs to the :class:`Pack` that holds it (:func:`load_pack` binds it); it
    pickles and compares as the plain mapping it stands for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pack: Pack | None = None
        self._profiles: dict[str, Profile] | None = None

    @property
    def loaded(self) -> bool:
        return self._profiles is not None

    def _bind(self, pack: Pack) -> None:
        self._pack = pack

    def _get(self) -> dict[str, Profile]:
        if self._profiles is None:
            assert self._pack is not None, "LazyProfiles used outside its pack"
            file = _read(self.path, ProfileFile)
            self._profiles = _profiles(self.path, self._pack, file)
        return self._profiles

    def __getitem__(self, key: str) -> Profile:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (self._get(),))

    def __repr__(self) -> str:
        return repr(self._get()) if self.loaded else f"LazyProfiles({str(self.path)!r})"


def _check(
    root: Path,
    header: PackHeader,
    taxonomy: Taxonomy,
    fieldmap: FieldMap,
    kinds: AreaKinds,
    rules: Rules,
) -> None:
    """Cross-file references: every name used must be declared."""
    instruments = {i.id for i in header.instruments}
    keys: dict[str, int] = {}
    tax = str(root / "taxonomy.yaml")
    for i, cat in enumerate(taxonomy.categories):
        if cat.key in keys:
            raise PackError(
                f"duplicate category {cat.key!r}", file=tax, field=f"categories[{i}].key"
            )
        keys[cat.key] = i
    for i, cat in enumerate(taxonomy.categories):
        if cat.parent is not None and cat.parent not in keys:
            raise PackError(
                f"unknown parent {cat.parent!r}", file=tax, field=f"categories[{i}].parent"
            )
        if cat.parent is not None and not cat.key.startswith(cat.parent + "."):
            raise PackError(
                f"key {cat.key!r} must extend its parent {cat.parent!r}",
                file=tax,
                field=f"categories[{i}].key",
            )
        if cat.parent is None and "." in cat.key:
            raise PackError(
                f"{cat.key!r} is dotted but has no parent",
                file=tax,
                field=f"categories[{i}].parent",
            )
        if cat.replaced_by is not None and cat.replaced_by not in keys:
            raise PackError(
                f"unknown category {cat.replaced_by!r}",
                file=tax,
                field=f"categories[{i}].replaced_by",
            )
        if cat.ref.instrument not in instruments:
            raise PackError(
                f"unknown instrument {cat.ref.instrument!r} (declared in pack.yaml: "
                f"{', '.join(sorted(instruments))})",
                file=tax,
                field=f"categories[{i}].ref.instrument",
            )

    def need_category(key: str, file: str, where: str) -> None:
        if key not in keys:
            raise PackError(f"unknown category {key!r}", file=str(root / file), field=where)

    settings = header.settings
    for j, key in enumerate(settings.subject_categories):
        need_category(key, "pack.yaml", f"settings.subject_categories[{j}]")
    for j, key in enumerate(settings.person_subject_categories):
        where = f"settings.person_subject_categories[{j}]"
        need_category(key, "pack.yaml", where)
        if key not in settings.subject_categories:
            raise PackError(
                f"{key!r} names a person but is not one of settings.subject_categories",
                file=str(root / "pack.yaml"),
                field=where,
            )
    need_category(settings.vehicle_category, "pack.yaml", "settings.vehicle_category")
    for i, mapping in enumerate(fieldmap.fields):
        need_category(mapping.category, "fields.yaml", f"fields[{i}].category")
    kind_keys = set()
    for i, kind in enumerate(kinds.area_kinds):
        if kind.key in kind_keys:
            raise PackError(
                f"duplicate area kind {kind.key!r}",
                file=str(root / "areas.yaml"),
                field=f"area_kinds[{i}].key",
            )
        kind_keys.add(kind.key)
        if kind.ref.instrument not in instruments:
            raise PackError(
                f"unknown instrument {kind.ref.instrument!r}",
                file=str(root / "areas.yaml"),
                field=f"area_kinds[{i}].ref.instrument",
            )
    sections: list[tuple[str, Sequence[RecordRule | DatasetRule]]] = [
        ("record_rules", rules.record_rules),
        ("dataset_rules", rules.dataset_rules),
    ]
    for section, rule_list in sections:
        for i, rule in enumerate(rule_list):
            where = f"{section}[{i}]"
            if rule.ref.instrument not in instruments:
                raise PackError(
                    f"unknown instrument {rule.ref.instrument!r}",
                    file=str(root / "rules.yaml"),
                    field=f"{where}.ref.instrument",
                )
            cond = rule.when.model_dump()
            for cond_key in ("categories_any", "positive_any", "missing_all"):
                for j, key in enumerate(cond.get(cond_key) or []):
                    need_category(key, "rules.yaml", f"{where}.when.{cond_key}[{j}]")
            for j, kind_key in enumerate(cond.get("in_area_kind") or []):
                if kind_key not in kind_keys:
                    raise PackError(
                        f"unknown area kind {kind_key!r} (declared in areas.yaml: "
                        f"{', '.join(sorted(kind_keys))})",
                        file=str(root / "rules.yaml"),
                        field=f"{where}.when.in_area_kind[{j}]",
                    )
