"""Forensic search benchmark: per-box query time and city-wide fan-out time.

    .venv/bin/python benchmarks/search.py [--days 10] [--per-day 20000] [--queries 200]
                                          [--boxes 1400] [--offline 14] [--city-queries 20]

(a) Per box: a track index (``edge.search.index.TrackIndex``, SQLite) filled with ``--days`` days of
    a busy street camera, ``--per-day`` finished tracks a day (55 % persons, 30 % cars, 15 %
    bicycles, motorcycles, buses, trucks; vehicles with a colour and a ``--preview-bytes``
    preview). Each query is a real signed request payload handled by ``edge.search.answer.Responder``
    (signature check, schema check, expiry/camera/retention/person checks, the index query and
    the answer's parts as they would be published), for a random one-hour window of the ten
    days, from a mix of questions; p50/p95 per question and overall.
(b) City-wide: a real Mosquitto; ``--boxes`` simulated boxes in one child process (or
    ``--procs`` of them; one selectors loop per process drives every MQTT connection, as
    ``vigie sim`` does), each with its own ``Responder`` over the same index file (1,400
    copies of a 200,000-row index would not fit this machine's disk; each box still runs its
    own full query); ``--offline`` more cameras are known to the hub as offline and never
    connect. The hub side is the real ``central.forensic.searches.start_search`` +
    ``central.forensic.fanout.SearchFanout`` on a hub database: time from the search being started
    until every online box's final answer part is stored in the hub database; p50/p95 over
    ``--city-queries`` searches, with the CPU seconds the boxes, the broker and the hub used.
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central import db as hubdb
from central.config import HubBroker
from central.devtools.broker import start_broker
from central.forensic.fanout import SearchFanout, sign_for
from central.forensic.searches import start_search
from edge.search.answer import Responder
from edge.search.index import DIRECTIONS, IndexRow, TrackIndex
from edge.wire.keys import generate_private, public_text, write_public
from edge.wire.messages import SEARCH_REQ_SCHEMA_ID, encode, topic, utc_iso, uuid7, validate

CLASSES = [("person", 0.55), ("car", 0.30), ("bicycle", 0.05), ("motorcycle", 0.04),
           ("bus", 0.03), ("truck", 0.03)]
COLOURS = [("white", 0.25), ("silver/grey", 0.2), ("black", 0.2), ("red", 0.08), ("blue", 0.1),
           ("green", 0.03), ("yellow/orange", 0.04), ("brown/beige", 0.1)]
ZONES = ("crossing", "bus-stop", "sidewalk-n", "sidewalk-s", "port")
QUESTIONS: dict[str, dict[str, Any]] = {
    "red car": {"class": "car", "colour": "red", "zone": None, "direction": None},
    "red car near the port": {"class": "car", "colour": "red", "zone": "port", "direction": None},
    "persons going left at the crossing": {"class": "person", "colour": None, "zone": "crossing",
                                           "direction": "left"},
    "any truck": {"class": "truck", "colour": None, "zone": None, "direction": None},
    "anything going up": {"class": None, "colour": None, "zone": None, "direction": "up"},
}
CITY_QUESTIONS = ("red car near the port", "persons going left at the crossing")
log = logging.getLogger("bench.search")


def pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def fill_index(path: Path, days: int, per_day: int, preview_bytes: int, now: float,
               seed: int = 0) -> TrackIndex:
    """A synthetic busy-street index covering ``days`` days up to ``now``."""
    rng = random.Random(seed)
    idx = TrackIndex(path)
    preview = b"\xff\xd8\xff\xe0" + os.urandom(max(preview_bytes - 4, 0))
    start = now - days * 86400 + 60
    batch: list[IndexRow] = []
    for _ in range(days * per_day):
        label = pick(rng, CLASSES)
        t = rng.uniform(start, now - 60)
        dur = rng.uniform(5, 40) if label == "person" else rng.uniform(2, 15)
        zones = tuple(sorted(rng.sample(ZONES, rng.choice((0, 1, 1, 2)))))
        vehicle = label != "person"
        batch.append(IndexRow(label, t, t + dur, zones, rng.choice(DIRECTIONS),
                              pick(rng, COLOURS) if vehicle else None,
                              round(rng.uniform(0.3, 1.0), 3) if vehicle else None,
                              preview if vehicle else None))
        if len(batch) >= 20000:
            idx.add_many(batch)
            batch = []
    idx.add_many(batch)
    return idx


def request(query: dict[str, Any], start: float, end: float, site: str = "bench",
            camera: str = "cam-0000") -> dict[str, Any]:
    now = time.time()
    return {"schema": SEARCH_REQ_SCHEMA_ID, "id": uuid7(), "requester": "bench", "case": "BENCH-1",
            "reason": "benchmark query", "issued_at": utc_iso(now), "expires_at": utc_iso(now + 600),
            "window": {"start": utc_iso(start), "end": utc_iso(end)},
            "cameras": [{"site": site, "camera": camera}], "query": query, "limit": 100}


TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one by default) from /proc."""
    fields = Path(f"/proc/{pid or 'self'}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


# -- (a) per box -------------------------------------------------------------------------------
def per_box(tmp: Path, args: argparse.Namespace) -> tuple[list[str], Path, Path, float]:
    now = time.time()
    t0 = time.perf_counter()
    idx = fill_index(tmp / "index.sqlite", args.days, args.per_day, args.preview_bytes, now)
    fill_s = time.perf_counter() - t0
    key = generate_private(tmp / "hub.ed25519")
    pub = tmp / "hub.ed25519.pub"
    write_public(pub, public_text(key))
    r = Responder("bench", "cam-0000", idx, pub, retention_days=args.days + 1, max_results=200,
                  zones=ZONES)
    rng = random.Random(1)
    times: dict[str, list[float]] = {q: [] for q in QUESTIONS}
    rows: dict[str, list[int]] = {q: [] for q in QUESTIONS}
    for i in range(args.queries):
        name = list(QUESTIONS)[i % len(QUESTIONS)]
        start = rng.uniform(now - args.days * 86400 + 3600, now - 3600)
        payload = encode(sign_for(key, request(QUESTIONS[name], start, start + 3600), "bench",
                                  "cam-0000"))
        t = time.perf_counter()
        parts = [p.body() for p in r.respond(payload)]
        times[name].append((time.perf_counter() - t) * 1000)
        assert parts and parts[0]["status"] == "results", parts[:1]
        rows[name].append(sum(len(p["results"]) for p in parts))
    for p in parts:
        validate("search/resp", {**p, "seq": 0})
    lines = [f"(a) one box, {idx.count():,} tracks over {args.days} days ({args.per_day:,}/day, "
             f"index filled in {fill_s:.1f} s, {os.path.getsize(tmp / 'index.sqlite') / 1e6:.0f} MB"
             f" with {args.preview_bytes}-byte previews); {args.queries} signed requests, "
             "one-hour windows", "",
             "| question | queries | rows answered (median) | p50 ms | p95 ms |", "|---|---|---|---|---|"]
    every: list[float] = []
    for name, ts in times.items():
        every += ts
        lines.append(f"| {name} | {len(ts)} | {statistics.median(rows[name]):.0f} | "
                     f"{pct(ts, 50):.2f} | {pct(ts, 95):.2f} |")
    lines.append(f"| **all** | {len(every)} | | **{pct(every, 50):.2f}** | **{pct(every, 95):.2f}** |")
    idx.close()
    return lines, tmp / "index.sqlite", pub, now


# -- (b) city-wide ------------------------------------------------------------------------------
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def serve_boxes(port: int, boxes: range, index: Path, pub: Path, retention: int,
                replay: bool = False) -> None:
    """Child process: the simulated boxes numbered ``boxes``, answering their own search/req.
    ``replay``: a box sends again the answer first computed for the same question (box work
    ~0, as if each box ran on its own machine), with this request's id and its own name."""
    logging.getLogger("edge.search.answer").setLevel(logging.WARNING)
    idx = TrackIndex(index)
    sel = selectors.DefaultSelector()
    clients: list[mqtt.Client] = []
    answered = [0]
    cache: dict[str, list[bytes]] = {}

    def make(i: int) -> mqtt.Client:
        name = f"cam-{i:04d}"
        responder = Responder("bench", name, idx, pub, retention, 200, ZONES)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-box-{name}",
                        clean_session=True, protocol=mqtt.MQTTv311)
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)

        def on_connect(cl: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
            cl.subscribe(topic("bench", name, "search/req"), qos=1)

        def on_message(cl: mqtt.Client, u: Any, m: mqtt.MQTTMessage) -> None:
            if replay:
                req = json.loads(m.payload)
                key = json.dumps(req["query"], sort_keys=True)
                if key not in cache:
                    cache[key] = [encode({**p.to_wire(0), "request_id": PLACEHOLDER_ID,
                                          "camera": "x-cam"})
                                  for p in responder.respond(bytes(m.payload))]
                for tpl in cache[key]:
                    data = tpl.replace(PLACEHOLDER_ID.encode(), req["id"].encode(), 1).replace(
                        b'"camera":"x-cam"', f'"camera":"{name}"'.encode(), 1)
                    cl.publish(topic("bench", name, "search/resp"), data, qos=1)
                answered[0] += 1
                return
            for answer in responder.respond(bytes(m.payload)):
                part = answer.to_wire(0)
                validate("search/resp", part)  # what egress checks before anything leaves
                cl.publish(topic("bench", name, "search/resp"), encode(part), qos=1)
            answered[0] += 1

        c.on_connect = on_connect
        c.on_message = on_message
        c.connect("127.0.0.1", port, keepalive=120)
        sock = c.socket()
        assert sock is not None
        sel.register(sock, selectors.EVENT_READ, c)
        return c

    for i in boxes:
        clients.append(make(i))
    ready = False
    while True:
        for key, _ in sel.select(0.05):
            key.data.loop_read()
        for c in clients:
            if c.want_write():
                c.loop_write()
        if not ready and all(c.is_connected() for c in clients):
            ready = True
            time.sleep(0.5)
            print("ready", flush=True)
        if os.getppid() == 1:  # the benchmark is gone
            return


def city_wide(tmp: Path, args: argparse.Namespace, index: Path, pub: Path, key_path: Path,
              now: float) -> list[str]:
    broker = start_broker(tmp / "broker", persistence=False)
    t0 = time.monotonic()
    share = -(-args.boxes // args.procs)
    children = [subprocess.Popen(
        [sys.executable, __file__, "--serve-boxes", f"{lo}:{min(lo + share, args.boxes)}",
         "--port", str(broker.port), "--index", str(index), "--hub-pub", str(pub),
         "--days", str(args.days), *(["--replay"] if args.replay else [])],
        stdout=subprocess.PIPE, text=True) for lo in range(0, args.boxes, share)]
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if line.strip() != "ready":
                raise SystemExit(f"simulated boxes did not start: {line!r}")
        connect_s = time.monotonic() - t0
        db = hubdb.connect(tmp / "hub.sqlite")
        with db.conn:
            for i in range(args.boxes):
                hubdb.camera_seen(db, "bench", f"cam-{i:04d}", state="online", state_at=time.time())
            for i in range(args.offline):
                hubdb.camera_seen(db, "bench", f"off-{i:04d}", state="offline", state_at=time.time())
        from edge.wire.keys import load_private

        fan = SearchFanout(tmp / "hub.sqlite", HubBroker(port=broker.port), load_private(key_path))
        fan.start(10)
        cams = [(r[0], r[1]) for r in db.execute("SELECT site, camera FROM cameras ORDER BY key")]
        rng = random.Random(2)
        results: dict[str, list[float]] = {q: [] for q in CITY_QUESTIONS}
        rows: dict[str, list[int]] = {q: [] for q in CITY_QUESTIONS}
        cpu: dict[str, list[tuple[float, float, float]]] = {q: [] for q in CITY_QUESTIONS}
        for i in range(args.city_queries):
            name = CITY_QUESTIONS[i % len(CITY_QUESTIONS)]
            start = rng.uniform(now - args.days * 86400 + 3600, now - 3600)
            q = {"case": "BENCH-1", "reason": "city-wide benchmark", "start": start,
                 "end": start + 3600, "limit": 100, "cameras": cams,
                 **{k: v for k, v in QUESTIONS[name].items()}}
            before = (sum(cpu_s(c.pid) for c in children), cpu_s(broker.proc.pid), cpu_s())
            t = time.monotonic()
            sid = start_search(db, fan, "bench", q, timeout_s=60, expiry_s=120)
            while True:
                done = db.execute("SELECT COUNT(*) FROM search_cameras WHERE search_id = ? AND "
                                  "state IN ('answered', 'refused')", [sid]).fetchone()[0]
                if done >= args.boxes or time.monotonic() - t > 60:
                    break
                time.sleep(0.005)
            elapsed = time.monotonic() - t
            after = (sum(cpu_s(c.pid) for c in children), cpu_s(broker.proc.pid), cpu_s())
            cpu[name].append(tuple(a - b for a, b in zip(after, before, strict=True)))  # type: ignore[arg-type]
            time.sleep(0.5)  # let the last acknowledgements settle before the next search
            refused = db.execute("SELECT COUNT(*) FROM search_cameras WHERE search_id = ? AND "
                                 "state = 'refused'", [sid]).fetchone()[0]
            if done < args.boxes or refused:
                print(f"WARNING: search {i}: {done}/{args.boxes} answered, {refused} refused",
                      file=sys.stderr)
            results[name].append(elapsed)
            rows[name].append(db.execute("SELECT COUNT(*) FROM search_results WHERE search_id = ?",
                                         [sid]).fetchone()[0])
        fan.stop()
        db.conn.close()
    finally:
        for child in children:
            child.kill()
            child.wait()
        broker.stop()
    mode = "boxes replay their first answer" if args.replay else "every box runs its query"
    lines = [f"(b) city-wide ({mode}): {args.boxes} simulated boxes online ({args.procs} process(es), "
             f"connected in "
             f"{connect_s:.1f} s) + {args.offline} offline, real Mosquitto, hub fan-out signing "
             "one request per camera; time until every online box's answer is stored", "",
             "| question | searches | results stored (median) | p50 s | p95 s | CPU s per search "
             "(median): all boxes / broker / hub |", "|---|---|---|---|---|---|"]
    every: list[float] = []
    for name, ts in results.items():
        every += ts
        c = [statistics.median(x[i] for x in cpu[name]) for i in range(3)]
        lines.append(f"| {name} | {len(ts)} | {statistics.median(rows[name]):.0f} | "
                     f"{pct(ts, 50):.2f} | {pct(ts, 95):.2f} | {c[0]:.2f} / {c[1]:.2f} / {c[2]:.2f} |")
    lines.append(f"| **all** | {len(every)} | | **{pct(every, 50):.2f}** | **{pct(every, 95):.2f}** | |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--per-day", type=int, default=20000)
    ap.add_argument("--preview-bytes", type=int, default=7000,
                    help="preview size; car previews of car-detection.mp4 measure 6.7-8.0 kB")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--boxes", type=int, default=1400)
    ap.add_argument("--offline", type=int, default=14)
    ap.add_argument("--city-queries", type=int, default=20)
    ap.add_argument("--procs", type=int, default=1,
                    help="processes the simulated boxes are spread over (boxes are independent "
                    "machines; one process runs their work one after the other)")
    ap.add_argument("--replay", action="store_true",
                    help="(b) boxes resend the answer first computed for the same question (their "
                    "own work ~0, as on 1,400 machines): measures the hub + broker path alone")
    ap.add_argument("--serve-boxes", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--hub-pub", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.serve_boxes:
        lo, hi = (int(x) for x in args.serve_boxes.split(":"))
        serve_boxes(args.port, range(lo, hi), args.index, args.hub_pub, args.days + 1, args.replay)
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        lines, index, pub, now = per_box(tmp, args)
        print("\n".join(lines), flush=True)
        print()
        print("\n".join(city_wide(tmp, args, index, pub, tmp / "hub.ed25519", now)))
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
