"""Helpers for the hub's people-facing tests: a real hub over HTTP (the production server,
waitress, as `vigie hub serve` runs it) with a user per role."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from central import create_app
from central import db as hubdb
from central.config import ApiToken, HubConfig
from central.users import ROLES, add_user
from central.web.server import HubServer
from edge.wire.messages import uuid7

PASSWORD = "correct horse battery"
MACHINE_TOKEN = "machine-token-for-tests"
LEGACY_TOKEN = "legacy-token-for-tests"


@dataclass
class Hub:
    """A running hub: its URL, its database file, and a user per role (named after the role)."""

    url: str
    database: Path
    app: Any
    _server: Any = field(repr=False, default=None)

    def db(self) -> Any:
        return hubdb.connect(self.database)

    def login(self, username: str, password: str = PASSWORD) -> requests.Session:
        """A requests session logged in through the login form (cookie sent by hand: the
        session cookie is Secure, which requests only sends over https)."""
        s = requests.Session()
        page = s.get(f"{self.url}/login", timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        r = s.post(f"{self.url}/login", data={"csrf_token": csrf.group(1), "username": username,
                                              "password": password},
                   headers={"Cookie": f"vigie_login_csrf={csrf.group(1)}"},
                   allow_redirects=False, timeout=10)
        assert r.status_code == 302, (r.status_code, r.text[:300])
        token = r.cookies.get("vigie_session")
        assert token
        s.headers["Cookie"] = f"vigie_session={token}"
        home = s.get(f"{self.url}/api/v1/me", timeout=10).json()
        s.headers["X-CSRF-Token"] = self.csrf_for(s)
        assert home["actor"] == username
        return s

    def csrf_for(self, s: requests.Session) -> str:
        """The session's CSRF token, as a page shows it."""
        for path in ("/", "/cameras", "/search", "/privacy/audit", "/investigate"):
            r = s.get(f"{self.url}{path}", allow_redirects=False, timeout=10)
            m = re.search(r'name="csrf-token" content="([^"]+)"', r.text)
            if r.status_code == 200 and m:
                return m.group(1)
        raise AssertionError("no page showed a CSRF token")


def event_message(camera: str = "cam-01", severity: str = "warning", type_: str = "intrusion",
                  zone: str | None = "gate", label: str = "person",
                  started_at: str | None = None) -> dict[str, Any]:
    """A valid event message (start) as a box sends it."""
    from edge.wire.messages import utc_iso

    return {
        "schema": "vigie.event/1", "id": uuid7(), "site": "test", "camera": camera,
        "type": type_, "state": "start", "severity": severity,
        "started_at": started_at or utc_iso(time.time()), "ended_at": None, "zone": zone,
        "objects": [{"label": label, "score": 0.9, "bbox": [0.1, 0.2, 0.3, 0.4]}],
        "measure": {"count": 1}, "model": {"name": "yolox-nano", "sha256": "e" * 64},
        "clip": {"status": "pending", "sha256": None}, "seq": 1,
    }


def insert_event(database: Path, **kw: Any) -> str:
    """Store an event as ingest does; returns its id."""
    msg = event_message(**kw)
    db = hubdb.connect(database)
    hubdb.upsert_event(db, msg, json.dumps(msg))
    db.conn.close()
    return str(msg["id"])


def start_hub(tmp_path: Path, **cfg: Any) -> Iterator[Hub]:
    database = tmp_path / "hub.sqlite"
    config = HubConfig(database=database, api_tokens={
        LEGACY_TOKEN: "legacy-client",
        MACHINE_TOKEN: ApiToken(actor="soc-integration", role="supervisor"),
    }, **cfg)
    app = create_app(config)
    db = hubdb.connect(database)
    for role in ROLES:
        add_user(db, role.replace("_", "-"), PASSWORD, role)
    db.conn.close()
    server = HubServer(app, config, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub = Hub(url=f"http://127.0.0.1:{server.port}", database=database, app=app,
              _server=server)
    yield hub
    server.shutdown()
    thread.join(5)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A real hub over HTTP on a free port, one user per role (user name = role with '-')."""
    yield from start_hub(tmp_path)


def user_of(role: str) -> str:
    return role.replace("_", "-")
