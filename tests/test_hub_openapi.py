"""The OpenAPI document matches the app, and schemathesis finds no server error over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from central import db as hubdb
from central.users import ROLES, add_api_client
from tests.hubkit import Hub, insert_event, start_hub


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, dict[str, str]]]:
    """A live hub with some events and an API client per role."""
    gen = start_hub(Path(tmp_path_factory.mktemp("fuzzhub")))
    hub = next(gen)
    for _ in range(3):
        insert_event(hub.database)
    db = hubdb.connect(hub.database)
    tokens = {role: add_api_client(db, f"fuzz-{role.replace('_', '-')}", role) for role in ROLES}
    db.conn.close()
    yield hub, tokens
    next(gen, None)


def test_no_server_error(fuzz_hub: tuple[Hub, dict[str, str]]) -> None:
    """Every operation of the document, 25 generated requests each (schemathesis + hypothesis),
    as a client holding an allowed role: no response may be a server error."""
    hub, tokens = fuzz_hub
    api = schemathesis.openapi.from_url(f"{hub.url}/api/v1/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 12
    calls = 0
    for op in operations:
        allowed = [r for r in op.definition.raw.get("x-roles") or [] if r in tokens] or ["operator"]
        headers = {"Authorization": f"Bearer {tokens[allowed[0]]}"}

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(base_url=hub.url, headers=headers,  # noqa: B023 (run at once)
                                   checks=[schemathesis.checks.not_a_server_error])

        run()
    assert calls >= 5 * len(operations)


def test_document_lists_every_api_route(fuzz_hub: tuple[Hub, dict[str, str]]) -> None:
    hub, _ = fuzz_hub
    doc = requests.get(f"{hub.url}/api/v1/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    api_rules = {r.rule for r in hub.app.url_map.iter_rules() if r.rule.startswith("/api/v1")}
    documented = {p.replace("{", "<").replace("}", ">") for p in doc["paths"]}
    assert documented == api_rules
    ack = doc["paths"]["/api/v1/alerts/{alert_id}/ack"]["post"]
    assert ack["x-roles"] == ["operator", "supervisor"]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def test_errors_are_consistent_json(fuzz_hub: tuple[Hub, dict[str, str]]) -> None:
    hub, tokens = fuzz_hub
    auth = {"Authorization": f"Bearer {tokens['operator']}"}
    for method, path, code in (("GET", "/api/v1/alerts/nope", 404), ("GET", "/api/v1/alerts?limit=x", 400),
                               ("DELETE", "/api/v1/alerts", 405), ("GET", "/api/v1/nothing", 404),
                               ("GET", "/api/v1/audit", 403)):
        r = requests.request(method, hub.url + path, headers=auth, timeout=10)
        assert r.status_code == code, (path, r.status_code)
        body = r.json()
        assert set(body) == {"error", "message"} and body["message"], body
