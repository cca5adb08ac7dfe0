"""Start a local MQTT broker for the demo and the tests: Mosquitto when installed, else amqtt.

Production runs Mosquitto 2 with TLS, per-device credentials and an ACL (see ``ansible/``);
this is only the loopback broker of a demo or a test run, anonymous, but with the production
queue limits and persistence cadence (:data:`QUEUE_SETTINGS`). It leaves out the role's
``max_packet_size``, so that the tests can still prove the box and the hub refuse oversized
payloads themselves when a broker lets them through.
"""

from __future__ import annotations

import getpass
import logging
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


QUEUE_SETTINGS = {
    "max_queued_messages": 7_056_000,
    "max_queued_bytes": 0,
    "max_inflight_messages": 100,
    "autosave_interval": 300,
}
"""How Mosquitto queues for an offline persistent session, as the hub role sets it for a 24 h
hub outage at 1,400 cameras (ansible/roles/hub/defaults/main.yml; a provisioning test checks
that the two agree)."""


class BrokerError(Exception):
    """The local broker could not be started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_path() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for cand in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(cand).exists():
            return cand
    return None


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class LocalBroker:
    """A broker process on 127.0.0.1:``port``."""

    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def start_broker(workdir: Path, port: int | None = None, prefer: str = "mosquitto",
                 persistence: bool = True, also_bind: str | None = None,
                 own_group: bool = False) -> LocalBroker:
    """Start Mosquitto (or amqtt if Mosquitto is not installed) on a loopback port.

    ``own_group``: run it in a process group of its own, out of reach of the terminal's Ctrl-C
    (the demo stops it last, after the processes that still talk to it).

    ``also_bind``: one more local address Mosquitto listens on, same port (the chaos tests'
    network namespace reaches the broker through a veth address).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = workdir / "broker.log"
    exe = mosquitto_path() if prefer == "mosquitto" else None
    if exe:
        conf = workdir / "mosquitto.conf"
        lines = [
            f"listener {port} 127.0.0.1",
            *([f"listener {port} {also_bind}"] if also_bind else []),
            "allow_anonymous true",
            *(f"{name} {value}" for name, value in QUEUE_SETTINGS.items()
              if name != "autosave_interval"),
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if persistence:
            # Mosquitto started as root drops to the "mosquitto" user unless told otherwise, and
            # then cannot write its persistence file here: sessions would not survive a restart.
            lines += [f"user {getpass.getuser()}", "persistence true",
                      f"persistence_location {workdir}/",
                      f"autosave_interval {QUEUE_SETTINGS['autosave_interval']}"]
        conf.write_text("\n".join(lines) + "\n")
        cmd = [exe, "-c", str(conf)]
        kind = "mosquitto"
    else:
        if also_bind:
            raise BrokerError(f"listening on {also_bind} as well needs Mosquitto "
                              "(apt-get install mosquitto)")
        conf = workdir / "amqtt.yaml"
        conf.write_text(
            "listeners:\n  default:\n    type: tcp\n"
            f"    bind: 127.0.0.1:{port}\n"
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
            "    allow_anonymous: true\n"
        )
        amqtt = Path(sys.executable).parent / "amqtt"
        if not amqtt.exists():
            raise BrokerError("neither Mosquitto nor amqtt is installed; "
                              "install mosquitto (apt-get install mosquitto) or vigie[hub]")
        cmd = [str(amqtt), "-c", str(conf)]
        kind = "amqtt"
    with log_path.open("ab") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=workdir,
                                process_group=0 if own_group else None)
    if not wait_port(port, 15, proc):
        proc.kill()
        tail = log_path.read_text(errors="replace")[-2000:]
        raise BrokerError(f"{kind} did not start on port {port}:\n{tail}")
    log.info("%s broker on 127.0.0.1:%d", kind, port)
    return LocalBroker(kind, port, proc, workdir)
