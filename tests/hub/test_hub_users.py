"""Users, sessions, CSRF, throttling and the `vigie hub user|token` commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

from central import db as hubdb
from central.users import UserError, add_user, authenticate, get_user
from tests.kits.hubkit import PASSWORD, Hub, hub, insert_event

__all__ = ["hub"]


def _login_form(hub: Hub) -> tuple[requests.Session, str]:
    s = requests.Session()
    page = s.get(f"{hub.url}/login", timeout=10)
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m
    return s, m.group(1)


def _post_login(hub: Hub, username: str, password: str) -> requests.Response:
    s, csrf = _login_form(hub)
    return s.post(f"{hub.url}/login", data={"csrf_token": csrf, "username": username,
                                            "password": password},
                  headers={"Cookie": f"vigie_login_csrf={csrf}"}, allow_redirects=False, timeout=10)


def test_session_cookie_flags_and_password_hash(hub: Hub) -> None:
    r = _post_login(hub, "operator", PASSWORD)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "vigie_session=" in cookie
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie, cookie
    db = hub.db()
    stored = db.execute("SELECT password_hash FROM users WHERE username='operator'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    token = r.cookies["vigie_session"]
    sessions = [row[0] for row in db.execute("SELECT id FROM sessions").fetchall()]
    assert token not in sessions and len(sessions) == 1, "only the token's hash is stored"


def test_wrong_password_and_throttling(hub: Hub) -> None:
    r = _post_login(hub, "operator", "wrong password!")
    assert r.status_code == 401 and "Identifiant ou mot de passe incorrect" in r.text
    for _ in range(4):
        assert _post_login(hub, "operator", "wrong password!").status_code == 401
    r = _post_login(hub, "operator", PASSWORD)  # right password, but throttled now
    assert r.status_code == 429 and "Trop de tentatives échouées" in r.text
    assert _post_login(hub, "supervisor", PASSWORD).status_code == 302, "other users unaffected"
    for i in range(14):  # 5 + 14 = 19 failures from this address, spread over user names
        assert _post_login(hub, f"guess-{i % 3}", "whatever123").status_code in (401, 429)
    assert _post_login(hub, "admin", "still wrong 1").status_code == 401
    r = _post_login(hub, "admin", PASSWORD)
    assert r.status_code == 429, "20 failures from one address stop it, whatever the names"


def test_login_needs_its_csrf_token(hub: Hub) -> None:
    r = requests.post(f"{hub.url}/login", data={"username": "operator", "password": PASSWORD},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "CSRF" in r.text


def test_session_forms_need_csrf(hub: Hub) -> None:
    s = hub.login("operator")
    alert = insert_event(hub.database)
    no_csrf = {"Cookie": s.headers["Cookie"]}
    r = requests.post(f"{hub.url}/api/v1/alerts/{alert}/ack", json={}, headers=no_csrf, timeout=10)
    assert r.status_code == 400 and "CSRF" in r.json()["message"]
    r = requests.post(f"{hub.url}/api/v1/alerts/{alert}/ack", json={},
                      headers={**no_csrf, "X-CSRF-Token": "forged"}, timeout=10)
    assert r.status_code == 400
    assert s.post(f"{hub.url}/api/v1/alerts/{alert}/ack", json={}, timeout=10).status_code == 200


def test_disable_ends_sessions_and_next_redirect(hub: Hub) -> None:
    s = hub.login("operator")
    assert s.get(f"{hub.url}/api/v1/me", timeout=10).status_code == 200
    admin = hub.login("admin")
    r = admin.post(f"{hub.url}/admin/users", data={"action": "disable", "username": "admin",
                                                  "csrf_token": admin.headers["X-CSRF-Token"]},
                   timeout=10)
    assert r.status_code == 400 and "Vous ne pouvez pas désactiver votre propre compte" in r.text
    r = admin.post(f"{hub.url}/admin/users", data={"action": "disable", "username": "operator",
                                                  "csrf_token": admin.headers["X-CSRF-Token"]},
                   timeout=10)
    assert r.status_code == 200 and "Utilisateur operator désactivé." in r.text
    assert s.get(f"{hub.url}/api/v1/me", timeout=10).status_code == 401
    assert _post_login(hub, "operator", PASSWORD).status_code == 401
    r = requests.get(f"{hub.url}/search?type=intrusion", allow_redirects=False, timeout=10)
    assert r.headers["Location"] == "/login?next=/search%3Ftype%3Dintrusion"


def test_admin_registers_api_client_with_role(hub: Hub) -> None:
    admin = hub.login("admin")
    r = admin.post(f"{hub.url}/admin/users", data={"action": "client", "username": "vms-bridge",
                                                  "role": "privacy_officer",
                                                  "csrf_token": admin.headers["X-CSRF-Token"]},
                   timeout=10)
    token = re.search(r'id="new-token">([^<]+)<', r.text)
    assert r.status_code == 200 and token
    auth = {"Authorization": f"Bearer {token.group(1)}"}
    assert requests.get(f"{hub.url}/api/v1/audit", headers=auth, timeout=10).status_code == 200
    assert requests.get(f"{hub.url}/api/v1/alerts", headers=auth, timeout=10).status_code == 403


def test_user_rules(tmp_path: Path) -> None:
    db = hubdb.connect(tmp_path / "h.sqlite")
    for name, pw, role, why in (("Bad Name", PASSWORD, "operator", "user name"),
                                ("ok-name", "short", "operator", "too short"),
                                ("ok-name", PASSWORD, "boss", "unknown role")):
        try:
            add_user(db, name, pw, role)
        except UserError as exc:
            assert why in str(exc)
        else:
            raise AssertionError(f"{name}/{role} accepted")
    add_user(db, "ok-name", PASSWORD, "operator")
    assert authenticate(db, "ok-name", PASSWORD, "1.2.3.4") is not None
    assert authenticate(db, "ok-name", PASSWORD + "x", "1.2.3.4") is None


def _vigie(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", "hub", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_cli_user_add_passwd_disable(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text('database = "hub.sqlite"\n')
    r = _vigie("user", "add", "--config", str(cfg), "alice", "--role", "supervisor",
               "--password-stdin", stdin="first password 1\n")
    assert r.returncode == 0, r.stderr
    assert "alice added with role supervisor" in r.stdout
    r = _vigie("user", "add", "--config", str(cfg), "alice", "--role", "supervisor",
               "--password-stdin", stdin="first password 1\n")
    assert r.returncode != 0 and "already exists" in r.stderr
    r = _vigie("user", "add", "--config", str(cfg), "bruno", "--role", "operator",
               "--language", "en", "--password-stdin", stdin="bruno password 1\n")
    assert r.returncode == 0 and "language en" in r.stdout, r.stderr
    r = _vigie("user", "add", "--config", str(cfg), "carla", "--role", "operator",
               "--language", "de", "--password-stdin", stdin="carla password 1\n")
    assert r.returncode != 0 and "'de' is not one of" in r.stderr
    r = _vigie("user", "passwd", "--config", str(cfg), "alice", "--password-stdin",
               stdin="second password 2\n")
    assert r.returncode == 0, r.stderr
    db = hubdb.connect(tmp_path / "hub.sqlite")
    assert authenticate(db, "alice", "second password 2", "cli") is not None
    assert authenticate(db, "alice", "first password 1", "cli") is None
    r = _vigie("user", "disable", "--config", str(cfg), "alice")
    assert r.returncode == 0, r.stderr
    user = get_user(db, "alice")
    assert user is not None and user.disabled
    assert authenticate(db, "alice", "second password 2", "cli") is None
    r = _vigie("user", "disable", "--config", str(cfg), "bob")
    assert r.returncode != 0 and "no user 'bob'" in r.stderr
    r = _vigie("token", "add", "--config", str(cfg), "soc", "--role", "operator")
    assert r.returncode == 0 and r.stdout.startswith("vgt_")
    actions = [row[0] for row in db.execute("SELECT action FROM audit ORDER BY id").fetchall()]
    assert actions == ["user.add", "user.add", "user.language", "user.passwd", "user.disable",
                       "api_client.add"]
    bruno = get_user(db, "bruno")
    assert bruno is not None and bruno.language == "en"
