"""Chaos: real Mosquitto, hub ingest and edge agents as processes, killed and restarted by the test.

Each scenario checks that every event message the box stored in its outbox reaches the hub
exactly once (one row per event id, the end state where the box produced an end), and that
the hub holds nothing the box did not produce.

The broker runs the hub role's configuration (tests/kits/brokerkit.py): queue limits, persistence,
per-listener passwords, ACL, client id = user name on TLS. The agent connects as production boxes
do (TLS with its certificate, its ``<site>/<camera>`` user and password; the broker certificate's
name resolved to the veth address inside the network namespace); the ingest connects with the
hub's user on the loopback listener.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.modelstore import ModelStore
from tests.chaos.netns import NetNamespace, NetnsError, missing_tools
from tests.conftest import Proc, wait_for
from tests.kits import scenes
from tests.kits.brokerkit import HUB_NAME, Fleet, RoleBroker

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

EVENT_LINE = re.compile(r"event (\w+) (start|end) ([0-9a-f-]{36}) stored in outbox")


class Rig:
    """One broker (the hub role's), one hub ingest, one looping agent, all real processes.

    With ``net``, the agent runs inside that network namespace and reaches the broker over the
    veth link (the role's TLS listener is bound to the host end), with a 5 s MQTT keepalive.
    """

    def __init__(self, tmp: Path, spawn, media: Path, store: ModelStore,  # type: ignore[no-untyped-def]
                 fleet: Fleet, net: NetNamespace | None = None):
        self.tmp = tmp
        self.spawn = spawn
        self.net = net
        self.broker = RoleBroker(fleet, tmp / "broker", tls_bind=net.host_ip if net else "127.0.0.1")
        self.broker.start()
        # The box replays its file faster than real time (realtime = false, looped), so its
        # media timestamps run ahead of the wall clock by minutes: the one setting that differs
        # from the role's hub.toml is a clock-skew allowance covering that replay, so that these
        # tests count delivery, not the skew check (tests/hub/test_ingest_ownership.py tests that).
        self.hub_cfg = scenes.write(tmp / "hub.toml", scenes.hub_scene(
            max_clock_skew_s=86400, broker=scenes.table_of(self.broker.hub_broker_toml())))
        host = HUB_NAME if net else "127.0.0.1"
        broker = scenes.table_of(self.broker.box_broker_toml("chaos", "cam-01", host))
        if net:
            broker["keepalive_s"] = 5
        self.box_cfg = scenes.write(tmp / "box.toml", scenes.box_scene(
            media / scenes.PERSON_VIDEO, site="chaos", loop=True, broker=broker,
            zones=[scenes.TABLE], rules=[scenes.intrusion(classes=None, dwell_s=1, clear_s=1)]))
        self.env = {"VIGIE_MODELS": str(store.root)}
        self.agents: list[Proc] = []
        self.ingests: list[Proc] = []

    @property
    def port(self) -> int:
        """The port the box connects to (the role's TLS listener)."""
        return self.broker.tls_port

    def start_ingest(self) -> Proc:
        p = self.spawn(f"ingest{len(self.ingests)}", "hub", "ingest", "--config", str(self.hub_cfg))
        self.ingests.append(p)
        wait_for(lambda: "subscribed" in p.text(), 20, what="ingest subscription")
        return p

    def start_agent(self) -> Proc:
        p = self.spawn(f"agent{len(self.agents)}", "edge", "run", str(self.box_cfg), env=self.env,
                       prefix=self.net.exec_prefix if self.net else None)
        self.agents.append(p)
        return p

    def restart_broker(self, down_s: float, kill: bool = False) -> None:
        (self.broker.kill if kill else self.broker.stop)()
        time.sleep(down_s)
        self.broker.start()

    def generated(self) -> dict[str, set[str]]:
        """Event id -> states the box stored in its outbox, from every agent's log."""
        out: dict[str, set[str]] = {}
        for a in self.agents:
            for _, state, eid in EVENT_LINE.findall(a.text()):
                out.setdefault(eid, set()).add(state)
        return out

    def events_logged(self) -> int:
        return sum(len(v) for v in self.generated().values())

    def at_hub(self) -> dict[str, str]:
        con = sqlite3.connect(self.tmp / "hub.sqlite")
        try:
            # The box's events only: the hub itself raises `camera_silent` when an outage
            # outlasts `silent_after_s`, which is expected, not a duplicate.
            return dict(con.execute("SELECT id, state FROM events WHERE type != 'camera_silent'")
                        .fetchall())
        finally:
            con.close()

    def stop_agent_and_check(self) -> None:
        agent = self.agents[-1]
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.proc.wait(60) == 0, agent.text()[-2000:]
        gen = self.generated()
        assert gen, "the scenario produced no event at all"

        def complete() -> bool:
            hub = self.at_hub()
            return set(hub) == set(gen) and all(
                hub[eid] == "end" for eid, states in gen.items() if "end" in states
            )

        try:
            wait_for(complete, 60, interval=0.5, what="every generated event at the hub")
        except AssertionError:
            hub = self.at_hub()
            missing = set(gen) - set(hub)
            extra = set(hub) - set(gen)
            raise AssertionError(f"lost {len(missing)}: {sorted(missing)[:5]}; "
                                 f"unexpected {len(extra)}; generated {len(gen)}") from None
        con = sqlite3.connect(self.tmp / "hub.sqlite")
        (rows,) = con.execute("SELECT COUNT(*) FROM events WHERE type != 'camera_silent'").fetchone()
        con.close()
        assert rows == len(gen)  # exactly once: one row per event the box produced

    def close(self) -> None:
        self.broker.stop()


@pytest.fixture
def rig(tmp_path: Path, spawn, media: Path, model_store: ModelStore,  # type: ignore[no-untyped-def]
        fleet: Fleet):
    r = Rig(tmp_path, spawn, media, model_store, fleet)
    yield r
    r.close()


def test_broker_restart(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_agent()
    wait_for(lambda: rig.events_logged() >= 2, 60, what="first events")
    rig.restart_broker(down_s=2)
    n = rig.events_logged()
    wait_for(lambda: rig.events_logged() >= n + 3, 60, what="events after the restart")
    rig.stop_agent_and_check()


def test_broker_down_60_s(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_agent()
    wait_for(lambda: rig.events_logged() >= 2, 60, what="first events")
    rig.broker.stop()
    n = rig.events_logged()
    time.sleep(60)
    assert rig.events_logged() > n + 5, "the box kept detecting while the broker was down"
    assert outbox_events(rig) > 0, "what was detected while the broker was down waits in the outbox"
    rig.broker.start()
    # The box reconnects within its back-off (at most 30 s after a long outage) and drains its
    # outbox; only then is it stopped, so the check is about delivery, not about shutdown speed.
    wait_for(lambda: outbox_events(rig) == 0, 120, interval=0.5, what="the outbox drained")
    rig.stop_agent_and_check()


def test_hub_killed_and_restarted(rig: Rig) -> None:
    ingest = rig.start_ingest()
    rig.start_agent()
    wait_for(lambda: rig.events_logged() >= 2, 60, what="first events")
    ingest.kill()
    n = rig.events_logged()
    wait_for(lambda: rig.events_logged() >= n + 4, 60, what="events while the hub is down")
    rig.start_ingest()
    rig.stop_agent_and_check()


def test_agent_killed_and_restarted(rig: Rig) -> None:
    rig.start_ingest()
    first = rig.start_agent()
    wait_for(lambda: rig.events_logged() >= 3, 60, what="first events")
    rig.broker.stop()  # so that the outbox holds unsent events when the agent dies
    n = rig.events_logged()
    wait_for(lambda: rig.events_logged() >= n + 3, 60, what="events queued in the outbox")
    first.kill()
    rig.broker.start()
    second = rig.start_agent()
    wait_for(lambda: "outbox depth" in second.text(), 30, what="second agent start")
    depth = int(re.search(r"outbox depth (\d+)", second.text()).group(1))  # type: ignore[union-attr]
    assert depth >= 3, "the killed agent's unsent events are in its outbox"
    wait_for(lambda: rig.events_logged() >= n + 5, 60, what="events from the second run")
    rig.stop_agent_and_check()


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    """A fresh network namespace + veth pair, deleted after the test whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI and `make test` run as root)")
    if missing_tools():
        pytest.fail(f"{', '.join(missing_tools())} not installed: run `make test` as root or "
                    "apt-get install iproute2 nftables")
    try:
        net = NetNamespace()
        net.create(hosts={HUB_NAME: net.host_ip})
    except NetnsError as exc:
        pytest.fail(f"cannot create a network namespace: {exc}")
    yield net
    net.delete()


@pytest.fixture
def net_rig(tmp_path: Path, netns: NetNamespace, spawn, media: Path,  # type: ignore[no-untyped-def]
            model_store: ModelStore, fleet: Fleet):
    # netns is set up before spawn, so it is torn down after the agent has been stopped
    r = Rig(tmp_path, spawn, media, model_store, fleet, net=netns)
    yield r
    r.close()


def outbox_events(rig: Rig) -> int:
    """Event rows waiting in the box's outbox (read from its SQLite file)."""
    con = sqlite3.connect(rig.tmp / "box-data" / "outbox.sqlite", timeout=5)
    try:
        return int(con.execute("SELECT COUNT(*) FROM outbox WHERE suffix = 'event'").fetchone()[0])
    finally:
        con.close()


def hub_camera_state(rig: Rig) -> str | None:
    con = sqlite3.connect(rig.tmp / "hub.sqlite", timeout=5)
    try:
        row = con.execute("SELECT state FROM cameras WHERE site = 'chaos' AND camera = 'cam-01'"
                          ).fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:  # the hub has not created its tables yet
        return None
    finally:
        con.close()


def test_network_cut_between_box_and_broker(net_rig: Rig) -> None:
    """The box's only link to the broker (a veth into its namespace) silently drops everything.

    Unlike a broker stop (the box gets a TCP reset at once), nothing tells the box: its
    keepalive has to notice, what it published into the dead connection is never acknowledged,
    and the broker only learns of the loss by its own keepalive (the box's last will).
    """
    rig, net = net_rig, net_rig.net
    assert net is not None
    rig.start_ingest()
    agent = rig.start_agent()
    wait_for(lambda: "connected to broker" in agent.text(), 60, what="agent connected over the veth")
    wait_for(lambda: rig.events_logged() >= 2 and rig.at_hub(), 90, what="first events at the hub")
    assert hub_camera_state(rig) == "online"
    assert net.reachable(rig.port)

    net.cut()
    assert not net.reachable(rig.port), "the cut drops traffic"
    wait_for(lambda: "disconnected from broker" in agent.text(), 40,
             what="the box's keepalive noticing the cut")
    noticed = set(rig.generated())
    wait_for(lambda: hub_camera_state(rig) == "offline", 30,
             what="the broker's keepalive noticing the cut (last will: offline)")
    wait_for(lambda: len(set(rig.generated()) - noticed) >= 3, 90,
             what="events generated while the link is cut")
    during = set(rig.generated()) - noticed
    assert not during & set(rig.at_hub()), "events made during the cut cannot reach the hub"
    assert outbox_events(rig) >= len(during), "they wait in the box's outbox"

    net.restore()
    assert net.reachable(rig.port)
    wait_for(lambda: agent.text().count("connected to broker") >= 2, 90,
             what="the agent reconnecting after the link is restored")
    wait_for(lambda: hub_camera_state(rig) == "online", 30, what="camera online again at the hub")
    wait_for(lambda: during <= set(rig.at_hub()), 60, what="the held events at the hub")
    rig.stop_agent_and_check()
