"""What Mosquitto needs to hold the hub's queue through an outage: RAM, disk and time per message.

    .venv/bin/python benchmarks/broker_queue.py [--steps 100000,300000,1000000]
                                                [--cameras 1400] [--hours 24]
                                                [--events-per-camera-hour 10]

A real Mosquitto (persistence on) holds a persistent session subscribed as the hub's ingest is
(``vigie/v1/+/+/#`` at QoS 1) that is offline; one publisher sends the QoS 1 traffic of many
cameras (``event`` start and end, ``stats`` every 60 s, signed ``ledger`` digests every 60 s,
payloads built by the box's own builders) and waits for every PUBACK. At each step it prints the
broker's RSS; at the end it stops the broker (time to write the persistence file, its size),
starts it again on that file (time to load, RSS), and lets the hub's session drain the queue
(time, and that every message arrived). ``health`` is QoS 0 and is not queued for an offline
session, so it is not sent here. A second table extrapolates linearly to ``--cameras`` cameras
for ``--hours`` hours. ``--bytes-limit-check`` shows instead that Mosquitto reads
``max_queued_bytes`` into 32 bits.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central.devtools.broker import free_port, mosquitto_path, wait_port
from edge.outbound.digests import build_digest
from edge.stats import StatsRecord
from edge.wire.ledger_entries import GENESIS, make_entry
from edge.wire.messages import EventMessage, ObjectRef, encode, topic, utc_iso, uuid7

SITE = "marseille"
HUB_CLIENT = "vigie-hub"
SUBSCRIPTION = "vigie/v1/+/+/#"
MODEL_SHA = hashlib.sha256(b"yolox-nano").hexdigest()
MiB = 1024 * 1024


@dataclass(frozen=True)
class Mix:
    """One camera's QoS 1 messages in one hour: (suffix, payload) each."""

    messages: list[tuple[str, bytes]]

    @property
    def bytes(self) -> int:
        return sum(len(p) for _, p in self.messages)


def camera_hour(camera: str, events_per_hour: int, key: Ed25519PrivateKey) -> Mix:
    """What one camera publishes at QoS 1 in an hour, with the box's own message builders."""
    now = time.time()
    out: list[tuple[str, bytes]] = []
    seq, prev = 0, GENESIS
    minute_entries: list[dict[str, object]] = []

    def send(suffix: str, message: dict[str, object]) -> None:
        nonlocal seq, prev
        seq += 1
        payload = encode({**message, "seq": seq})
        entry = make_entry(seq, prev, "mqtt", topic(SITE, camera, suffix), payload, ts=now)
        prev = entry.hash
        minute_entries.append({**entry.body(), "hash": entry.hash})
        if suffix != "health":
            out.append((suffix, payload))

    per_minute = {round(i * 60 / events_per_hour) for i in range(events_per_hour)}
    for minute in range(60):
        for _ in range(2):  # health every 30 s: QoS 0, not queued, but ledgered and digested
            send("health", {"schema": "vigie.health/1"})
        if minute in per_minute:
            ev = EventMessage(
                id=uuid7(), site=SITE, camera=camera, type="intrusion", state="start",
                severity="warning", started_at=utc_iso(now), ended_at=None, zone="parvis-nord",
                objects=(ObjectRef("person", 0.873, (0.4123, 0.5211, 0.1187, 0.3012)),
                         ObjectRef("person", 0.641, (0.1022, 0.4301, 0.0911, 0.2876))),
                measure={"dwell_s": 12.4, "count": 2.0}, model_name="yolox-nano",
                model_sha256=MODEL_SHA, clip_status="pending")
            send("event", {k: v for k, v in ev.to_wire(0).items() if k != "seq"})
            end = replace(ev, state="end", ended_at=utc_iso(now + 20))
            send("event", {k: v for k, v in end.to_wire(0).items() if k != "seq"})
        stats = StatsRecord(now, now + 60, lines=(("entree", "person", 14, 9), ("entree", "car", 3, 0)),
                            zones=(("parvis-nord", "person", 7, 2.431), ("parvis-nord", "car", 1, 0.2)))
        send("stats", stats.to_message(SITE, camera).body())
        entries, minute_entries[:] = list(minute_entries), []
        digest = build_digest(key, SITE, camera, entries, int(str(entries[-1]["seq"])),
                              str(entries[-1]["hash"]), now)
        send("ledger", digest.body())
    return Mix(out)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Broker:
    """Mosquitto with persistence in ``workdir``, no queue limit (the benchmark measures)."""

    def __init__(self, workdir: Path, max_queued_bytes: int = 0):
        self.workdir = workdir
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text("\n".join([
            f"listener {self.port} 127.0.0.1", "allow_anonymous true", f"user {getpass.getuser()}",
            "persistence true", f"persistence_location {workdir}/", "autosave_interval 0",
            "max_queued_messages 0", f"max_queued_bytes {max_queued_bytes}",
            "max_inflight_messages 100", "log_dest stderr", "log_type error", "log_type warning"]) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        exe = mosquitto_path()
        if exe is None:
            raise SystemExit("Mosquitto is not installed (apt-get install mosquitto)")
        t0 = time.perf_counter()
        log = (self.workdir / "broker.log").open("ab")
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        if not wait_port(self.port, 600, self.proc):
            raise SystemExit((self.workdir / "broker.log").read_text()[-2000:])
        return time.perf_counter() - t0

    def stop(self) -> float:
        """SIGTERM (Mosquitto writes its persistence file) and the seconds until it exits."""
        assert self.proc is not None
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(3600)
        return time.perf_counter() - t0

    @property
    def db_bytes(self) -> int:
        path = self.workdir / "mosquitto.db"
        return path.stat().st_size if path.exists() else 0


def client(port: int, client_id: str, clean: bool) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                    protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port, 60)
    return c


