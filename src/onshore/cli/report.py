"""``onshore report`` and ``onshore notice``: the annual report, its verification, the notice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from onshore.cli._common import err_console, out_console, print_json
from onshore.cli.store import home_options, open_home
from onshore.config import load_config
from onshore.errors import IntegrityError
from onshore.store import DataHome

LANG = click.Choice(["zh", "en"])


def _config_option(func: Any) -> Any:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="Processor configuration (default: HOME/config.yaml).",
    )(func)


def _this_year(home: DataHome) -> int:
    from onshore.app.report import report_year

    return report_year(home)


@click.group("report", invoke_without_command=True)
@click.option(
    "--year", type=int, help="The year reported on (default: this year, in the pack's time zone)."
)
@click.option("--lang", type=LANG, default="zh", show_default=True, help="Chinese or English.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "pdf", "md"]),
    default="html",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default: annual-report-YEAR-LANG.FORMAT in the current folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@_config_option
@home_options
@click.pass_context
def report(
    ctx: click.Context,
    year: int | None,
    lang: str,
    fmt: str,
    out: Path | None,
    as_json: bool,
    config_path: str | None,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """The annual automotive data security report (Provisions 2021, Arts. 13 and 14).

    Built from what the data home recorded: the ledger (collection, storage, provision, exports,
    incidents, complaints), the lake, the metadata database, the pack and HOME/config.yaml.
    Every table carries the query behind it and the ledger's signed tree head is embedded, so
    `onshore report verify FILE` can recompute every figure. The report is due by 15 December:
    a later date is flagged in the report and on stderr; `onshore report due` lists what is
    missing to file.

    \b
    Example:
      onshore report --year 2026 --lang zh --format pdf --out report-2026.pdf
      onshore report verify report-2026.pdf
      onshore report due --year 2026
    """
    if ctx.invoked_subcommand is not None:
        return
    from onshore.app import report as use_case

    with open_home(home, db, actor) as data_home:
        config = load_config(config_path, home=data_home.path)
        built = use_case.render(data_home, year, lang=lang, fmt=fmt, config=config)
    target = out or Path(f"annual-report-{built.year}-{lang}.{fmt}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(built.content)
    summary = {"path": str(target), **built.summary()}
    if as_json:
        print_json(summary)
        return
    for warning in built.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    out_console.print(
        f"wrote {target} ({len(built.content):,} bytes, {fmt}, {lang}): year {built.year}, "
        f"ledger size {summary['tree_size']}, {len(summary['tables'])} tables"
    )


@report.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_config_option
@home_options
def verify(
    file: Path,
    as_json: bool,
    config_path: str | None,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Recompute every figure of a report against the data home; exit 3 on any difference.

    Checks that the embedded signed tree head is signed by the ledger's key and held by the
    ledger, that every table equals a fresh run of its query over that ledger prefix and the
    metadata as of the report's time, and that the visible document is the rendering of the
    embedded figures.

    \b
    Example:
      onshore report verify annual-report-2026-zh.pdf
    """
    from onshore.app import report as use_case

    with open_home(home, db, actor) as data_home:
        config = load_config(config_path, home=data_home.path)
        result = use_case.verify(data_home, file.read_bytes(), config=config)
    if as_json:
        print_json({"file": str(file), "ok": result.ok, **_result_dict(result)})
    elif result.ok:
        out_console.print(f"{file}: ok, {len(result.checked)} tables recomputed and equal")
    if not result.ok:
        if not as_json:
            for problem in result.problems:
                err_console.print(f"[red]mismatch:[/] {problem}", highlight=False)
        raise IntegrityError(
            f"{file}: {len(result.problems)} problem(s); the report does not verify"
        )


def _result_dict(result: Any) -> dict[str, Any]:
    return {"checked": list(result.checked), "problems": list(result.problems)}


