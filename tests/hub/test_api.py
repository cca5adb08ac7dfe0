"""The hub's JSON API through Flask's test client on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from central import create_app
from central.config import HubConfig
from central.ingest.subscriber import Ingest
from edge.wire.messages import encode, uuid7
from tests.kits.samples import sample_event

AUTH = {"Authorization": "Bearer t0k"}


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    cfg = HubConfig(database=tmp_path / "hub.sqlite", api_tokens={"t0k": "bob"})
    ing = Ingest(cfg)
    for i in range(3):
        ing.handle("vigie/v1/marseille/cam-042/event",
                   encode(sample_event(id=uuid7(), started_at=f"2026-11-23T10:1{i}:00.000Z")))
    return create_app(cfg).test_client()


def test_requires_token(client: FlaskClient) -> None:
    for path in ("/api/v1/alerts", "/api/v1/cameras"):
        r = client.get(path)
        assert r.status_code == 401 and r.json["error"] == "unauthorized"  # type: ignore[index]
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_list_newest_first_and_filter(client: FlaskClient) -> None:
    alerts = client.get("/api/v1/alerts?status=new", headers=AUTH).json["alerts"]  # type: ignore[index]
    assert len(alerts) == 3
    assert [a["started_at"] for a in alerts] == sorted((a["started_at"] for a in alerts), reverse=True)
    assert client.get("/api/v1/alerts?status=bogus", headers=AUTH).status_code == 400
    assert client.get("/api/v1/alerts?limit=x", headers=AUTH).status_code == 400


def test_ack_flow(client: FlaskClient) -> None:
    first = client.get("/api/v1/alerts", headers=AUTH).json["alerts"][0]  # type: ignore[index]
    r = client.post(f"/api/v1/alerts/{first['id']}/ack", json={"comment": "ok"}, headers=AUTH)
    assert r.status_code == 200 and r.json["acked_by"] == "bob"  # type: ignore[index]
    assert client.post(f"/api/v1/alerts/{first['id']}/ack", json={}, headers=AUTH).status_code == 409
    assert client.post("/api/v1/alerts/nope/ack", json={}, headers=AUTH).status_code == 404
    bad = client.post(f"/api/v1/alerts/{first['id']}/ack", json={"comment": 5}, headers=AUTH)
    assert bad.status_code in (400, 409)
    remaining = client.get("/api/v1/alerts?status=new", headers=AUTH).json["alerts"]  # type: ignore[index]
    assert first["id"] not in {a["id"] for a in remaining} and len(remaining) == 2


def test_alert_page_has_no_data_without_token(client: FlaskClient) -> None:
    """Pages are for logged-in people now: anonymous visitors go to the login page."""
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert b"marseille" not in r.data
    login = client.get("/login")
    assert login.status_code == 200 and b"Vigie" in login.data and b"marseille" not in login.data


def test_concurrent_first_start_migrates_once(tmp_path: Path) -> None:
    """Ingest and web server start together on a new database: neither may fail."""
    import threading

    from central import db as hubdb

    errors: list[BaseException] = []

    def open_db() -> None:
        try:
            hubdb.connect(tmp_path / "race.sqlite").conn.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_db) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    con = hubdb.connect(tmp_path / "race.sqlite")
    recorded = [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert recorded == [name for name, _ in hubdb.MIGRATIONS]  # each applied once, in order
