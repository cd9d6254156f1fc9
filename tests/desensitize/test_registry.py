"""The operator registry: built-ins and outside operators alike, validated when profiles load.

Every registered operator has test vectors (run here through the Arrow core, and in
tests/spark through the Spark adapter) and a line in docs/operators.md.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

import onshore
from onshore.desensitize import Operator, Resources, Selector, register_operator, registry
from onshore.desensitize.layout import Layout
from onshore.desensitize.operators.base import set_column
from onshore.errors import PackError
from onshore.packs import Pack

from .vectors import VECTORS, Case, expected, load_cases, rows, run_core

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operators.md"
CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_vector(case: Case, pack: onshore.Pack) -> None:
    assert rows(run_core(case, pack)) == expected(case)


def test_every_operator_has_vectors_and_a_line_in_the_docs() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    covered = {c.op for c in CASES}
    for name in registry.registered_operators():
        assert name in covered, f"no vectors for operator {name!r} in {VECTORS / 'desensitize'}"
        assert f"| `{name}` |" in docs, f"operator {name!r} has no line in {DOCS.name}"


# -- an operator from outside ------------------------------------------------------------------
class UpperParams(Selector):
    """Upper-case the selected text columns."""


class Upper(Operator):
    NAME = "upper"
    params: UpperParams

    def __init__(self, params: UpperParams, pack: Pack) -> None:
        super().__init__(params)
        self.pack = pack
        self.targets: tuple[str, ...] = ()

    @classmethod
    def build(cls, params: UpperParams, resources: Resources) -> Upper:
        return cls(params, resources.pack)

    def bind(self, layout: Layout) -> Layout:
        self.targets = layout.select(self.pack, self.params.categories, self.params.fields)
        return layout.with_handled(self.targets)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        for name in self.targets:
            batch = set_column(batch, name, pc.utf8_upper(batch.column(name)))
        return batch


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry that has loaded nothing yet (restored after the test)."""
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_LOADED_HOOKS", set())
    monkeypatch.setattr(registry, "_builtins_loaded", False)
    monkeypatch.setattr(registry, "_plugins_loaded", False)


def _profile_file(tmp_path: Path, *steps: dict[str, Any]) -> Path:
    file = tmp_path / "mine.yaml"
    profile = {"name": "mine", "promise": {"level": "important"}, "steps": list(steps)}
    file.write_text(yaml.safe_dump({"profiles": [profile]}))
    return file


def _upper_run(pack: onshore.Pack, tmp_path: Path) -> pa.Table:
    file = _profile_file(
        tmp_path, {"op": "upper", "fields": ["note"]}, {"op": "drop", "fields": ["x"]}
    )
    profile = pack.profile(file)
    assert isinstance(profile.steps[0].params, Selector)
    table, report = onshore.desensitize(
        pa.table({"note": ["abc", None], "x": [1, 2]}), profile, pack=pack
    )
    assert [o.op for o in report.operators] == ["upper", "drop"]
    return table


@pytest.mark.usefixtures("fresh_registry")
def test_an_operator_registered_by_the_public_call_is_accepted_and_runs(
    pack: onshore.Pack, tmp_path: Path
) -> None:
    spec = register_operator(Upper.NAME, UpperParams, Upper.build)
    assert registry.operator_spec("upper") is spec
    assert _upper_run(pack, tmp_path).to_pydict() == {"note": ["ABC", None]}


PLUGIN = '''
import pyarrow.compute as pc
from onshore.desensitize import Operator, Selector, register_operator
from onshore.desensitize.operators.base import set_column


class ShoutParams(Selector):
    """Upper-case the selected columns."""


class Shout(Operator):
    NAME = "upper"

    def __init__(self, params, pack):
        super().__init__(params)
        self.pack, self.targets = pack, ()

    @classmethod
    def build(cls, params, resources):
        return cls(params, resources.pack)

    def bind(self, layout):
        self.targets = layout.select(self.pack, self.params.categories, self.params.fields)
        return layout.with_handled(self.targets)

    def transform(self, batch):
        for name in self.targets:
            batch = set_column(batch, name, pc.utf8_upper(batch.column(name)))
        return batch


def register():
    register_operator(Shout.NAME, ShoutParams, Shout.build)
'''


