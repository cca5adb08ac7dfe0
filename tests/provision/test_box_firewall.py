"""A box's nftables policy, rendered by the edge_box role, loaded in a network namespace.

The box lives in its own namespace joined to this one by a veth pair. This side plays the CSU
network: the broker and the hub's HTTPS port on the hub's address, and other listeners on the
hub's address and on another address. Before the policy, the box reaches every listener; after
it, the real agent (``vigie edge run`` in the namespace) reaches the broker and says "online",
the hub's HTTPS port is reachable, and every other connection is refused.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.devtools.broker import mosquitto_path
from edge.modelstore import ModelStore
from tests.conftest import MEDIA, wait_for
from tests.provision import kit

CONNECT = """
import socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except OSError as exc:
    print(f"refused {exc.errno} {exc}")
"""


@dataclass(frozen=True)
class Net:
    ns: str
    hub: str
    other: str
    box: str


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def net() -> Iterator[Net]:
    """A namespace for the box, a veth pair to this namespace; always deleted."""
    if subprocess.run(["which", "nft"], capture_output=True).returncode != 0:
        pytest.fail("nftables is not installed: run `make test` as root or apt-get install nftables")
    tag = f"{os.getpid() % 10000}{random.randint(0, 99)}"
    subnet = f"10.{random.randint(100, 250)}.{random.randint(0, 250)}"
    n = Net(ns=f"vigie-box-{tag}", hub=f"{subnet}.1", other=f"{subnet}.80", box=f"{subnet}.2")
    host_if, box_if = f"vh{tag}", f"vb{tag}"
    ip("netns", "add", n.ns)
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", box_if)
        ip("link", "set", box_if, "netns", n.ns)
        ip("addr", "add", f"{n.hub}/24", "dev", host_if)
        ip("addr", "add", f"{n.other}/24", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", n.ns, "addr", "add", f"{n.box}/24", "dev", box_if)
        ip("-n", n.ns, "link", "set", box_if, "up")
        ip("-n", n.ns, "link", "set", "lo", "up")
        yield n
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)  # also removes the peer
        subprocess.run(["ip", "netns", "del", n.ns], capture_output=True)
        assert n.ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


class Listeners:
    """TCP listeners on this side that count the connections they accept."""

    def __init__(self, addrs: list[tuple[str, int]]):
        self.accepted: dict[tuple[str, int], int] = dict.fromkeys(addrs, 0)
        self.socks = []
        for addr in addrs:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(addr)
            s.listen()
            s.settimeout(0.2)
            self.socks.append((addr, s))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            for addr, s in self.socks:
                try:
                    conn, _ = s.accept()
                except (TimeoutError, OSError):
                    continue
                self.accepted[addr] += 1
                conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for _addr, s in self.socks:
            s.close()


def connect_from_box(n: Net, host: str, port: int) -> str:
    out = subprocess.run(["ip", "netns", "exec", n.ns, sys.executable, "-c", CONNECT, host, str(port)],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or out.stderr.strip()


def render_policy(tmp: Path, n: Net, broker_port: int) -> Path:
    """The box's ruleset exactly as the edge_box role templates it."""
    dest = tmp / "box.nft"
    overrides = kit.write_yaml(tmp / "vars.yml", {
        "edge_box_broker_host": n.hub, "edge_box_broker_port": broker_port,
        "edge_box_hub_address": n.hub, "edge_box_hub_https_port": 443,
        "edge_box_dns_servers": [f"{n.hub[:-2]}.53"], "edge_box_ntp_servers": [f"{n.hub[:-2]}.123"],
        "edge_box_ssh_from": [f"{n.hub}/32"], "edge_box_cameras": [],
    })
    env = dict(os.environ, ANSIBLE_CONFIG=str(kit.ANSIBLE / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    run = subprocess.run(
        [str(kit.BIN / "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.template",
         "-a", f"src={kit.ANSIBLE}/roles/edge_box/templates/nftables.conf.j2 dest={dest} mode=0644",
         "-e", f"@{kit.ANSIBLE}/roles/edge_box/defaults/main.yml", "-e", f"@{overrides}"],
        capture_output=True, text=True, env=env, timeout=120, cwd=kit.ANSIBLE)
    assert run.returncode == 0, run.stdout + run.stderr
    return dest


def test_policy_lets_the_agent_reach_the_broker_and_blocks_the_rest(
        net: Net, tmp_path: Path, model_store: ModelStore) -> None:
    exe = mosquitto_path()
    assert exe, "Mosquitto is not installed"
    broker_port = 8883
    # Mosquitto on the hub's address (plain MQTT: the firewall, not TLS, is under test here).
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {broker_port} {net.hub}\nallow_anonymous true\nuser root\n")
    broker = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    others = [(net.hub, 443), (net.hub, 1884), (net.hub, 22), (net.other, 80), (net.other, broker_port)]
    listeners = Listeners(others)
    agent: subprocess.Popen[bytes] | None = None
    try:
        assert wait_port_on(net.hub, broker_port, 15)
        # Without the policy the box reaches everything on this side.
        for host, port in [(net.hub, broker_port), *others]:
            assert connect_from_box(net, host, port) == "connected", (host, port)
        wait_for(lambda: all(listeners.accepted[a] == 1 for a in others), 5, what="control connections")

        policy = render_policy(tmp_path, net, broker_port)
        load = subprocess.run(["ip", "netns", "exec", net.ns, "nft", "-f", str(policy)],
                              capture_output=True, text=True)
        assert load.returncode == 0, load.stderr

        # The real agent, in the box's namespace, reaches the broker through the policy.
        seen: list[bytes] = []
        sub = mqtt.Client(CallbackAPIVersion.VERSION2)
        sub.on_message = lambda c, u, m: seen.append(m.payload)
        sub.connect(net.hub, broker_port)
        sub.subscribe("vigie/v1/fw-site/fw-cam/state", qos=1)
        sub.loop_start()
        cfg = tmp_path / "box.toml"
        cfg.write_text(
            f'site = "fw-site"\ncamera = "fw-cam"\ndata_dir = "{tmp_path / "data"}"\n'
            f'models_dir = "{model_store.root}"\n'
            f'[source]\nurl = "{MEDIA / "video/traffic_frames.mp4"}"\nloop = true\n'
            f'[broker]\nhost = "{net.hub}"\nport = {broker_port}\n'
            '[clips]\nenabled = false\n')
        # `ip netns exec` execs the agent itself, so terminating it stops the agent.
        agent_log = (tmp_path / "agent.log").open("wb")
        agent = subprocess.Popen(["ip", "netns", "exec", net.ns, sys.executable, "-m", "edge.cli",
                                  "edge", "run", str(cfg)], stdout=agent_log, stderr=subprocess.STDOUT,
                                 cwd=kit.ROOT)
        try:
            wait_for(lambda: b"online" in seen, 60, what="the agent's 'online' state through the firewall")
        except AssertionError:
            raise AssertionError((tmp_path / "agent.log").read_text()[-3000:]) from None
        sub.loop_stop()
        sub.disconnect()

        # The hub's HTTPS port is allowed; every other address and port is refused.
        assert connect_from_box(net, net.hub, 443) == "connected"
        for host, port in [(net.hub, 1884), (net.hub, 22), (net.other, 80), (net.other, broker_port)]:
            result = connect_from_box(net, host, port)
            assert result.startswith("refused"), (host, port, result)
        # The listener thread accepts asynchronously (the kernel completes the handshake first).
        wait_for(lambda: listeners.accepted[(net.hub, 443)] == 2, 10, what="the HTTPS connection")
        for addr in [(net.hub, 1884), (net.hub, 22), (net.other, 80), (net.other, broker_port)]:
            assert listeners.accepted[addr] == 1, addr  # only the control connection got through
        counters = subprocess.run(["ip", "netns", "exec", net.ns, "nft", "list", "counter", "inet", "vigie",
                                   "dropped_out"], capture_output=True, text=True).stdout
        assert "packets 0 " not in counters, counters
    finally:
        if agent is not None:
            agent.terminate()
            try:
                agent.wait(20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(5)
        listeners.close()
        broker.terminate()
        broker.wait(10)


def wait_port_on(host: str, port: int, timeout: float) -> bool:
    def up() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False
    try:
        return bool(wait_for(up, timeout, what=f"{host}:{port}"))
    except AssertionError:
        return False

