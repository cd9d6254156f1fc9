"""``onshore pack``: the policy pack's rules and the legal texts they implement."""

from __future__ import annotations

from pathlib import Path

import click

from onshore.cli._common import out_console, print_json


@click.group("pack")
def pack() -> None:
    """The policy pack: each rule, the legal text it rests on, its test vectors.

    \b
    Example:
      onshore pack explain cn-auto/transfer/ciio
    """


@pack.command("explain")
@click.argument("rule_id")
@click.option(
    "--pack",
    "pack_name",
    default="cn-auto",
    show_default=True,
    help="A shipped pack name or a pack directory.",
)
@click.option(
    "--vectors",
    "vectors",
    type=click.Path(path_type=Path, file_okay=False),
    multiple=True,
    help="Folders to search for test vectors and tests naming the rule "
    "(default: ./tests and the source checkout's tests).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain(rule_id: str, pack_name: str, vectors: tuple[Path, ...], as_json: bool) -> None:
    """Print RULE_ID, the legal text reference it implements and its test vectors.

    \b
    Example:
      onshore pack explain cn-auto/important/people-flow-sensitive-area
      onshore pack explain cn-auto/consent/sensitive-purpose --json
    """
    import onshore
    from onshore.errors import BadInput
    from onshore.packs import load_pack
    from onshore.packs.explain import explain_rule, vectors_for

    loaded = load_pack(pack_name)
    try:
        info = explain_rule(loaded, rule_id)
    except KeyError as exc:
        raise BadInput(str(exc.args[0]), field="RULE_ID") from None
    roots = list(vectors) or _default_roots(Path(onshore.__file__))
    found = vectors_for(rule_id, roots)
    if as_json:
        print_json(info.to_dict() | {"vectors": [{"file": f, "title": t} for f, t in found]})
        return
    ref = info.ref
    out_console.print(
        f"[bold]{info.rule_id}[/]  ({info.kind}{', ' + info.level if info.level else ''})"
    )
    out_console.print(info.description, markup=False)
    out_console.print(f"Legal text: {ref.title} — {ref.article}", markup=False)
    out_console.print(
        f"Confidence: {ref.confidence}" + (f" ({ref.note})" if ref.note else ""), markup=False
    )
    if info.url:
        out_console.print(f"Source: {info.url}", markup=False)
    out_console.print(f"Vectors ({len(found)}):")
    for file, title in found:
        out_console.print(f"  {file}: {title}", markup=False)


def _default_roots(package_file: Path) -> list[Path]:
    roots = [Path.cwd() / "tests", package_file.resolve().parents[2] / "tests"]
    out: list[Path] = []
    for root in roots:
        if root.is_dir() and root.resolve() not in [r.resolve() for r in out]:
            out.append(root)
    return out
