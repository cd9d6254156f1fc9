"""The console opens in the browser's language: Chinese for a Chinese browser, else English.

The service picks the page's ``<html lang>`` from ``Accept-Language``; the scripts start in
it; the user's own pick with the switch is remembered. The first test needs no browser; the
second opens the login page in headless Chromium (no data home: the login page reads only the
console's files).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi import FastAPI
from fastapi.testclient import TestClient

from onshore.service.console import STATIC, console_language, mount_console

WAIT = 30_000


def _app() -> FastAPI:
    app = FastAPI()
    mount_console(app)
    return app


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-TW", "zh-CN"),  # the one Chinese the console has
        ("en-GB,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR,zh;q=0.5,en;q=0.4", "zh-CN"),  # the first of the console's two it names
        ("en;q=0.5,zh;q=0.6", "zh-CN"),  # by quality, not by position
        ("zh;q=0,en", "en"),  # q=0: not acceptable
        ("de-DE", "en"),
        ("", "en"),
        ("zh-CN;q=abc,<script>,en", "en"),  # malformed ranges are ignored
    ],
)
def test_the_page_is_served_in_the_browser_s_language(header: str, lang: str) -> None:
    with TestClient(_app()) as client:
        for path in ("/console/", "/console/index.html"):
            page = client.get(path, headers={"Accept-Language": header})
            assert page.status_code == 200
            assert f'<html lang="{lang}">' in page.text and 'src="js/app.js"' in page.text
            assert page.headers["vary"] == "Accept-Language"
            noscript = "控制台" if lang == "zh-CN" else "console needs JavaScript"
            assert noscript in page.text


def test_no_header_and_an_overlong_one() -> None:
    assert console_language(None) == "en"
    assert console_language("en;q=0.1," * 500 + "zh") == "en"  # only the first 1000 characters


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def console_url() -> Iterator[str]:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/console/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_the_browser_opens_the_console_in_its_language(browser: Any, console_url: str) -> None:
    strings = {
        lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in ("zh", "en")
    }
    title = "form.login h1"
    for locale, lang in (("zh-CN", "zh"), ("en-US", "en"), ("de-DE", "en")):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        page.goto(console_url)
        page.wait_for_selector("#login-key", timeout=WAIT)
        assert page.text_content(title) == strings[lang]["login.title"], locale
        assert page.evaluate("document.documentElement.lang") == ("zh-CN" if lang == "zh" else "en")
        assert page.evaluate("localStorage.getItem('onshore.lang')") is None  # not a user's pick
        context.close()
    # the user's pick wins over the browser's language, and is remembered
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(console_url)
    page.wait_for_selector("#login-key", timeout=WAIT)
    page.click(".lang-switch button[data-lang='en']")
    assert page.text_content(title) == strings["en"]["login.title"]
    page.reload()
    page.wait_for_selector("#login-key", timeout=WAIT)
    assert page.text_content(title) == strings["en"]["login.title"]
    context.close()
