"""``vigie demo``: a broker, the hub and one edge agent on a sample video, on this machine."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from central.devtools.broker import BrokerError, LocalBroker, free_port, start_broker, wait_port

log = logging.getLogger(__name__)

DEMO_TOKEN = "demo-token"
DEMO_DEVICE_TOKEN = "demo-device-token-cam-01"
DEFAULT_VIDEO = "media/video/one-by-one-person-detection.mp4"
DEMO_ZONE = [[0.40, 0.70], [0.78, 0.70], [0.78, 1.0], [0.40, 1.0]]
"""Around the standing table of the sample video, where each visitor stops."""


class DemoError(Exception):
    """The demo could not start; the text says what is missing."""


def _shared_video() -> Path | None:
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):  # the checkout, or here
        cand = base.parent / "shared" / DEFAULT_VIDEO
        if cand.is_file():
            return cand
    return None


def write_configs(workdir: Path, video: Path, broker_port: int, http_port: int) -> tuple[Path, Path]:
    """The demo's hub and box configs (annotated, so they double as examples)."""
    hub = workdir / "hub.toml"
    hub.write_text(
        f"""# Vigie hub (demo)
database = "data/hub.sqlite"
bind = "127.0.0.1"
port = {http_port}
signing_key = "data/hub.ed25519"  # signs forensic search requests (made by the demo, or `vigie hub keygen`)

[broker]
host = "127.0.0.1"
port = {broker_port}

[api_tokens]
{DEMO_TOKEN} = "demo-operator"

[device_tokens]                 # clip uploads: device token -> its camera
{DEMO_DEVICE_TOKEN} = {{ site = "demo", camera = "cam-01" }}

[clips]
dir = "data/clips"
"""
    )
    box = workdir / "box.toml"
    polygon = ", ".join(f"[{x}, {y}]" for x, y in DEMO_ZONE)
    box.write_text(
        f"""# Vigie edge box (demo): one camera on a looping sample video.
site = "demo"
camera = "cam-01"
data_dir = "data/box"

[source]
url = "{video}"
loop = true
realtime = true

[broker]
host = "127.0.0.1"
port = {broker_port}

[health]
interval_s = 10

[ledger]                        # signed egress-ledger digests for the privacy officer
interval_s = 10

[upload]                        # anonymised event clips go to the hub
hub_url = "http://127.0.0.1:{http_port}"
device_token = "{DEMO_DEVICE_TOKEN}"

[clips]
anonymize = "faces+persons"     # faces (YuNet) and person heads blurred; "off" is refused
shutdown_wait_s = 5             # on Ctrl-C, a clip not encoded within 5 s is dropped

[[zones]]
name = "table"
polygon = [{polygon}]

[[rules]]
type = "intrusion"
zone = "table"
classes = ["person"]
dwell_s = 2
clear_s = 3
severity = "warning"
"""
    )
    return hub, box


DEMO_USER = "demo"
DEMO_OFFICER = "demo-privacy"


def enrol_demo_box(workdir: Path) -> None:
    """Enrol the demo box as ``vigie edge enrol`` + ``vigie hub enrol-box`` + ``vigie hub keygen``
    would: its ledger digests are then verified and it answers signed searches."""
    from central import db as hubdb
    from central.ingest.receipts import enrol_device
    from edge.wire import keys

    box_keys = keys.keys_dir(workdir / "data" / "box")
    key, _ = keys.load_or_generate(box_keys / keys.BOX_KEY)
    hub_key, _ = keys.load_or_generate(workdir / "data" / "hub.ed25519")
    keys.write_public(box_keys / keys.HUB_PUBLIC_KEY, keys.public_text(hub_key))
    db = hubdb.connect(workdir / "data" / "hub.sqlite")
    try:
        enrol_device(db, "demo", "cam-01", keys.public_text(key), actor="vigie demo")
    finally:
        db.conn.close()


def demo_user(database: Path, name: str = DEMO_USER, role: str = "supervisor") -> str:
    """Create (or reset) a demo account; returns its fresh random password."""
    import secrets

    from central import db as hubdb
    from central.users import add_user, get_user, set_password

    password = secrets.token_urlsafe(12)
    db = hubdb.connect(database)
    try:
        if get_user(db, name) is None:
            add_user(db, name, password, role)
        else:
            set_password(db, name, password)
    finally:
        db.conn.close()
    return password


STOP_WAIT_S = {"edge": 30.0, "serve": 15.0, "ingest": 15.0}
"""How long each process may take to stop (the agent finishes its clips and flushes its outbox)."""
STOP_ORDER = ("edge", "serve", "ingest")
"""The agent first, while the broker and ingest still take what it flushes; the broker last."""
STOPPED_BY_SIGNAL = {0, -signal.SIGINT, -signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGTERM}
"""Exit statuses of a process that was asked to stop: a clean exit or death by SIGINT/SIGTERM."""


