"""schemathesis against the service's own OpenAPI schema: no 500, and answers as documented.

Bounded (a few examples per operation) so the whole run stays well under two minutes. Every
request carries a key of a role the operation allows (from ``x-onshore-roles``), so the
generated data reaches the handlers instead of stopping at 401. The app runs on a real data
home in a temporary folder, with a little telemetry in it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from service_support import AREAS, JSONL, Keys, jsonl, message  # noqa: E402

from onshore.service import ROLES, ServiceSettings, create_app  # noqa: E402

MAX_EXAMPLES = 15
# No 500, and every answer (problems included) is one the schema documents. Not checked:
# "schema-valid request rejected" (a valid-looking request for a dataset that is not there
# is rightly 422) and "invalid authentication accepted" (the generated invalid credential
# rides along with the valid key this test adds).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
HOME = Path(tempfile.mkdtemp(prefix="onshore-schemathesis-"))
(HOME / "areas.geojson").write_text(json.dumps(AREAS))
APP = create_app(ServiceSettings(home=HOME), environ={})
KEYS = Keys({r: APP.state.onshore.keys.add(r, name=f"fuzz {r}").key for r in ROLES})
TestClient(APP).post(
    "/v1/ingest/telemetry",
    content=jsonl([message(i, s) for i in range(3) for s in range(3)]),
    headers=KEYS("ingest", **JSONL),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _close_home() -> Any:
    yield
    APP.state.onshore.close()
    shutil.rmtree(HOME, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: Any) -> None:
    roles = case.operation.definition.raw.get("x-onshore-roles") or []
    response = case.call(headers=KEYS(roles[0]) if roles else {})
    case.validate_response(response, checks=CHECKS)
