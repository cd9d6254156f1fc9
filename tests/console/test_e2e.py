"""The console in headless Chromium against the real service: log in, look, assess, run, report.

Needs Debian's ``chromium`` and the ``playwright`` package (never ``playwright install``);
skips with the reason when either is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from console_support import Server

from onshore.report.collect import FORMAT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
WAIT = 30_000


def check_not_blank(path: Path, *, min_ink: float = 0.03) -> dict[str, float]:
    """The screenshot has content: not one colour, and a fair share differs from the
    background (its most common colour)."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24) or []
    total = sum(n for n, _c in colours)
    assert len(colours) > 1, f"{path.name} is a single colour"
    background = max(n for n, _c in colours)
    ink = 1 - background / total
    assert ink >= min_ink, f"{path.name}: only {ink:.1%} of the pixels differ from the background"
    assert len(colours) > 50, f"{path.name}: only {len(colours)} colours"
    return {"ink": ink, "colours": float(len(colours))}


def login(browser: Any, server: Server, role: str) -> Any:
    context = browser.new_context(
        viewport={"width": 1440, "height": 1000}, accept_downloads=True, locale="zh-CN"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.goto(server.url + "/")
    assert page.url.endswith("/console/"), page.url
    page.fill("#login-key", server.seeded.keys[role])
    page.click("#login-submit")
    page.wait_for_selector("main#view[data-ready='1']", timeout=WAIT)
    return page


def open_view(page: Any, view: str) -> None:
    page.click(f"nav.tabs a[data-view='{view}']")
    page.wait_for_selector(f"main#view[data-view='{view}'][data-ready='1']", timeout=WAIT)


def shoot(page: Any, path: Path) -> None:
    """A full-page screenshot that must not be blank, of a page with no rendering slips."""
    text = page.text_content("main") or ""
    assert "[object " not in text and "undefined" not in text and "null" not in text.split()
    page.screenshot(path=path, full_page=True)
    check_not_blank(path)


def test_compliance_officer_assesses_runs_and_downloads(
    browser: Any, server: Server, shots: Path
) -> None:
    page = login(browser, server, "compliance")
    figures = server.get("/v1/console/overview", "compliance")
    # overview: the API's own figures, in Chinese by default (locale zh-CN)
    assert page.text_content("nav.tabs a[data-view='overview']") == "概览"
    assert page.text_content("[data-testid='kpi-individuals'] .kpi-value") == (
        f"{figures['individuals']:,}"
    )
    assert page.locator("svg.chart rect.bar").count() > 0
    assert page.locator("[data-testid='threshold-sensitive'] svg.gauge").count() == 1
    shoot(page, shots / "overview-zh.png")

    # language switch: English, then back
    page.click(".who .lang-switch button[data-lang='en']")
    page.wait_for_selector("main#view[data-ready='1']", timeout=WAIT)
    assert page.text_content("nav.tabs a[data-view='overview']") == "Overview"
    assert "Cross-border volume" in page.text_content("main")
    shoot(page, shots / "overview-en.png")

    # transfers: a dataset of important data is refused, with reasons and references
    open_view(page, "transfers")
    # PIPL: every export of personal information names its impact assessment and basis
    page.fill("#f-pia", "PIA-2026-01")
    page.select_option("#transfer-form select[name='outbound_basis']", "contract")
    page.fill("#f-basis-note", "owners' service contract clause 3")
    page.select_option("#f-dataset", "telemetry")
    page.click("#assess")
    page.wait_for_selector("[data-testid='decision']", timeout=WAIT)
    decision = page.locator("[data-testid='decision']")
    assert decision.get_attribute("data-allowed") == "false"
    assert "cn-auto/transfer/important-data" in page.text_content("[data-testid='reasons']")
    assert page.is_disabled("#run")
    shoot(page, shots / "transfer-refused.png")

    # ... the owners' contact data (personal, a few individuals) needs no mechanism: run it
    page.select_option("#f-dataset", "owners")
    page.click("#assess")
    page.wait_for_selector("[data-testid='decision'][data-allowed='true']", timeout=WAIT)
    assert "cn-auto/transfer/volume/exempt" in page.text_content("[data-testid='reasons']")
    assert page.is_enabled("#run")
    page.click("#run")
    page.wait_for_selector("[data-testid='package']", timeout=WAIT)
    package = page.text_content("[data-testid='package'] code")
    assert package and Path(package, "manifest.json").is_file()
    shoot(page, shots / "transfer-run.png")
    # trajectories desensitized for export are sensitive personal information: a standard
    # contract is needed; put one on record in the registry, and the same request is allowed
    page.select_option("#f-dataset", "telemetry")
    page.select_option("#f-profile", "export-default")
    page.click("#assess")
    page.wait_for_selector("[data-testid='decision'][data-allowed='false']", timeout=WAIT)
    assert "cn-auto/transfer/volume/standard-contract" in page.text_content(
        "[data-testid='reasons']"
    )
    page.fill("#approval-form input[name='id']", "SCC-2026-07")
    page.fill("#approval-form input[name='recipient']", "Acme GmbH")
    page.click("#approval-form button[type='submit']")
    page.wait_for_selector("[data-testid='approvals'] code:text('SCC-2026-07')", timeout=WAIT)
    page.click("#assess")
    page.wait_for_selector("[data-testid='decision'][data-allowed='true']", timeout=WAIT)
    assert "SCC-2026-07" in page.text_content("[data-testid='decision']")
    shoot(page, shots / "transfer-approved.png")
    # an uploaded file goes through the same gate: the owners' raw file has ID numbers
    # (sensitive), which the standard contract on record covers
    page.check("#f-source-upload")
    page.set_input_files("#f-file", str(server.seeded.sample / "owners.csv"))
    page.select_option("#f-profile", "")
    page.click("#assess")
    page.wait_for_selector("[data-testid='decision'][data-allowed='true']", timeout=WAIT)
    decision_text = page.text_content("[data-testid='decision']")
    assert "SCC-2026-07" in decision_text and "person.identity.id_number" in decision_text
    page.check("input[name='source'][value='lake']")
    after = server.get("/v1/console/overview", "compliance")["thresholds"]["measures"]
    exported = {m["measure"]: m["value"] for m in after}
    assert exported["non_sensitive"] == 12  # the 12 owners, now counted for the year

    # reports: the annual report (html, zh) and the notice (en) download
    open_view(page, "reports")
    page.select_option("#report-form select[name='lang']", "zh")
    with page.expect_download(timeout=WAIT) as report:
        page.click("#report-download")
    saved = shots / report.value.suggested_filename
    report.value.save_as(saved)
    assert saved.name.endswith("-zh.html")
    text = saved.read_text(encoding="utf-8")
    assert FORMAT in text and "年度" in text  # the data block of this report format
    with page.expect_download(timeout=WAIT) as notice:
        page.click("#notice-download")
    assert notice.value.suggested_filename == "notice.en.html"
    page.click("#report-preview")
    page.wait_for_selector("#preview[data-loaded='1']", timeout=WAIT)
    frame = page.frame_locator("#preview")
    assert "年度" in frame.locator("body").inner_text(timeout=WAIT)
    shoot(page, shots / "reports.png")

    # ledger: verified, the export is an entry, its inclusion proof downloads
    open_view(page, "ledger")
    page.wait_for_selector("[data-testid='verify-ok']", timeout=WAIT)
    page.select_option("#f-kind", "export")
    page.click("#ledger-form button[type='submit']")
    page.wait_for_selector("[data-testid='entries'] button[data-proof]", timeout=WAIT)
    with page.expect_download(timeout=WAIT) as proof:
        page.click("[data-testid='entries'] button[data-proof] >> nth=0")
    body = json.loads(Path(proof.value.path()).read_text())
    assert body["entry"]["kind"] == "export" and body["type"]
    shoot(page, shots / "ledger.png")

    # subjects: a vehicle's holdings and consents (a view on the ledger), then its deletion
    vin = server.seeded.vin
    server.post(
        "/v1/consents",
        "compliance",
        {"vin": vin, "category": "location.trajectory", "purpose": "navigation", "days": 365},
    )
    open_view(page, "subjects")
    page.fill("#f-vin", vin)
    page.click("#vin-form button[type='submit']")
    page.wait_for_selector("[data-testid='subject-rows']", timeout=WAIT)
    assert int(page.text_content("[data-testid='subject-rows']").replace(",", "")) > 0
    assert "navigation" in page.text_content("#subject-out")
    shoot(page, shots / "subjects.png")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#subject-delete")
    page.wait_for_selector("[data-testid='deleted']", timeout=WAIT)
    page.wait_for_selector("[data-testid='queue'] td", timeout=WAIT)
    assert "del-" in page.text_content("[data-testid='queue']")
    assert page.text_content("[data-testid='subject-rows']") == "0"
    shoot(page, shots / "subjects-deleted.png")

    # sensitive areas: the catalogue on the map, and the telemetry points inside
    open_view(page, "areas")
    assert page.locator("svg.map path.area").count() >= 1
    page.select_option("#hits-form select[name='dataset']", "telemetry")
    page.click("#hits-show")
    page.wait_for_selector("[data-testid='hits-summary']", timeout=WAIT)
    assert page.locator("svg.map circle.pt").count() > 0
    shoot(page, shots / "areas.png")

    # back to Chinese: the decision's legal references name the instruments in Chinese
    page.click(".who .lang-switch button[data-lang='zh']")
    open_view(page, "transfers")
    page.select_option("#f-dataset", "telemetry")
    page.click("#assess")
    page.wait_for_selector("[data-testid='decision']", timeout=WAIT)
    assert "汽车数据安全管理若干规定" in page.text_content("[data-testid='reasons']")
    assert page.text_content("#run") == "执行出境"
    shoot(page, shots / "transfer-refused-zh.png")
    assert page.errors == []
    page.context.close()


def test_auditor_sees_but_cannot_run(browser: Any, server: Server, shots: Path) -> None:
    page = login(browser, server, "auditor")
    assert page.is_visible("[data-testid='readonly']")
    open_view(page, "transfers")
    assert page.is_disabled("#assess")
    assert page.is_disabled("#run")
    assert page.is_disabled("#approval-form button[type='submit']")
    # the API refuses as well, whatever the page does
    status = page.evaluate(
        """async () => {
            const r = await fetch('/v1/transfers/run', {method: 'POST',
                headers: {'Content-Type': 'application/json',
                          'X-API-Key': sessionStorage.getItem('onshore.key')},
                body: JSON.stringify({dataset: 'owners', purpose: 'r_and_d',
                                      recipient: {name: 'Acme GmbH', country: 'DE'}})});
            return [r.status, (await r.json()).type];
        }"""
    )
    assert status == [403, "urn:onshore:problem:forbidden"]
    shoot(page, shots / "auditor-transfers.png")
    # reading is allowed: the ledger and the reports
    open_view(page, "ledger")
    # The server may still be computing the overview's figures from the whole lake (the first
    # view): on a loaded two-core machine the verify answer has come after 30 s. A wider wait.
    page.wait_for_selector(
        "[data-testid='verify-ok'], [data-testid='verify-bad']", timeout=4 * WAIT
    )
    bad = page.query_selector("[data-testid='verify-bad']")
    assert bad is None, f"the ledger view's verify failed: {bad.text_content() if bad else ''}"
    open_view(page, "subjects")
    assert page.is_disabled("#vin-form button[type='submit']") is False
    assert page.errors == []
    page.context.close()
