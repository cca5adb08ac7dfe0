"""Route walk: every route declares its roles, and answers as they say, over real HTTP."""

from __future__ import annotations

import re

import requests

from central.users import ROLES
from central.web.auth import DEVICE, PUBLIC, declared_roles
from tests.kits.hubkit import LEGACY_TOKEN, MACHINE_TOKEN, Hub, hub, insert_event, user_of

__all__ = ["hub"]


def _routes(hub: Hub, alert_id: str) -> list[tuple[str, str, str, frozenset[str]]]:
    """(endpoint, method, concrete path, declared roles) for every rule of the app."""
    out = []
    for rule in hub.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = hub.app.view_functions[rule.endpoint]
        allowed = declared_roles(view)
        assert allowed is not None, f"route {rule.rule} ({rule.endpoint}) declares no roles"
        path = re.sub(r"<(?:\w+:)?\w+>", alert_id, rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, path, allowed))
    return out


def test_every_route_declares_roles_and_answers_as_declared(hub: Hub) -> None:
    alert_id = insert_event(hub.database)
    routes = _routes(hub, alert_id)
    assert len(routes) >= 20, routes
    anon = requests.Session()
    for endpoint, method, path, allowed in routes:
        r = anon.request(method, hub.url + path, allow_redirects=False, timeout=20)
        if allowed == PUBLIC:
            assert r.status_code < 500 and r.status_code not in (401, 403), (endpoint, r.status_code)
        elif allowed == DEVICE:
            assert r.status_code == 401, (endpoint, method, r.status_code)
        elif path.startswith("/api/"):
            assert r.status_code == 401, (endpoint, method, r.status_code)
            assert r.json()["error"] == "unauthorized"
        else:
            assert r.status_code == 302, (endpoint, method, r.status_code)
            assert r.headers["Location"].startswith("/login?next="), r.headers["Location"]

    for role in ROLES:
        s = hub.login(user_of(role))
        for endpoint, method, path, allowed in routes:
            if endpoint == "web.logout" or allowed == PUBLIC:
                continue
            if allowed == DEVICE:  # device-only routes (clip upload): no person gets in
                r = s.request(method, hub.url + path, allow_redirects=False, timeout=30)
                assert r.status_code in (401, 403), (role, endpoint, r.status_code)
                continue
            body = {"json": {}} if path.startswith("/api/") and method == "POST" else {}
            r = s.request(method, hub.url + path, allow_redirects=False, timeout=30, **body)
            assert r.status_code < 500, (role, endpoint, r.status_code, r.text[:300])
            if role in allowed:
                assert r.status_code not in (401, 403), (role, endpoint, r.status_code, r.text[:200])
            else:
                assert r.status_code == 403, (role, endpoint, method, r.status_code)
        r = s.post(hub.url + "/logout", allow_redirects=False, timeout=10)
        assert r.status_code == 302
        r = s.get(hub.url + "/api/v1/me", timeout=10)
        assert r.status_code == 401, "the session must end at logout"


def test_tokens_carry_roles(hub: Hub) -> None:
    """Config tokens: a bare string acts as an operator; {actor, role} gives that role."""
    legacy = {"Authorization": f"Bearer {LEGACY_TOKEN}"}
    machine = {"Authorization": f"Bearer {MACHINE_TOKEN}"}
    me = requests.get(hub.url + "/api/v1/me", headers=legacy, timeout=10).json()
    assert me == {"actor": "legacy-client", "role": "operator", "via": "token"}
    assert requests.get(hub.url + "/api/v1/alerts", headers=legacy, timeout=10).status_code == 200
    assert requests.get(hub.url + "/api/v1/stats/false-alarms", headers=legacy,
                        timeout=10).status_code == 403
    assert requests.get(hub.url + "/api/v1/stats/false-alarms", headers=machine,
                        timeout=10).status_code == 200
    bad = requests.get(hub.url + "/api/v1/alerts", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")
