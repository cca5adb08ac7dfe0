"""Shared fixtures: the real models and media from ../shared, a real Mosquitto, real processes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.devtools.broker import LocalBroker, mosquitto_path, start_broker
from edge.modelstore import ModelStore
from tests.kits.brokerkit import Fleet, RoleBroker, render_fleet

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MEDIA = SHARED / "media"
OUTPUT = ROOT / "test-output"

logging.getLogger("PIL").setLevel(logging.WARNING)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not SHARED.is_dir():
        pytest.exit(f"../shared is missing: the tests need {SHARED} (models and media)", 2)


@pytest.fixture(scope="session")
def shared() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def media() -> Path:
    return MEDIA


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    """A model store filled from ../shared/models and verified against the manifest."""
    store = ModelStore(tmp_path_factory.mktemp("models"))
    store.fetch(mirror=SHARED / "models", allow_download=False)
    return store


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A real Mosquitto on a free loopback port, stopped after the test."""
    if mosquitto_path() is None:
        pytest.fail("Mosquitto is not installed: run `make test` as root or apt-get install mosquitto")
    b = start_broker(tmp_path / "broker")
    yield b
    b.stop()


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    """The pki and hub roles' broker files for the test fleet (rendered when the roles change)."""
    return render_fleet()


@pytest.fixture
def role_broker(fleet: Fleet, tmp_path: Path) -> Iterator[RoleBroker]:
    """Mosquitto on the hub role's settings (TLS, passwords, ACL, queue limits, persistence)."""
    b = RoleBroker(fleet, tmp_path / "role-broker").start()
    yield b
    b.stop()


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """A folder under test-output/ for files a person may want to look at after the run."""
    d = OUTPUT / request.node.name
    d.mkdir(parents=True, exist_ok=True)
    return d


class Proc:
    """A ``vigie`` subprocess with its log file, stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(
        self, args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None,
        prefix: list[str] | None = None,
    ):
        self.args = args
        self.log = log
        self._logf = log.open("ab")
        self.proc = subprocess.Popen(  # prefix: e.g. ["ip", "netns", "exec", NS], which execs
            [*(prefix or []), sys.executable, "-m", "edge.cli", *args],
            stdout=self._logf, stderr=subprocess.STDOUT, cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._logf.close()
        return int(self.proc.returncode)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._logf.close()

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[object]:
    """Start ``vigie`` subprocesses: ``spawn(name, *args)``; all are stopped after the test."""
    procs: list[Proc] = []

    def _spawn(name: str, *args: str, env: dict[str, str] | None = None,
               prefix: list[str] | None = None) -> Proc:
        p = Proc(list(args), tmp_path / f"{name}.log", env=env, cwd=tmp_path, prefix=prefix)
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        p.stop()


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
