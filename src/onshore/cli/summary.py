"""Human-readable summaries of an assessment, printed with rich."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onshore.model import Assessment, Level

if TYPE_CHECKING:
    from rich.console import Console

    from onshore.packs import Pack

LEVEL_STYLE = {
    "general": "green",
    "personal": "yellow",
    "sensitive_personal": "dark_orange",
    "important": "bold red",
}


def print_assessment(
    console: Console, assessment: Assessment, pack: Pack, *, quarantine: str | None = None
) -> None:
    """The summary a compliance engineer reads first: level, scale, categories, rules, warnings."""
    from rich.table import Table  # here: a command printing JSON never imports rich

    a = assessment
    style = LEVEL_STYLE[a.level.label]
    console.rule(f"[bold]{a.source or 'input'}[/]  ·  pack {a.pack}")
    console.print(f"Dataset level: [{style}]{a.level.label.upper()}[/]")
    line = f"Rows: {a.rows:,} classified"
    if a.rows_quarantined:
        line += f", [red]{a.rows_quarantined:,} quarantined[/]"
        if quarantine:
            line += f" → {quarantine}"
    console.print(line)
    if a.subject_field:
        vehicles = f"; vehicles: {a.distinct_vehicles:,}" if a.distinct_vehicles is not None else ""
        console.print(
            f"Data subjects: {a.distinct_subjects:,} distinct (by '{a.subject_field}'){vehicles}"
        )
    else:
        console.print("Data subjects: no identifier column (use --subject COLUMN to name one)")
    if a.areas_source:
        console.print(
            f"Sensitive areas: {a.areas_count} from {a.areas_source}; "
            f"{a.rows_in_areas:,} rows inside or within a buffer, in {len(a.areas_hit)} areas"
        )

    levels = Table(title="Rows by level", title_justify="left")
    levels.add_column("level")
    levels.add_column("rows", justify="right")
    levels.add_column("share", justify="right")
    for label, count in a.rows_per_level.items():
        share = f"{100 * count / a.rows:.1f}%" if a.rows else "-"
        levels.add_row(f"[{LEVEL_STYLE[label]}]{label}[/]", f"{count:,}", share)
    console.print(levels)

    cats = Table(title="Categories (columns and non-null rows)", title_justify="left")
    cats.add_column("category")
    cats.add_column("level")
    cats.add_column("columns")
    cats.add_column("rows", justify="right")
    by_category: dict[str, list[str]] = {}
    for f in a.fields:
        by_category.setdefault(f.category or "(unknown)", []).append(f.name)
    for key, names in sorted(by_category.items(), key=lambda kv: kv[0]):
        level = (
            pack.level_of(key).label
            if key in pack.categories
            else pack.header.settings.unknown_field_level
        )
        cols = ", ".join(names)
        if len(cols) > 60:
            cols = cols[:57] + "..."
        cats.add_row(
            key, f"[{LEVEL_STYLE[level]}]{level}[/]", cols, f"{a.rows_per_category.get(key, 0):,}"
        )
    console.print(cats)

    findings = [*a.record_findings, *a.dataset_findings]
    if findings:
        rules = Table(title="Rules that fired", title_justify="left")
        rules.add_column("rule")
        rules.add_column("level")
        rules.add_column("rows", justify="right")
        rules.add_column("legal reference")
        for rf in a.record_findings:
            rules.add_row(
                rf.rule_id,
                f"[{LEVEL_STYLE[rf.level.label]}]{rf.level.label}[/]",
                f"{rf.count:,}",
                str(rf.ref),
            )
        for df in a.dataset_findings:
            figures = ", ".join(
                f"{k}={v}" for k, v in df.figures.items() if k != "rows_per_category"
            )
            rules.add_row(
                df.rule_id,
                f"[{LEVEL_STYLE[df.level.label]}]{df.level.label}[/]",
                "dataset" + (f" ({figures})" if figures else ""),
                str(df.ref),
            )
        console.print(rules)
    else:
        console.print("Rules that fired: none beyond the categories' own levels")
    if a.unknown_fields:
        console.print(
            f"[yellow]Unknown fields[/] ({len(a.unknown_fields)}): {', '.join(a.unknown_fields)} "
            f"— kept, treated as {pack.header.settings.unknown_field_level} until mapped"
        )
    if a.areas_hit:
        top = sorted(a.areas_hit.items(), key=lambda kv: -kv[1])[:5]
        console.print("Top areas: " + ", ".join(f"{k} ({v:,})" for k, v in top))
    for warning in a.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if a.level >= Level.IMPORTANT:
        console.print(
            "[bold red]Important data:[/] store in China; export only after a CAC security "
            "assessment (Provisions 2021 Art. 11)."
        )