def hub_session(port: int) -> None:
    """Make the hub's persistent session (subscribed at QoS 1), then leave it offline."""
    done = threading.Event()
    c = client(port, HUB_CLIENT, clean=False)
    c.on_subscribe = lambda *a: done.set()
    c.loop_start()
    c.subscribe(SUBSCRIPTION, qos=1)
    assert done.wait(30), "no SUBACK"
    c.disconnect()
    c.loop_stop()


class Publisher:
    """Publishes the camera mix round-robin at QoS 1, at most ``window`` unacknowledged."""

    def __init__(self, port: int, mix: Mix, cameras: int, window: int = 2000):
        self.mix, self.cameras = mix, cameras
        self.window = threading.Semaphore(window)
        self.acked = 0
        self.bytes = 0
        self._i = 0
        self.c = client(port, "bench-publisher", clean=True)
        self.c.on_publish = self._on_publish
        self.c.loop_start()

    def _on_publish(self, *args: object) -> None:
        self.acked += 1
        self.window.release()

    def publish_until(self, total: int, timeout: float = 3600) -> None:
        while self._i < total:
            suffix, payload = self.mix.messages[(self._i // self.cameras) % len(self.mix.messages)]
            camera = f"cam-{self._i % self.cameras:04d}"
            self.window.acquire()
            self.c.publish(topic(SITE, camera, suffix), payload, qos=1)
            self.bytes += len(payload)
            self._i += 1
        deadline = time.monotonic() + timeout
        while self.acked < total and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.acked >= total, f"only {self.acked} of {total} acknowledged"

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def drain(port: int, expected: int, timeout: float = 3600) -> tuple[float, int]:
    """Reconnect the hub's session; (seconds until ``expected`` messages arrived, count)."""
    got = 0
    done = threading.Event()

    def on_message(*args: object) -> None:
        nonlocal got
        got += 1
        if got >= expected:
            done.set()

    t0 = time.perf_counter()
    c = client(port, HUB_CLIENT, clean=False)
    c.on_message = on_message
    c.loop_start()
    done.wait(timeout)
    took = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return took, got


def bytes_limit_check(tmp: Path) -> None:
    """How Mosquitto reads ``max_queued_bytes``: 100 messages of 100 bytes for the offline hub
    session under each limit, and how many it keeps."""
    print("| max_queued_bytes | kept of 100 x 100 B |")
    print("|---:|---:|")
    for limit in (1000, 2**31 - 1, 2**32 + 1000, 2**33 + 5000):
        (tmp / str(limit)).mkdir()
        b = Broker(tmp / str(limit), max_queued_bytes=limit)
        b.start()
        hub_session(b.port)
        pub = Publisher(b.port, Mix([("event", b"x" * 100)]), cameras=1)
        pub.publish_until(100)
        pub.close()
        _took, got = drain(b.port, 100, timeout=10)
        b.stop()
        print(f"| {limit:,} | {got} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="100000,300000,1000000")
    ap.add_argument("--cameras", type=int, default=1400)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--events-per-camera-hour", type=int, default=10)
    ap.add_argument("--no-drain", action="store_true")
    ap.add_argument("--bytes-limit-check", action="store_true",
                    help="only show how Mosquitto reads max_queued_bytes (32 bits)")
    args = ap.parse_args()
    if args.bytes_limit_check:
        with tempfile.TemporaryDirectory(prefix="broker-queue-") as tmp:
            bytes_limit_check(Path(tmp))
        return
    steps = sorted(int(s) for s in args.steps.split(","))
    mix = camera_hour("cam-0000", args.events_per_camera_hour, Ed25519PrivateKey.generate())
    kinds: dict[str, list[int]] = {}
    for suffix, payload in mix.messages:
        kinds.setdefault(suffix, []).append(len(payload))

    with tempfile.TemporaryDirectory(prefix="broker-queue-") as tmp:
        b = Broker(Path(tmp))
        b.start()
        assert b.proc is not None
        hub_session(b.port)
        base = rss(b.proc.pid)
        pub = Publisher(b.port, mix, args.cameras)
        print("| queued messages | payload MiB | broker RSS MiB | RSS bytes/message | publish s |")
        print("|---:|---:|---:|---:|---:|")
        t0 = time.perf_counter()
        for n in steps:
            pub.publish_until(n)
            now_rss = rss(b.proc.pid)
            print(f"| {n:,} | {pub.bytes / MiB:,.0f} | {now_rss / MiB:,.0f} | "
                  f"{(now_rss - base) / n:,.0f} | {time.perf_counter() - t0:,.0f} |", flush=True)
        pub.close()
        total, payload_bytes, last_rss = steps[-1], pub.bytes, rss(b.proc.pid)
        save_s = b.stop()
        db = b.db_bytes
        load_s = b.start()
        reload_rss = rss(b.proc.pid)
        drained = drain(b.port, total) if not args.no_drain else None
        b.stop()
    print()
    print("| after N messages | value |")
    print("|---|---:|")
    print(f"| N | {total:,} |")
    print(f"| mean payload bytes | {payload_bytes / total:,.0f} |")
    print(f"| persistence file MiB (bytes/message) | {db / MiB:,.0f} ({db / total:,.0f}) |")
    print(f"| write on SIGTERM s | {save_s:.1f} |")
    print(f"| load at start s | {load_s:.1f} |")
    print(f"| RSS after reload MiB (bytes/message) | {reload_rss / MiB:,.0f} "
          f"({(reload_rss - base) / total:,.0f}) |")
    if drained:
        print(f"| drained to the hub's session: s, messages | {drained[0]:.1f}, {drained[1]:,} |")
    per_msg_rss = max(last_rss, reload_rss) - base
    day = len(mix.messages) * args.cameras * args.hours
    day_bytes = mix.bytes * args.cameras * args.hours
    print()
    print(f"Per camera-hour at QoS 1: {len(mix.messages)} messages, {mix.bytes:,} payload bytes ("
          + ", ".join(f"{k} {len(v)} x {sum(v) / len(v):,.0f} B" for k, v in kinds.items()) + ").")
    print()
    print(f"| {args.cameras} cameras, {args.hours:g} h offline | messages | payload GiB | "
          "broker RSS GiB | persistence file GiB | write s | load s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    scale = day / total
    print(f"| extrapolated from N = {total:,} | {day:,.0f} | {day_bytes / 1024 ** 3:,.2f} | "
          f"{(base + per_msg_rss * scale) / 1024 ** 3:,.2f} | {db * scale / 1024 ** 3:,.2f} | "
          f"{save_s * scale:,.0f} | {load_s * scale:,.0f} |")


if __name__ == "__main__":
    os.nice(5)
    main()
