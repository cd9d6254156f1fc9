"""/v1/health: without a key only that the service is up; details only with a valid key; never
behind the session lock of a request in progress."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient


def test_without_a_key_health_says_only_ok_and_the_version(client: TestClient) -> None:
    body = client.get("/v1/health").json()
    assert set(body) == {"status", "version"} and body["status"] == "ok"
    assert body["version"] == client.get("/openapi.json").json()["info"]["version"]
    for wrong in ({"X-API-Key": "onshore_000000000000_" + "a" * 43}, {"Authorization": "Basic x"}):
        assert set(client.get("/v1/health", headers=wrong).json()) == {"status", "version"}


def test_with_a_valid_key_of_any_role_health_has_details(client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    for role in ("ingest", "auditor"):
        body = client.get("/v1/health", headers=keys(role)).json()
        assert body["details"]["jurisdiction"] == "CN"
        assert body["details"]["max_body_bytes"] > 0
        assert isinstance(body["details"]["ledger_size"], int)
    bearer = {"Authorization": "Bearer " + keys("operator")["X-API-Key"]}
    assert "details" in client.get("/v1/health", headers=bearer).json()


def test_health_answers_while_a_request_holds_the_data_home(app, client: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    held, release = threading.Event(), threading.Event()

    def long_request() -> None:
        with app.state.onshore.session("a long request"):
            held.set()
            release.wait(30)

    worker = threading.Thread(target=long_request)
    worker.start()
    try:
        assert held.wait(10)
        answers: list[dict[str, object]] = []

        def probe() -> None:
            answers.append(client.get("/v1/health").json())
            answers.append(client.get("/v1/health", headers=keys("auditor")).json())

        prober = threading.Thread(target=probe)
        prober.start()
        prober.join(10)
        assert not prober.is_alive(), "health waited for the request in progress"
        assert answers[0]["status"] == "ok" and "details" in answers[1]
    finally:
        release.set()
        worker.join(30)
