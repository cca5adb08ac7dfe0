"""Logins under attack, over real HTTP: parallel guessing, floods, spoofed addresses, the hub
role's nginx in front; audited refusals; revocable tokens; safe ``next=``; every role."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import requests
from argon2 import PasswordHasher
from requests.adapters import HTTPAdapter

from central import users
from central.config import HubWeb, load
from central.users import ROLES, add_user
from central.web.server import HubServer
from tests.conftest import wait_for
from tests.kits.hubkit import PASSWORD, Hub, hub, start_hub
from tests.provision import kit

__all__ = ["hub"]

NGINX = "/usr/sbin/nginx"


class FromAddress(HTTPAdapter):
    """Connect from a given loopback address (all of 127/8 is local on Linux)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address: str = "127.0.0.1", verify: Any = True) -> requests.Session:
    s = requests.Session()
    s.mount("http://", FromAddress(address))
    s.mount("https://", FromAddress(address))
    s.verify = verify
    s.trust_env = False  # else REQUESTS_CA_BUNDLE would override ``verify``
    return s


def login_form(s: requests.Session, url: str) -> str:
    page = s.get(f"{url}/login", timeout=20)
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m, page.text[:300]
    return m.group(1)


def post_login(s: requests.Session, url: str, username: str, password: str, csrf: str | None = None,
               next_: str | None = None, headers: dict[str, str] | None = None) -> requests.Response:
    csrf = csrf or login_form(s, url)
    return s.post(f"{url}/login" + (f"?next={next_}" if next_ is not None else ""),
                  data={"csrf_token": csrf, "username": username, "password": password},
                  headers={"Cookie": f"vigie_login_csrf={csrf}", **(headers or {})},
                  allow_redirects=False, timeout=60)


def audit_rows(hub_db: Any, action: str) -> list[tuple[str, str, str]]:
    return [(r[0], r[1], r[2]) for r in hub_db.execute(
        "SELECT actor, subject, why FROM audit WHERE action = ? ORDER BY id", [action]).fetchall()]


