"""Load simulator: many virtual camera boxes publishing contract traffic through a real broker.

Each simulated camera is its own MQTT connection (its own client id and last will), publishing
under ``vigie/v1/<site>/<camera>/``: retained ``state`` online (``offline`` as the will and on
a clean stop), ``health`` every 30 s, ``event`` start/end pairs at a Poisson rate per camera,
and ``stats`` every 60 s. Every payload is built from the contract of ``edge.wire.messages`` and
validated against its JSON Schema before it is sent. Like a real box, each simulated camera keeps
an egress ledger (in memory) and publishes signed ``ledger`` digests every ``digest_every_s`` and
before going offline, with its own Ed25519 key (:meth:`Simulator.public_keys`, to register with
``vigie hub enrol-box``).

So that 1,400 cameras fit in one process, no client runs its own network thread: one thread
drives every socket with a ``selectors`` loop (paho's external-loop API: ``loop_read`` on
readable sockets, ``loop_write`` when a client wants to write, ``loop_misc`` for keepalives).
A camera that loses its connection (broker restart, network cut) reconnects by itself with
exponential backoff (1 s doubling to 30 s, jittered), republishes ``online`` and carries on;
its unacknowledged QoS 1 messages are sent again by paho after the reconnect.

A camera's state, ledger and messages are in :mod:`central.devtools.simcamera`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import random
import selectors
import time
from dataclasses import dataclass, replace
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central.devtools.simcamera import (
    RECONNECT_MAX_S,
    RECONNECT_MIN_S,
    SimCamera,
    event_start,
    health_message,
    stats_message,
)
from edge.wire.messages import MessageError, encode, topic, utc_iso, validate

log = logging.getLogger(__name__)

HEALTH_EVERY_S = 30.0
STATS_EVERY_S = 60.0
Due = tuple[float, int, str, int, str]
"""A scheduled send: (due, tie-break, kind, camera index, event id)."""


@dataclass(frozen=True)
class SimSettings:
    """What to simulate: ``cameras`` boxes, ``event_rate`` events per camera per second."""

    cameras: int
    event_rate: float
    duration_s: float
    host: str = "127.0.0.1"
    port: int = 1883
    site: str = "sim"
    event_len_s: tuple[float, float] = (1.0, 5.0)
    seed: int = 0
    digest_every_s: float = 60.0

    def __post_init__(self) -> None:
        if self.cameras < 1:
            raise ValueError(f"--cameras must be at least 1, got {self.cameras}")
        if self.event_rate < 0:
            raise ValueError(f"--event-rate must be >= 0 events/camera/s, got {self.event_rate}")
        if self.duration_s <= 0:
            raise ValueError(f"--duration must be positive seconds, got {self.duration_s}")


@dataclass(frozen=True)
class SimReport:
    """What the simulator sent: messages per kind, broker acknowledgements, failures."""

    cameras: int
    connected: int
    published: dict[str, int]
    acked: int
    failed: int
    elapsed_s: float
    reconnects: int = 0


class Simulator:
    """Drive ``settings.cameras`` MQTT connections from the calling thread."""

    def __init__(self, settings: SimSettings, on_publish: Any = None):
        self.s = settings
        self.rng = random.Random(settings.seed)
        self.sel = selectors.DefaultSelector()
        self.cams: list[SimCamera] = []
        self.published = {"state": 0, "health": 0, "event": 0, "stats": 0, "ledger": 0}
        self.acked = 0
        self.failed = 0
        self.reconnects = 0
        self.on_publish = on_publish  # optional hook(kind, wire_dict, monotonic_ts) for benchmarks
        self._started = time.time()
        self._tie = itertools.count()
        self._last_stats: dict[int, float] = {}
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.keys = [Ed25519PrivateKey.generate() for _ in range(settings.cameras)]
        """Each simulated box's signing key (made here, so they can be enrolled before ``run``)."""

    # -- connections ---------------------------------------------------------------------
    def _make_client(self, name: str) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"vigie-{self.s.site}-{name}",
                        clean_session=True, protocol=mqtt.MQTTv311)
        c.will_set(topic(self.s.site, name, "state"), encode("offline"), qos=1, retain=True)
        c.max_queued_messages_set(0)
        c.max_inflight_messages_set(1000)

        def on_publish(client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any) -> None:
            self.acked += 1

        def on_connect(client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
            cam = userdata
            if cam is None or rc.is_failure:
                return
            cam.backoff = RECONNECT_MIN_S
            if cam.retry_at is not None:  # a reconnect, not the first connection
                cam.retry_at = None
                self.reconnects += 1
                self._send(cam, "state", "online", qos=1, retain=True)

        c.on_publish = on_publish
        c.on_connect = on_connect
        return c

    def connect(self, timeout_s: float = 60.0) -> int:
        """Open every camera's connection and wait for CONNACKs; returns how many connected."""
        for i in range(self.s.cameras):
            name = f"cam-{i:04d}"
            c = self._make_client(name)
            try:
                c.connect(self.s.host, self.s.port, keepalive=60)
            except OSError as exc:
                raise ConnectionError(
                    f"cannot connect simulated camera {name} to {self.s.host}:{self.s.port}: {exc}"
                ) from None
            cam = SimCamera(name, c, key=self.keys[i])
            cam.ledger(topic(self.s.site, name, "state"), encode("offline"), cam.next_seq())  # the will
            c.user_data_set(cam)
            self._register(cam)
            self.cams.append(cam)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._pump(0.05)
            if all(c.client.is_connected() for c in self.cams):
                break
        connected = sum(c.client.is_connected() for c in self.cams)
        if connected < len(self.cams):
            log.warning("%d of %d simulated cameras connected", connected, len(self.cams))
        return connected

    def _pump(self, timeout: float) -> None:
        for key, _ in self.sel.select(timeout):
            cam: SimCamera = key.data
            if cam.client.loop_read() != mqtt.MQTT_ERR_SUCCESS or cam.client.socket() is None:
                self._drop(cam)
        for cam in self.cams:
            if cam.sock is not None and cam.client.want_write():
                cam.client.loop_write()
                if cam.client.socket() is None:
                    self._drop(cam)

    def _register(self, cam: SimCamera) -> None:
        sock = cam.client.socket()
        assert sock is not None
        cam.sock = sock
        self.sel.register(sock, selectors.EVENT_READ, cam)

    def _drop(self, cam: SimCamera) -> None:
        if cam.sock is not None:  # paho may have closed it already: unregister the object
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(cam.sock)
            cam.sock = None
        cam.retry_at = time.monotonic() + cam.backoff * self.rng.uniform(0.5, 1.0)
        log.info("simulated camera %s lost its connection; reconnecting in %.1f s",
                 cam.name, cam.retry_at - time.monotonic())

    def _reconnect_due(self, now_m: float, budget_s: float = 0.5) -> None:
        """Try to reconnect dropped cameras whose backoff has expired, for about ``budget_s``.

        (paho's connect blocks up to its connect timeout when the broker's host drops SYNs;
        the cameras not tried in this pass are tried in the next one.)
        """
        for cam in self.cams:
            if cam.sock is not None or cam.retry_at is None or cam.retry_at > now_m:
                continue
            if time.monotonic() - now_m > budget_s:
                break
            try:
                cam.client.reconnect()
            except OSError as exc:
                cam.backoff = min(cam.backoff * 2, RECONNECT_MAX_S)
                cam.retry_at = now_m + cam.backoff * self.rng.uniform(0.5, 1.0)
                log.debug("simulated camera %s: reconnect failed (%s)", cam.name, exc)
                continue
            self._register(cam)

    # -- messages ------------------------------------------------------------------------
    def _send(self, cam: SimCamera, kind: str, message: Any, qos: int, retain: bool = False) -> None:
        if kind != "state":
            try:
                validate(kind, message)
            except MessageError as exc:  # a simulator bug: refuse to send it
                self.failed += 1
                log.error("simulated %s for %s does not validate: %s", kind, cam.name, exc)
                return
        seq = message["seq"] if isinstance(message, dict) else cam.next_seq()
        dest, payload = topic(self.s.site, cam.name, kind), encode(message)
        cam.ledger(dest, payload, seq)  # before it is sent
        info = cam.client.publish(dest, payload, qos=qos, retain=retain)
        if info.rc in (mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_CONN_LOST):
            if qos == 0:  # lost with the connection, as QoS 0 allows
                log.debug("simulated camera %s: %s lost with its connection", cam.name, kind)
                return
            # QoS 1: paho keeps the message and sends it again after the reconnect
        elif info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.failed += 1
            return
        self.published[kind] += 1
        if self.on_publish is not None:
            self.on_publish(kind, message, time.monotonic())

    # -- the run -------------------------------------------------------------------------
    def run(self) -> SimReport:
        """Connect, publish for ``duration_s``, close every event, go offline, disconnect."""
        t0 = time.monotonic()
        connected = self.connect()
        now_m = time.monotonic()
        heap = self._first_schedule(now_m)
        end_m = now_m + self.s.duration_s
        self._last_stats = {i: time.time() for i in range(len(self.cams))}
        last_misc = 0.0
        while True:
            now_m = time.monotonic()
            if now_m >= end_m:
                break
            while heap and heap[0][0] <= now_m:
                _, _, kind, i, ev_id = heapq.heappop(heap)
                self._due(heap, now_m, kind, i, ev_id)
            if now_m - last_misc >= 1.0:
                self._keepalive(now_m)
                last_misc = now_m
            wait = min(0.02, max(0.0, (heap[0][0] - time.monotonic()) if heap else 0.02))
            self._pump(wait)
        self.close()
        return SimReport(cameras=len(self.cams), connected=connected, published=dict(self.published),
                         acked=self.acked, failed=self.failed,
                         elapsed_s=round(time.monotonic() - t0, 2), reconnects=self.reconnects)

    def _first_schedule(self, now_m: float) -> list[Due]:
        """Every camera online, and its first health, stats, event start and digest scheduled."""
        tie = self._tie
        heap: list[Due] = []
        for i, cam in enumerate(self.cams):
            self._send(cam, "state", "online", qos=1, retain=True)
            heap.append((now_m + self.rng.uniform(0, 1), next(tie), "health", i, ""))
            heap.append((now_m + self.rng.uniform(0, STATS_EVERY_S), next(tie), "stats", i, ""))
            if self.s.event_rate > 0:
                heap.append((now_m + self.rng.expovariate(self.s.event_rate), next(tie), "start", i, ""))
            heap.append((now_m + self.s.digest_every_s, next(tie), "ledger", i, ""))
        heapq.heapify(heap)
        return heap

    def _due(self, heap: list[Due], now_m: float, kind: str, i: int, ev_id: str) -> None:
        """Send what is due for camera ``i`` and schedule its next one."""
        tie = self._tie
        cam = self.cams[i]
        if not cam.client.is_connected():  # down: keep its schedule going, send nothing
            every = {"health": HEALTH_EVERY_S, "stats": STATS_EVERY_S, "end": 1.0}.get(kind)
            due = now_m + (every or self.rng.expovariate(self.s.event_rate))  # or a start
            heapq.heappush(heap, (due, next(tie), kind, i, ev_id))
            return
        now = time.time()
        if kind == "health":
            msg = health_message(self.rng, self.s.site, cam, now, self._started)
            self._send(cam, "health", msg.to_wire(cam.next_seq()), qos=0)
            heapq.heappush(heap, (now_m + HEALTH_EVERY_S, next(tie), "health", i, ""))
        elif kind == "stats":
            stats = stats_message(self.rng, self.s.site, cam, self._last_stats[i], now)
            self._send(cam, "stats", stats.to_wire(cam.next_seq()), qos=1)
            self._last_stats[i] = now
            heapq.heappush(heap, (now_m + STATS_EVERY_S, next(tie), "stats", i, ""))
        elif kind == "ledger":
            self._digest(cam)
            heapq.heappush(heap, (now_m + self.s.digest_every_s, next(tie), "ledger", i, ""))
        elif kind == "start":
            ev = event_start(self.rng, self.s.site, cam, now)
            self._send(cam, "event", ev.to_wire(cam.next_seq()), qos=1)
            heapq.heappush(heap, (now_m + self.rng.uniform(*self.s.event_len_s), next(tie), "end",
                                  i, ev.id))
            heapq.heappush(heap, (now_m + self.rng.expovariate(self.s.event_rate), next(tie),
                                  "start", i, ""))
        else:
            self._end_event(cam, ev_id, now)

    def _keepalive(self, now_m: float) -> None:
        """Keepalives of the connected cameras (a dead link is dropped), reconnects of the others."""
        for cam in self.cams:
            if cam.sock is not None:
                cam.client.loop_misc()
                if cam.client.socket() is None:  # keepalive expired: the link is dead
                    self._drop(cam)
        self._reconnect_due(now_m)

    def _end_event(self, cam: SimCamera, ev_id: str, now: float) -> None:
        ev = cam.open_events.pop(ev_id, None)
        if ev is None:
            return
        end = replace(ev, state="end", ended_at=utc_iso(now))
        self._send(cam, "event", end.to_wire(cam.next_seq()), qos=1)

    def close(self, drain_s: float = 10.0) -> None:
        """End open events, publish retained ``offline``, wait for acks, disconnect."""
        now = time.time()
        for cam in self.cams:
            if cam.client.is_connected():
                for ev_id in list(cam.open_events):
                    self._end_event(cam, ev_id, now)
                self._digest(cam)
                self._send(cam, "state", "offline", qos=1, retain=True)
        want = sum(self.published.values())
        deadline = time.monotonic() + drain_s
        while self.acked < want and time.monotonic() < deadline:
            self._pump(0.05)
        for cam in self.cams:
            cam.client.disconnect()
            cam.client.loop_write()
        self.sel.close()

    # -- signed ledger digests -----------------------------------------------------
    def _digest(self, cam: SimCamera) -> None:
        """Publish signed digests of the entries not yet digested (as a box's digester does)."""
        for msg in cam.digests(self.s.site):
            self._send(cam, "ledger", msg.to_wire(cam.next_seq()), qos=1)

    def public_keys(self) -> dict[str, str]:
        """``site/camera`` -> ``ed25519:<base64>`` of every simulated box."""
        from edge.wire.keys import public_text

        return {f"{self.s.site}/cam-{i:04d}": public_text(k) for i, k in enumerate(self.keys)}