def _install(site: Path, module: str, source: str, entry: str) -> None:
    """A real distribution on ``site``: the module, and a dist-info with its entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[onshore.operators]\nupper = {entry}\n")


@pytest.mark.usefixtures("fresh_registry")
def test_an_operator_from_an_entry_point_is_accepted_and_runs(
    pack: onshore.Pack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "onshore_shout", PLUGIN, "onshore_shout:register")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "onshore_shout", raising=False)
    assert "onshore_shout" not in sys.modules  # not loaded until an operator is looked up
    assert _upper_run(pack, tmp_path).to_pydict() == {"note": ["ABC", None]}
    assert type(registry.operator_spec("upper")).__name__ == "OperatorSpec"
    assert "onshore_shout" in sys.modules
    monkeypatch.delitem(sys.modules, "onshore_shout")


@pytest.mark.usefixtures("fresh_registry")
def test_a_broken_plugin_is_a_pack_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(tmp_path, "onshore_broken", "raise ImportError('no numpy 9')\n", "onshore_broken:x")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PackError, match=r"operator plugin 'upper' \(onshore_broken:x\).*numpy 9"):
        registry.operator_spec("drop")


@pytest.mark.usefixtures("fresh_registry")
def test_a_name_registers_once_and_the_model_must_be_operator_params() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register_operator("drop", UpperParams, Upper.build)
    with pytest.raises(ValueError, match="lower_snake_case"):
        registry.register_operator("Upper-Case", UpperParams, Upper.build)
    with pytest.raises(TypeError, match="OperatorParams"):
        registry.register_operator("upper", pa.Table, Upper.build)  # type: ignore[type-var]


@pytest.mark.usefixtures("fresh_registry")
def test_an_operator_whose_name_is_not_its_registered_one_is_refused(
    pack: onshore.Pack, tmp_path: Path
) -> None:
    registry.register_operator("upper_case", UpperParams, Upper.build)
    profile = pack.profile(_profile_file(tmp_path, {"op": "upper_case", "fields": ["note"]}))
    with pytest.raises(TypeError, match="whose NAME is not 'upper_case'"):
        onshore.Desensitizer(profile, pack)


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        (
            [{"op": "drop", "fields": ["x"]}, {"op": "upper"}],
            "steps[1].op",
            "unknown operator 'upper'",
        ),
        ([{"fields": ["x"]}], "steps[0].op", "name the operator (registered: aggregate, bucket"),
        ([{"op": "round", "fields": ["x"], "step": -1}], "steps[0].step", "greater than 0"),
        ([{"op": "round", "fields": ["x"], "step": 1, "stpe": 2}], "steps[0].stpe", "Extra inputs"),
        ([{"op": "bucket", "fields": ["x"], "edges": [2, 1]}], "steps[0]", "strictly increasing"),
        (
            [{"op": "pseudonymize", "fields": ["vin"], "scope": "trip"}],
            "",
            "steps[0]: scope 'trip' needs a 'trips' step before it",
        ),
        ([{"op": "drop"}], "steps[0]", "name at least one of 'categories' or 'fields'"),
        (["drop"], "steps[0]", "a step is a mapping"),
    ],
)
def test_an_unknown_operator_or_bad_parameters_name_file_profile_step_and_key(
    pack: onshore.Pack, tmp_path: Path, steps: list[Any], field: str, words: str
) -> None:
    with pytest.raises(PackError) as err:
        pack.profile(_profile_file(tmp_path, *steps))
    assert err.value.file is not None and err.value.file.endswith("mine.yaml")
    assert err.value.field == f"profiles[0].{field}".rstrip(".")
    assert words in err.value.message


def test_steps_dump_flat_as_a_profile_file_writes_them(pack: onshore.Pack) -> None:
    profile = pack.profile("export-default")
    dumped = profile.model_dump(mode="json")
    assert dumped["steps"][4] == {"op": "bucket_time", "every_s": 900, "fields": []}
    assert type(profile).model_validate(dumped) == profile