@pytest.fixture
def wide_hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub serving 16 requests at once, so parallel logins really run in parallel."""
    yield from start_hub(tmp_path, web=HubWeb(threads=16))


def test_parallel_wrong_passwords_reach_argon2_at_most_the_limit(
        wide_hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """60 wrong passwords for one account at once: at most THROTTLE_MAX_FAILURES are checked
    against argon2 (the count and the attempt's record are one transaction), the rest get 429."""
    checked: list[str] = []

    class CountingHasher(PasswordHasher):
        """The real argon2 hasher, counting the passwords it checks."""

        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checked.append(str(password))
            return super().verify(hash, password)

    monkeypatch.setattr(users, "_hasher", CountingHasher())
    sessions = [client() for _ in range(60)]
    forms = [login_form(s, wide_hub.url) for s in sessions]
    start = threading.Barrier(60)
    codes: list[int] = []

    def attack(i: int) -> None:
        start.wait()
        codes.append(post_login(sessions[i], wide_hub.url, "operator", f"wrong guess {i}",
                                csrf=forms[i]).status_code)

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(codes) == 60
    assert len(checked) <= users.THROTTLE_MAX_FAILURES, f"{len(checked)} passwords checked"
    assert codes.count(401) == len(checked) and codes.count(429) == 60 - len(checked), codes
    db = wide_hub.db()
    failed = audit_rows(db, "login.failed")
    assert len(failed) == len(checked) and all(r == ("anonymous", "operator", "from 127.0.0.1")
                                               for r in failed), failed
    throttled = audit_rows(db, "login.throttled")
    assert len(throttled) == 1, "a flood is audited once a minute, not once a request"
    text = "\n".join(str(tuple(r)) for r in db.execute("SELECT * FROM audit").fetchall())
    assert "wrong guess" not in text, "a password tried never reaches the audit log"


def test_flood_on_one_account_does_not_lock_another(hub: Hub) -> None:
    """30 wrong passwords for one account from one address: that account (from there) waits;
    another account logs in from the same address."""
    s = client("127.0.0.9")
    codes = [post_login(s, hub.url, "operator", "not the password").status_code for _ in range(30)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    assert post_login(s, hub.url, "operator", PASSWORD).status_code == 429
    assert post_login(s, hub.url, "supervisor", PASSWORD).status_code == 302
    assert post_login(client("127.0.0.10"), hub.url, "operator", PASSWORD).status_code == 302


def test_spoofed_forwarded_for_from_a_non_proxy_is_ignored(hub: Hub) -> None:
    """No proxy is trusted by default: an X-Forwarded-For that changes on every attempt does
    not give a client fresh addresses to guess from."""
    s = client("127.0.0.11")
    codes = [post_login(s, hub.url, "admin", "guess guess", headers={
        "X-Forwarded-For": f"10.0.{i}.1"}).status_code for i in range(7)]
    assert codes == [401] * 5 + [429] * 2, codes
    whys = {why for _a, _s, why in audit_rows(hub.db(), "login.failed")}
    assert whys == {"from 127.0.0.11"}, whys


@pytest.mark.parametrize("target", [
    "/%0d%0aSet-Cookie:%20x=1", "/search%0aLocation:%20https://evil.example/", "//evil.example/",
    "/\\evil.example", "https://evil.example/", "http:/evil.example", "/%09/evil.example",
    "javascript:alert(1)", "%2F%2Fevil.example"])
def test_next_after_login_stays_on_the_hub(hub: Hub, target: str) -> None:
    r = post_login(client(), hub.url, "operator", PASSWORD, next_=target)
    assert r.status_code == 302, (target, r.status_code, r.text[:200])
    assert r.headers["Location"] == "/", (target, r.headers["Location"])
    assert "x=1" not in r.headers.get("Set-Cookie", "")


def test_next_after_login_keeps_a_local_path(hub: Hub) -> None:
    r = post_login(client(), hub.url, "operator", PASSWORD, next_="/search%3Ftype%3Dintrusion")
    assert r.status_code == 302 and r.headers["Location"] == "/search?type=intrusion"


def _vigie(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", "hub", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_cli_knows_every_role_and_revokes_tokens(tmp_path: Path) -> None:
    """`vigie hub user add --role R` and `token add --role R` for every role the hub knows;
    `token revoke` turns the token away at once (401) and is audited."""
    cfg = tmp_path / "hub.toml"
    cfg.write_text('database = "hub.sqlite"\ncookie_secure = false\n')
    tokens = {}
    for role in ROLES:
        name = "u-" + role.replace("_", "-")
        r = _vigie("user", "add", "--config", str(cfg), name, "--role", role, "--password-stdin",
                   stdin=PASSWORD + "\n")
        assert r.returncode == 0 and f"added with role {role}" in r.stdout, r.stderr
        r = _vigie("token", "add", "--config", str(cfg), "t-" + role.replace("_", "-"), "--role", role)
        assert r.returncode == 0, r.stderr
        tokens[role] = r.stdout.strip()
    assert load(cfg).database == tmp_path / "hub.sqlite"
    gen = start_hub(tmp_path)  # serves that same database
    served = next(gen)
    try:
        auth = {"Authorization": f"Bearer {tokens['investigator']}"}
        me = requests.get(f"{served.url}/api/v1/me", headers=auth, timeout=10)
        assert me.status_code == 200 and me.json()["role"] == "investigator"
        r = _vigie("token", "revoke", "--config", str(cfg), "t-investigator")
        assert r.returncode == 0 and "revoked" in r.stdout, r.stderr
        assert requests.get(f"{served.url}/api/v1/me", headers=auth, timeout=10).status_code == 401
        listed = _vigie("token", "list", "--config", str(cfg)).stdout
        assert re.search(r"t-investigator\s+investigator\s+revoked", listed), listed
        assert re.search(r"t-admin\s+admin\s+active", listed), listed
        r = _vigie("token", "revoke", "--config", str(cfg), "nobody-here")
        assert r.returncode != 0 and "no API client 'nobody-here'" in r.stderr
        assert audit_rows(served.db(), "api_client.revoke") == [("cli", "t-investigator", "")]
    finally:
        next(gen, None)


def test_admin_page_revokes_a_token(hub: Hub) -> None:
    admin = hub.login("admin")
    csrf = admin.headers["X-CSRF-Token"]
    r = admin.post(f"{hub.url}/admin/users", data={"action": "client", "username": "vms-bridge",
                                                  "role": "supervisor", "csrf_token": csrf}, timeout=10)
    m = re.search(r'id="new-token">([^<]+)<', r.text)
    assert m
    auth = {"Authorization": f"Bearer {m.group(1)}"}
    assert requests.get(f"{hub.url}/api/v1/alerts", headers=auth, timeout=10).status_code == 200
    r = admin.post(f"{hub.url}/admin/users", data={"action": "revoke", "username": "vms-bridge",
                                                  "csrf_token": csrf}, timeout=10)
    assert r.status_code == 200 and "Jeton du client API vms-bridge révoqué." in r.text
    assert re.search(r"<td>vms-bridge</td><td>Superviseur</td><td>révoqué</td>", r.text)
    assert requests.get(f"{hub.url}/api/v1/alerts", headers=auth, timeout=10).status_code == 401
    assert audit_rows(hub.db(), "api_client.revoke") == [("admin", "vms-bridge", "")]


# -- behind the hub role's nginx ------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(tls: Path) -> Path:
    tls.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tls / "server.key"), "-out", str(tls / "server.pem")],
                   check=True, capture_output=True, timeout=60)
    return tls / "server.pem"


