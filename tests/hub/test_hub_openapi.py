"""The OpenAPI document matches the app, and schemathesis (every role, a device) finds no server
error and no non-conforming answer over real HTTP."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from central import db as hubdb
from central.config import DeviceIdentity, HubClips
from central.users import ROLES, add_api_client
from tests.kits.hubkit import Hub, event_message, insert_event, start_hub

DEVICE_TOKEN = "device-token-fuzz-cam-01-0123456789"


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, dict[str, str]]]:
    """A live hub with some events (one stored with NaN and Infinity in it), an API client per
    role and a device token."""
    tmp = Path(tmp_path_factory.mktemp("fuzzhub"))
    gen = start_hub(tmp, clips=HubClips(dir=tmp / "clips"),
                    device_tokens={DEVICE_TOKEN: DeviceIdentity(site="test", camera="cam-01")})
    hub = next(gen)
    for _ in range(3):
        insert_event(hub.database)
    bad = event_message()
    conn = sqlite3.connect(hub.database)
    with conn:
        conn.execute("INSERT INTO events (id, site, camera, type, state, severity, started_at, objects,"
                     " measure, model, clip, seq, payload, status) VALUES (?, 'test', 'cam-01',"
                     " 'intrusion', 'start', 'warning', ?, ?, '{\"count\": NaN}', '{}', ?, 1, '{}',"
                     " 'new')", [bad["id"], bad["started_at"],
                                 '[{"label": "person", "score": Infinity, "bbox": [0, 0, 1, 1]}]',
                                 json.dumps(bad["clip"])])
    conn.close()
    db = hubdb.connect(hub.database)
    tokens = {role: add_api_client(db, f"fuzz-{role.replace('_', '-')}", role) for role in ROLES}
    db.conn.close()
    tokens["device"] = DEVICE_TOKEN
    yield hub, tokens
    next(gen, None)


CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance,
          schemathesis.checks.content_type_conformance]


def _fuzz(hub: Hub, op: Any, token: str, mode: GenerationMode, examples: int) -> int:
    calls = 0

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(base_url=hub.url, headers={"Authorization": f"Bearer {token}"},
                               checks=CHECKS)

    run()
    return calls


def test_no_server_error_for_any_role(fuzz_hub: tuple[Hub, dict[str, str]]) -> None:
    """Every operation of the document, as every role and as a device: generated requests
    within the documented bounds (up to the longest strings and largest integers) and outside
    them (wrong types, out of range); no server error, and every answer conforms (JSON errors
    {error, message}, the documented content type)."""
    hub, tokens = fuzz_hub
    api = schemathesis.openapi.from_url(f"{hub.url}/api/v1/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 12
    calls = 0
    for op in operations:
        allowed = set(op.definition.raw.get("x-roles") or [])
        for who, token in tokens.items():
            if who in allowed:
                calls += _fuzz(hub, op, token, GenerationMode.POSITIVE, 12)
                calls += _fuzz(hub, op, token, GenerationMode.NEGATIVE, 8)
            else:
                calls += _fuzz(hub, op, token, GenerationMode.POSITIVE, 2)
    assert calls >= 20 * len(operations)
    statuses = requests.get(f"{hub.url}/api/v1/alerts?status=open&limit=1000",
                            headers={"Authorization": f"Bearer {tokens['operator']}"}, timeout=10)
    assert statuses.status_code == 200, "the hub still answers after the run"


def test_schema_bounds_every_string_and_integer(fuzz_hub: tuple[Hub, dict[str, str]]) -> None:
    """Fuzzers generate extreme values only where the document states the bounds."""
    hub, _ = fuzz_hub
    doc = requests.get(f"{hub.url}/api/v1/openapi.json", timeout=10).json()

    def walk(schema: dict[str, Any], where: str) -> None:
        if schema.get("type") == "string" and "enum" not in schema:
            assert "maxLength" in schema, where
        if schema.get("type") == "integer":
            assert "maximum" in schema and "minimum" in schema, where
        if schema.get("type") == "array":
            assert "maxItems" in schema, where
            walk(schema.get("items") or {}, where + "[]")
        for name, sub in (schema.get("properties") or {}).items():
            walk(sub, f"{where}.{name}")

    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op["parameters"]:
                walk(p["schema"], f"{method} {path} {p['name']}")
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                walk(body["schema"], f"{method} {path} body")


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
