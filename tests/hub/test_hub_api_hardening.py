"""The hub's HTTP side under hostile input, over real HTTP on the production server (waitress):
bad JSON bodies, non-finite numbers in stored rows, 1,500 open alerts, no inline script, server
limits. Pages are checked in real Chromium."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from central import db as hubdb
from central.config import HubAlerts, HubClips, HubConfig, HubWeb
from central.users import ROLES, add_api_client
from tests.conftest import wait_for
from tests.kits.hubkit import PASSWORD, Hub, event_message, hub, insert_event, start_hub

__all__ = ["hub"]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "central" / "templates"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def strict_json(text: str) -> Any:
    """Parse as a browser does: NaN and Infinity are not JSON."""
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def tokens_for(hub: Hub) -> dict[str, str]:
    db = hub.db()
    tokens = {role: add_api_client(db, f"t-{role.replace('_', '-')}", role) for role in ROLES}
    db.conn.close()
    return tokens


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def login(page: Page, hub: Hub, user: str) -> None:
    page.goto(f"{hub.url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


# -- JSON bodies ------------------------------------------------------------------------------
BAD_BODIES = {
    "array": b"[]", "array of objects": b'[{"comment": "x"}]', "string": b'"text"', "number": b"42",
    "null": b"null", "true": b"true", "deep": b"[" * 5000 + b"]" * 5000,
    "deep object": b'{"a":' * 200 + b"1" + b"}" * 200, "NaN": b'{"comment": NaN}',
    "Infinity": b'{"days": Infinity}', "1e400": b'{"days": 1e400}',
    "huge integer": b'{"days": ' + b"9" * 5000 + b"}", "bad UTF-8": b'{"comment": "\xff\xfe"}',
    "not JSON": b"{comment: 1", "too big": b'{"comment": "' + b"x" * 300_000 + b'"}',
}


def test_every_json_route_refuses_a_non_object_with_400(hub: Hub) -> None:
    """Every route of the OpenAPI document that takes a JSON body, with each role allowed on
    it: a list, a scalar, deep, huge, non-finite or broken JSON is a 400 (413 when too big) with
    a JSON error, never a 500."""
    tokens = tokens_for(hub)
    alert = insert_event(hub.database)
    doc = requests.get(f"{hub.url}/api/v1/openapi.json", timeout=10).json()
    routes = [(path, method, op) for path, ops in doc["paths"].items()
              for method, op in ops.items() if "requestBody" in op]
    assert len(routes) >= 7, routes
    for path, method, op in routes:
        concrete = re.sub(r"\{(site)\}", "test", path)
        concrete = re.sub(r"\{(camera)\}", "cam-01", concrete)
        concrete = re.sub(r"\{\w+\}", alert, concrete)
        for role in op["x-roles"]:
            auth = {"Authorization": f"Bearer {tokens[role]}", "Content-Type": "application/json"}
            for name, body in BAD_BODIES.items():
                r = requests.request(method, hub.url + concrete, data=body, headers=auth, timeout=30)
                assert r.status_code == (413 if name == "too big" else 400), \
                    (path, role, name, r.status_code, r.text[:200])
                err = r.json()
                assert set(err) == {"error", "message"} and err["message"], err
                if name.startswith("array"):
                    assert "must be a JSON object, not an array" in err["message"], err


# -- non-finite numbers in stored rows ---------------------------------------------------------
def _bad_rows(database: Path) -> tuple[str, str]:
    """A good event, and one whose stored score and measure are NaN and Infinity (written with
    sqlite3 directly, as a row stored before the wire refused them would be)."""
    good = insert_event(database, camera="cam-good")
    bad = event_message(camera="cam-bad")
    conn = sqlite3.connect(database)
    with conn:
        conn.execute(
            "INSERT INTO events (id, site, camera, type, state, severity, started_at, zone, objects,"
            " measure, model, clip, seq, payload, received_at, updated_at, status) VALUES "
            "(?, 'test', 'cam-bad', 'intrusion', 'start', 'critical', ?, 'gate', ?, ?, ?, ?, 1, ?,"
            " ?, ?, 'new')",
            [bad["id"], bad["started_at"],
             '[{"label": "person", "score": NaN, "bbox": [0.1, 0.2, 0.3, Infinity]}]',
             '{"count": Infinity}', json.dumps(bad["model"]), json.dumps(bad["clip"]),
             "{}", time.time(), time.time()])
    conn.close()
    return good, str(bad["id"])


def test_non_finite_numbers_in_the_db_do_not_break_the_api_or_the_queue(
        hub: Hub, browser: Browser) -> None:
    good, bad = _bad_rows(hub.database)
    op = hub.login("operator")
    r = op.get(f"{hub.url}/api/v1/alerts?status=open", timeout=10)
    assert r.status_code == 200
    alerts = {a["id"]: a for a in strict_json(r.text)["alerts"]}
    assert set(alerts) == {good, bad}
    assert alerts[bad]["objects"][0]["score"] is None and alerts[bad]["measure"] == {"count": None}
    assert alerts[bad]["objects"][0]["bbox"] == [0.1, 0.2, 0.3, None]
    one = op.get(f"{hub.url}/api/v1/alerts/{bad}", timeout=10)
    assert one.status_code == 200 and strict_json(one.text)["id"] == bad
    found = op.get(f"{hub.url}/api/v1/events?class=person", timeout=10)
    assert found.status_code == 200, found.text[:300]
    assert {e["id"] for e in strict_json(found.text)["events"]} == {good, bad}
    assert strict_json(op.get(f"{hub.url}/api/v1/events?class=car", timeout=10).text)["total"] == 0
    assert op.get(f"{hub.url}/search?class=person", timeout=10).status_code == 200

    page = browser.new_page()
    try:
        login(page, hub, "operator")
        expect(page.locator(f"tr[data-id='{bad}']")).to_be_visible(timeout=10000)
        expect(page.locator(f"tr[data-id='{good}']")).to_be_visible()
        expect(page.locator("#status")).to_contain_text("2 nouvelles")
        assert "injoignable" not in page.locator("#status").inner_text()
        page.goto(f"{hub.url}/alerts/{bad}")
        expect(page.locator("#status")).to_have_text("Nouvelle")
    finally:
        page.close()


# -- every open alert reachable -----------------------------------------------------------------
def _many_open(database: Path, n: int) -> set[str]:
    db = hubdb.connect(database)
    ids = set()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        for i in range(n):
            msg = event_message(camera=f"cam-{i % 50:02d}",
                                started_at=f"2026-11-30T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
                                           f"{i % 60:02d}.000Z")
            hubdb.upsert_event(db, msg, json.dumps(msg))
            ids.add(str(msg["id"]))
    db.conn.close()
    return ids


def test_1500_open_alerts_are_all_reachable(tmp_path: Path, browser: Browser) -> None:
    """The API pages with a total; the queue shows the total and loads the rest on demand
    (repeats not folded here: every alert its own row)."""
    gen = start_hub(tmp_path, alerts=HubAlerts(group_window_s=0))
    hub = next(gen)
    ids = _many_open(hub.database, 1500)
    op = hub.login("operator")
    seen: list[str] = []
    for offset in (0, 1000):
        page = op.get(f"{hub.url}/api/v1/alerts?status=open&limit=1000&offset={offset}",
                      timeout=30).json()
        assert page["total"] == 1500 and page["offset"] == offset
        seen += [a["id"] for a in page["alerts"]]
    assert len(seen) == 1500 and set(seen) == ids
    assert op.get(f"{hub.url}/api/v1/alerts?limit=1001", timeout=10).status_code == 400

    page = browser.new_page()
    try:
        login(page, hub, "operator")
        expect(page.locator("#open-total")).to_have_text("1500 ouvertes", timeout=20000)
        expect(page.locator("#alerts tbody tr")).to_have_count(200)
        while page.locator("#more").is_visible():
            shown = page.locator("#alerts tbody tr").count()
            page.click("#more")
            wait_for(lambda n=shown: page.locator("#alerts tbody tr").count() > n, 30,  # type: ignore[misc]
                     what="more rows")
        expect(page.locator("#alerts tbody tr")).to_have_count(1500)
        rows = set(page.eval_on_selector_all("#alerts tbody tr", "rs => rs.map(r => r.dataset.id)"))
        assert rows == ids
        expect(page.locator("#status")).to_contain_text("1500 nouvelles")
    finally:
        page.close()
        next(gen, None)


# -- no inline script ---------------------------------------------------------------------------
def test_no_template_has_inline_script_and_the_csp_forbids_it(hub: Hub) -> None:
    for tpl in TEMPLATES.glob("*.html"):
        text = tpl.read_text()
        for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.S | re.I):
            assert "src=" in m.group(1) and not m.group(2).strip(), f"inline script in {tpl.name}"
        handlers = re.findall(r"<[^>]+\son[a-z]+\s*=", text, re.I)
        assert not handlers, f"inline event handler in {tpl.name}: {handlers}"
        for src in re.findall(r"filename='([^']+)'", text):
            assert (ROOT / "central" / "static" / src).is_file(), src
    r = requests.get(f"{hub.url}/login", timeout=10)
    csp = r.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp)
    assert script_src and script_src.group(1).strip() == "'self'", csp
    assert "unsafe-inline" not in script_src.group(1) and "unsafe-eval" not in csp
    js = requests.get(f"{hub.url}/static/alerts.js", timeout=10)
    assert js.status_code == 200 and "javascript" in js.headers["Content-Type"]


# -- the production server's limits --------------------------------------------------------------
def test_body_limit_and_idle_timeout(tmp_path: Path) -> None:
    """waitress refuses a body above the limit (413) and closes a connection that sends half a
    request and then nothing; the limit stays above the largest clip."""
    gen = start_hub(tmp_path, clips=HubClips(dir=tmp_path / "clips", max_bytes=64 * 1024),
                    web=HubWeb(channel_timeout_s=2))
    served = next(gen)
    try:
        r = requests.post(f"{served.url}/api/v1/alerts/x/ack", data=b"x" * (2 * 1024 * 1024),
                          headers={"Authorization": "Bearer machine-token-for-tests"}, timeout=30)
        assert r.status_code == 413, (r.status_code, r.text[:200])
        port = int(served.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            t0 = time.monotonic()
            assert sock.recv(1024) == b"", "the idle connection must be closed by the hub"
            assert time.monotonic() - t0 < 25
    finally:
        next(gen, None)
    assert HubConfig(clips=HubClips(max_bytes=16 * 1024 * 1024)).max_body_bytes() > 16 * 1024 * 1024
    with pytest.raises(ValueError, match=r"must be above clips\.max_bytes"):
        HubConfig(clips=HubClips(max_bytes=1024 * 1024), web=HubWeb(max_body_bytes=512 * 1024))


def test_hub_serve_runs_waitress(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg.write_text(f'database = "hub.sqlite"\nport = {port}\n[web]\nthreads = 2\n')
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "hub", "serve", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def up() -> requests.Response | None:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                return requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
            except requests.ConnectionError:
                return None

        r = wait_for(up, 60, what="vigie hub serve")
        assert r.status_code == 200 and r.headers["Server"] == "vigie-hub"
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('database = "hub.sqlite"\n[web]\nthreads = 0\n')
    out = subprocess.run([sys.executable, "-m", "edge.cli", "hub", "serve", "--config", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "threads" in out.stderr