def _render_role(tmp: Path, hub_port: int, https_port: int) -> None:
    """The hub role's hub.toml and nginx site, rendered by Ansible as on a hub."""
    play = kit.write_yaml(tmp / "render.yml", [{
        "name": "Render the hub's web configuration", "hosts": "localhost", "connection": "local",
        "gather_facts": False,
        "vars_files": [str(kit.ANSIBLE / "roles/hub/defaults/main.yml")],
        "tasks": [{"name": "Render", "ansible.builtin.template": {
            "src": f"{kit.ANSIBLE}/roles/hub/templates/{{{{ item }}}}.j2",
            "dest": f"{tmp}/{{{{ item }}}}", "mode": "0644"},
            "loop": ["hub.toml", "nginx-vigie-hub.conf"]}],
    }])
    extra = {"hub_port": hub_port, "hub_https_port": https_port, "hub_config_dir": str(tmp),
             "hub_data_dir": str(tmp / "data"), "hub_mqtt_password": "unused-here"}
    out = subprocess.run([str(kit.BIN / "ansible-playbook"), str(play),
                          *[a for k, v in extra.items() for a in ("-e", f"{k}={v}")]],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[str, str, Path, Path]]:
    """The hub (its config as the role writes it, waitress) behind nginx with the role's site:
    (https URL through nginx, direct URL, CA file, database)."""
    hub_port, https_port = _free_port(), _free_port()
    ca = _self_signed(tmp_path / "tls")
    _render_role(tmp_path, hub_port, https_port)
    cfg = load(tmp_path / "hub.toml")
    assert [str(n) for n in cfg.trusted_proxies] == ["127.0.0.1/32"]
    from central import create_app
    from central import db as hubdb

    db = hubdb.connect(cfg.database)
    for role in ROLES:
        add_user(db, role.replace("_", "-"), PASSWORD, role)
    db.conn.close()
    server = HubServer(create_app(cfg), cfg)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "nginx").mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\nuser root;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/nginx.err;\n"
        "events {}\nhttp {\n  access_log off;\n"
        + "".join(f"  {k}_temp_path {tmp_path}/nginx/{k};\n"
                  for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {tmp_path}/nginx-vigie-hub.conf;\n}}\n")
    nginx = subprocess.Popen([NGINX, "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "nginx.err")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"https://127.0.0.1:{https_port}"

    def answering() -> int | str:
        try:
            code = client(verify=str(ca)).get(f"{url}/login", timeout=5).status_code
        except requests.ConnectionError as exc:
            if nginx.poll() is not None:
                raise AssertionError(f"nginx exited: {(tmp_path / 'nginx.err').read_text()}") from None
            return str(exc)
        return code if code != 200 else "ok"

    try:
        wait_for(lambda: answering() == "ok", 30, what="nginx in front of the hub")
        yield url, f"http://127.0.0.1:{hub_port}", ca, cfg.database
    finally:
        nginx.terminate()
        nginx.wait(10)
        server.shutdown()
        thread.join(10)


def test_behind_nginx_each_client_is_counted_on_its_own_address(
        proxied: tuple[str, str, Path, Path]) -> None:
    """Through the role's nginx, 20 failed logins from 20 addresses lock nobody out (the hub
    believes nginx's X-Forwarded-For, and only nginx's); a client's own X-Forwarded-For is
    replaced by nginx; sent straight to the hub, it is ignored."""
    from central import db as hubdb

    url, direct, ca, database = proxied
    for i in range(20):
        s = client(f"127.0.0.{20 + i}", verify=str(ca))
        assert post_login(s, url, f"guess-{i % 4}", "wrong password").status_code == 401
    for user in ("operator", "supervisor", "admin"):
        r = post_login(client("127.0.0.99", verify=str(ca)), url, user, PASSWORD)
        assert r.status_code == 302, (user, r.status_code)
    db = hubdb.connect(database)
    whys = [why for _a, _s, why in audit_rows(db, "login.failed")]
    assert whys == [f"from 127.0.0.{20 + i}" for i in range(20)], whys
    logins = [r[0] for r in db.execute("SELECT why FROM audit WHERE action = 'login'").fetchall()]
    assert logins == ["127.0.0.99"] * 3

    spoof = client("127.0.0.60", verify=str(ca))
    assert post_login(spoof, url, "operator", "wrong again",
                      headers={"X-Forwarded-For": "10.6.6.6"}).status_code == 401
    direct_spoof = client("127.0.0.61")
    assert post_login(direct_spoof, direct, "operator", "wrong again",
                      headers={"X-Forwarded-For": "10.7.7.7"}).status_code == 401
    whys = [why for _a, _s, why in audit_rows(db, "login.failed")][20:]
    assert whys == ["from 127.0.0.60", "from 127.0.0.61"], whys
    db.conn.close()
