"""``onshore serve keys add|list|revoke`` and ``onshore serve --help``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from onshore.cli import cli
from onshore.ledger import Activity
from onshore.service import ServiceSettings, create_app
from onshore.store import DataHome


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_keys_add_list_revoke_and_the_key_works(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    made = json.loads(
        _run(
            "serve",
            "keys",
            "add",
            "--role",
            "auditor",
            "--name",
            "Acme",
            "--country",
            "de",
            "--json",
            "--home",
            home,
        )
    )
    assert made["role"] == "auditor" and made["country"] == "DE"
    key = made["key"]
    assert key.startswith("onshore_")
    listed = json.loads(_run("serve", "keys", "list", "--json", "--home", home))
    assert [k["id"] for k in listed] == [made["id"]] and "key" not in listed[0]
    app = create_app(ServiceSettings(home=Path(home)), environ={})
    with TestClient(app) as client:
        assert client.get("/v1/ledger/head", headers={"X-API-Key": key}).status_code == 200
        _run("serve", "keys", "revoke", made["id"], "--home", home)
        assert client.get("/v1/ledger/head", headers={"X-API-Key": key}).status_code == 401
    with DataHome(home, environ={}) as data_home:
        decisions = [e.decision for _i, e in data_home.ledger.entries(kind=Activity.USE)]
    assert any("made" in (d or "") for d in decisions)
    assert any("revoked" in (d or "") for d in decisions)


def test_plain_add_prints_only_the_key_on_stdout(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "keys", "add", "--role", "ingest", "--name", "gw", "--home", str(tmp_path)]
    )
    assert result.exit_code == 0
    assert result.stdout.strip().startswith("onshore_") and len(result.stdout.split()) == 1


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "keys", "add", "--role", "root", "--name", "x", "--home", str(tmp_path)]
    )
    assert result.exit_code == 2


def test_serve_help_has_an_example() -> None:
    assert "Example:" in _run("serve", "--help")


def test_the_core_imports_without_fastapi_and_serve_says_what_is_missing(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['fastapi'] = None\n"
        "sys.modules['uvicorn'] = None\n"
        "import onshore, onshore.cli\n"
        "from onshore.cli import main\n"
        f"main(['serve', '--home', {str(tmp_path)!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "pip install 'onshore[service]'" in done.stderr