class _Stop(Exception):
    """Ctrl-C or SIGTERM reached the demo."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signum)


def run_demo(video: Path | None, http_port: int, workdir: Path) -> None:
    """Start everything, print the operator URL, and stop it all on Ctrl-C or SIGTERM.

    On a terminal's Ctrl-C the whole process group gets SIGINT: the three ``vigie`` processes
    stop themselves while the demo sends each SIGTERM in :data:`STOP_ORDER` (enough when only
    the demo was signalled) and reaps it. The broker runs in a process group of its own and is
    stopped last, so the agent can still flush to it. A process that ends with an error status
    is a :class:`DemoError`; one that was stopped (status 0, or killed by SIGINT/SIGTERM) is not.
    """
    video = video or _shared_video()
    if video is None or not video.is_file():
        raise DemoError(f"sample video not found; pass --video or put ../shared beside the checkout "
                        f"({DEFAULT_VIDEO})")
    workdir = workdir.resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    broker: LocalBroker | None = None
    try:
        try:
            broker = start_broker(workdir / "broker", own_group=True)
        except BrokerError as exc:
            raise DemoError(str(exc)) from None
        if not _port_free(http_port):
            http_port = free_port()
        hub_cfg, box_cfg = write_configs(workdir, video.resolve(), broker.port, http_port)
        password = demo_user(workdir / "data" / "hub.sqlite")
        officer_password = demo_user(workdir / "data" / "hub.sqlite", DEMO_OFFICER, "privacy_officer")
        enrol_demo_box(workdir)
        _spawn_all(procs, workdir, hub_cfg, box_cfg)
        if not wait_port(http_port, 30, procs["serve"]):
            raise DemoError(f"the hub did not start; see {workdir / 'logs' / 'serve.log'}")
        _print_welcome(broker, http_port, password, officer_password, workdir)
        _watch(procs, workdir)
    except _Stop:
        pass
    finally:
        for sig in previous:  # a second Ctrl-C must not cut the orderly stop short
            signal.signal(sig, signal.SIG_IGN)
        print("\nstopping…", flush=True)
        _stop_all(procs, broker)
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
    print("Vigie demo stopped.", flush=True)


def _spawn_all(procs: dict[str, subprocess.Popen[bytes]], workdir: Path, hub_cfg: Path,
               box_cfg: Path) -> None:
    """Start ingest, the web server and the agent (in the demo's process group: a terminal's
    Ctrl-C reaches them too, and each stops itself cleanly on it)."""
    vigie = [sys.executable, "-m", "edge.cli"]
    for name, args in (
        ("ingest", ["hub", "ingest", "--config", str(hub_cfg)]),
        ("serve", ["hub", "serve", "--config", str(hub_cfg)]),
        ("edge", ["edge", "run", str(box_cfg)]),
    ):
        with (workdir / "logs" / f"{name}.log").open("ab") as logf:
            procs[name] = subprocess.Popen([*vigie, *args], stdout=logf, stderr=subprocess.STDOUT,
                                           cwd=workdir, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _print_welcome(broker: LocalBroker, http_port: int, password: str, officer_password: str,
                   workdir: Path) -> None:
    url = f"http://127.0.0.1:{http_port}/login"
    print(f"\nVigie demo running ({broker.kind} broker on port {broker.port}).")
    print(f"Operator page: {url}")
    print(f"Log in as {DEMO_USER!r} (supervisor) with password {password!r}")
    print(f"Privacy pages: log in as {DEMO_OFFICER!r} (privacy officer) with password "
          f"{officer_password!r}")
    print(f"API: curl -H 'Authorization: Bearer {DEMO_TOKEN}' "
          f"http://127.0.0.1:{http_port}/api/v1/alerts")
    print(f"Logs: {workdir / 'logs'}/   Ctrl-C stops everything.\n", flush=True)


def _watch(procs: dict[str, subprocess.Popen[bytes]], workdir: Path) -> None:
    """Return when a process was stopped; raise :class:`DemoError` when one fails."""
    while True:
        for name, proc in procs.items():
            code = proc.poll()
            if code is None:
                continue
            if code in STOPPED_BY_SIGNAL:
                log.info("%s was stopped (exit status %d): stopping the demo", name, code)
                return
            raise DemoError(f"{name} exited with code {code}; "
                            f"see {workdir / 'logs' / (name + '.log')}")
        time.sleep(0.5)


def _stop_all(procs: dict[str, subprocess.Popen[bytes]], broker: LocalBroker | None) -> None:
    """SIGTERM each process in :data:`STOP_ORDER` and reap it (killed after its wait); then the
    broker."""
    for name in STOP_ORDER:
        proc = procs.get(name)
        if proc is None:
            continue
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_WAIT_S[name])
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killed", name, STOP_WAIT_S[name])
            proc.kill()
            proc.wait()
    if broker is not None:
        broker.stop()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
