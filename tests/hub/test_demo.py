"""`vigie demo`: starts broker, hub and agent, prints a working URL, and stops everything."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from central.devtools.broker import free_port
from central.devtools.demo import DEMO_TOKEN
from edge.modelstore import ModelStore
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_runs_and_stops_cleanly(tmp_path: Path, spawn, model_store: ModelStore) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    demo = spawn("demo", "demo", "--workdir", str(tmp_path / "demo"), "--port", str(port),
                 env={"VIGIE_MODELS": str(model_store.root)})
    m = wait_for(lambda: re.search(r"Operator page: (http://\S+)", demo.text()), 60,
                 what="the operator URL")
    url = m.group(1)
    assert url == f"http://127.0.0.1:{port}/login"
    assert requests.get(url, timeout=5).status_code == 200
    # the printed accounts log in through the login form
    def login(role_text: str) -> dict[str, str]:
        creds = re.search(rf"as '(\S+)' \({role_text}\) with password '(\S+)'", demo.text())
        assert creds, demo.text()
        form = requests.get(url, timeout=5)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf
        r = requests.post(url, data={"csrf_token": csrf.group(1), "username": creds.group(1),
                                     "password": creds.group(2)},
                          headers={"Cookie": f"vigie_login_csrf={csrf.group(1)}"},
                          allow_redirects=False, timeout=10)
        assert r.status_code == 302, r.text[:300]
        return {"Cookie": f"vigie_session={r.cookies['vigie_session']}"}

    me = requests.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=5, headers=login("supervisor")).json()
    assert me == {"actor": "demo", "role": "supervisor", "via": "session"}
    officer = login("privacy officer")
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}

    def alerts() -> list[dict]:  # type: ignore[type-arg]
        return requests.get(f"http://127.0.0.1:{port}/api/v1/alerts", headers=headers,
                            timeout=5).json()["alerts"]

    found = wait_for(alerts, 60, interval=1, what="a demo alert")
    assert found[0]["type"] == "intrusion" and found[0]["camera"] == "cam-01"

    # the demo box is enrolled: its signed ledger digests reach the hub and verify
    def verified() -> dict | None:  # type: ignore[type-arg]
        cams = requests.get(f"http://127.0.0.1:{port}/api/v1/privacy/egress", headers=officer,
                            timeout=5).json()["cameras"]
        cam = next((c for c in cams if c["camera"] == "cam-01"), None)
        return cam if cam and cam["digests"] > 0 else None

    cam = wait_for(verified, 60, interval=1, what="a verified ledger digest from the demo box")
    assert cam["enrolled"] and cam["status"] == "ok", cam
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(30) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
    logs = tmp_path / "demo" / "logs"
    assert "agent stopped" in (logs / "edge.log").read_text()


def _descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (children, their children, ...), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        pid = todo.pop()
        kids = {child for child, parent in parents.items() if parent == pid}
        todo.extend(kids - found)
        found |= kids
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_to_the_process_group_stops_everything(tmp_path: Path, model_store: ModelStore) -> None:
    """A terminal's Ctrl-C (SIGINT to the whole foreground group) is a clean stop, exit 0."""
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "demo", "--workdir", str(tmp_path / "demo"),
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "VIGIE_MODELS": str(model_store.root)},
            process_group=0)
    children: set[int] = set()
    try:
        wait_for(lambda: "Operator page: http://" in log.read_text(), 120, what="the operator URL")
        children = wait_for(lambda: (d := _descendants(demo.pid)) and len(d) >= 4 and d, 10,
                            what="broker, ingest, serve and edge")
        os.killpg(demo.pid, signal.SIGINT)
        status = demo.wait(60)
        left = {pid for pid in children if _running(pid)}
    finally:  # whatever failed, leave nothing behind (only processes of this test's workdir)
        for pid in {*children, *_descendants(demo.pid)}:
            if _running(pid) and str(tmp_path) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                os.kill(pid, signal.SIGKILL)
        if demo.poll() is None:
            demo.kill()
        demo.wait(5)
    text = log.read_text()
    assert status == 0, text
    assert "Error:" not in text and "Traceback" not in text, text
    assert "Vigie demo stopped." in text, text
    assert not left, f"still running after the demo stopped: {left}"