@report.command("due")
@click.option("--year", type=int, help="The year to file (default: this year, UTC+8).")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@_config_option
@home_options
def due(
    year: int | None,
    as_json: bool,
    config_path: str | None,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """What is missing or overdue before the annual report can be filed (due 15 December).

    Lists unconfigured processor settings, every gap the report would show (open incidents and
    complaints, rows past retention, a missing risk assessment while important data is held,
    exports that do not declare their use abroad), an empty ledger or lake, and a passed
    deadline. Exit 0 either way; the list is empty when all is in order.

    \b
    Example:
      onshore report due --year 2026
    """
    from onshore.report import missing_to_file

    with open_home(home, db, actor) as data_home:
        year = year or _this_year(data_home)
        config = load_config(config_path, home=data_home.path)
        missing = missing_to_file(data_home, config, year)
    deadline = dt.date(year, 12, 15).isoformat()
    if as_json:
        print_json({"year": year, "deadline": deadline, "missing": missing})
        return
    if not missing:
        out_console.print(f"{year}: nothing missing; file by {deadline}")
        return
    out_console.print(f"{year}: {len(missing)} item(s) to settle before filing (due {deadline}):")
    for item in missing:
        out_console.print(f"  - {item}", highlight=False)


@report.group("risk", invoke_without_command=True)
@click.option(
    "--year", type=int, help="The year assessed (default: this year, in the pack's time zone)."
)
@click.option(
    "--lang",
    "langs",
    type=LANG,
    multiple=True,
    help="Language of a document; repeat for both (default: zh and en).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "pdf", "md"]),
    default="html",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder the documents are written to (risk-assessment-ID-LANG.FORMAT).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@_config_option
@home_options
@click.pass_context
def risk(
    ctx: click.Context,
    year: int | None,
    langs: tuple[str, ...],
    fmt: str,
    out: Path,
    as_json: bool,
    config_path: str | None,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """The risk assessment of important-data processing (Provisions 2021, Art. 10).

    Generated from the ledger and the lake with the annual report's own figures: the scope,
    the types and volume of important data (by rule and area kind), where it is stored, the
    third parties and recipients abroad (with what each export declared of its use abroad),
    and each risk with its measures and status. The assessment is recorded on the ledger with
    the SHA-256 of its data block; the annual report cites the latest of its year, and
    `onshore report due` lists a missing one while important data is held. Due with the annual
    report, by 15 December (docs/report.md says why).

    \b
    Example:
      onshore report risk --year 2026 --format pdf --out assessments/
      onshore report risk list --year 2026
      onshore report risk verify assessments/risk-assessment-RA-2026-1a2b3c4d-zh.pdf
    """
    if ctx.invoked_subcommand is not None:
        return
    from onshore.report.risk import make_assessment

    with open_home(home, db, actor) as data_home:
        year = year or _this_year(data_home)
        config = load_config(config_path, home=data_home.path)
        made = make_assessment(data_home, config, year, langs=langs or ("zh", "en"), fmt=fmt)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for document in made.documents:
        target = out / f"risk-assessment-{made.id}-{document.lang}.{document.fmt}"
        target.write_bytes(document.content)
        paths.append({"path": str(target), "lang": document.lang, "sha256": document.sha256})
    open_risks = sum(1 for r in made.data["tables"]["risks"]["rows"] if r[2] == "open")
    summary = {
        "id": made.id,
        "year": year,
        "as_of": made.data["as_of"],
        "due": made.data["due"],
        "digest": made.digest,
        "ledger_index": made.ledger_index,
        "open_risks": open_risks,
        "documents": paths,
    }
    if as_json:
        print_json(summary)
        return
    for p in paths:
        out_console.print(f"wrote {p['path']}", highlight=False)
    out_console.print(
        f"risk assessment {made.id} of {year}: {open_risks} open risk(s); digest "
        f"{made.digest[:16]}… recorded at ledger index {made.ledger_index}; due {made.data['due']}",
        highlight=False,
    )


@risk.command("list")
@click.option("--year", type=int, help="Only the assessments of this year.")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@home_options
def risk_list(
    year: int | None, as_json: bool, home: Path | None, db: str | None, actor: str
) -> None:
    """Every risk assessment recorded on the ledger, oldest first: id, year, time, digest.

    \b
    Example:
      onshore report risk list --year 2026
    """
    from onshore.report.risk import history

    with open_home(home, db, actor) as data_home:
        rows = history(data_home, year)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out_console.print("no risk assessment on the ledger" + (f" for {year}" if year else ""))
        return
    for r in rows:
        langs = ",".join(d.get("lang", "?") for d in r["documents"])
        out_console.print(
            f"{r['id']}  year {r['year']}  as of {r['as_of']}  open risks {r['open_risks']}  "
            f"ledger #{r['index']}  sha256 {r['digest']}  ({langs})",
            highlight=False,
        )


@risk.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_config_option
@home_options
def risk_verify(
    file: Path,
    as_json: bool,
    config_path: str | None,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """Recompute a risk assessment against the data home; exit 3 on any difference.

    Checks the signed tree head, every table, that the ledger recorded this assessment's id
    with this digest, and that the visible document is the rendering of its figures.

    \b
    Example:
      onshore report risk verify risk-assessment-RA-2026-1a2b3c4d-zh.html
    """
    from onshore.report.risk import verify_assessment

    with open_home(home, db, actor) as data_home:
        config = load_config(config_path, home=data_home.path)
        result = verify_assessment(data_home, config, file.read_bytes())
    if as_json:
        print_json({"file": str(file), "ok": result.ok, **_result_dict(result)})
    elif result.ok:
        out_console.print(f"{file}: ok, {len(result.checked)} tables recomputed and equal")
    if not result.ok:
        if not as_json:
            for problem in result.problems:
                err_console.print(f"[red]mismatch:[/] {problem}", highlight=False)
        raise IntegrityError(
            f"{file}: {len(result.problems)} problem(s); the assessment does not verify"
        )


@click.command("notice")
@click.option("--lang", type=LANG, default="zh", show_default=True, help="Chinese or English.")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default: standard output).",
)
@_config_option
@home_options
def notice(
    lang: str,
    fmt: str,
    out: Path | None,
    config_path: str | None,
    home: Path | None,
    db: str | None,
    actor: str,
) -> None:
    """The privacy notice (Provisions 2021, Art. 7), from the pack and the data home.

    For every category of personal information: when it is collected and how to stop it, the
    purposes, where it is stored and for how long, how to have it deleted, and whom to contact.

    \b
    Example:
      onshore notice --lang zh --format html --out notice.zh.html
    """
    from onshore.report import render_notice

    with open_home(home, db, actor) as data_home:
        config = load_config(config_path, home=data_home.path)
        text = render_notice(data_home, config, lang=lang, fmt=fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    out_console.print(f"wrote {out} ({lang}, {fmt})")
