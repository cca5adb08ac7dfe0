"""Hub load benchmark: ingest rate, end-to-end alert latency, ingest CPU and memory.

    .venv/bin/python benchmarks/hub_load.py [--events 20000] [--cameras 1400] [--rate 0.1]
                                            [--duration 60] [--warmup S] [--skip-rate]

(a) a real Mosquitto (``central.devtools.broker.start_broker``) feeds ``central.ingest.subscriber.Ingest``;
    one publisher sends ``--events`` QoS 1 events as fast as it can; rate = events / time until
    the last one is committed to SQLite.
(b) ``vigie sim`` (a subprocess) publishes as ``--cameras`` boxes at ``--rate`` events per
    camera per second for ``--duration`` s while this process runs the ingest and the real hub
    app over HTTP and polls ``GET /api/v1/alerts`` every 25 ms; latency = first time an event is
    visible there minus its ``started_at`` (stamped by the simulator just before publishing).
(c) CPU and RSS of the hub process (ingest + HTTP hub, a child process of this one, so the
    poller's own bookkeeping is not counted) sampled every 5 s during (b); RSS at start, after
    the warm-up (``--warmup`` s) and at the end, and the least-squares slope in MiB/min after the
    warm-up: "memory flat" means that slope is about zero over a long run (``--duration 600``).
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import calendar
import logging
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import requests
from paho.mqtt.enums import CallbackAPIVersion
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central import create_app
from central.config import HubBroker, HubConfig
from central.devtools.broker import start_broker
from central.devtools.simcamera import SIM_MODEL, SIM_MODEL_SHA
from central.ingest.subscriber import Ingest
from edge.wire.messages import EventMessage, ObjectRef, encode, topic, utc_iso, uuid7

TOKEN = "bench-token"
TICK = os.sysconf("SC_CLK_TCK")


def proc_sample(pid: int | str = "self") -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of process ``pid`` (default: this one) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def start_ingest(tmp: Path, port: int) -> Ingest:
    ing = Ingest(HubConfig(database=tmp / "hub.sqlite", broker=HubBroker(port=port)))
    ing.start()
    deadline = time.monotonic() + 10
    while not ing.connected.is_set():
        if time.monotonic() > deadline:
            raise SystemExit("ingest did not connect to the broker")
        time.sleep(0.05)
    return ing


def ingest_rate(n: int) -> float:
    """(a) events/s committed by the real Ingest from a real broker."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = start_broker(tmp / "broker")
        ing = start_ingest(tmp, broker.port)
        payloads = []
        for i in range(n):
            cam = f"cam-{i % 1400:04d}"
            ev = EventMessage(id=uuid7(), site="bench", camera=cam, type="intrusion", state="start",
                              severity="warning", started_at=utc_iso(time.time()), ended_at=None,
                              zone="plaza", objects=(ObjectRef("person", 0.9, (0.1, 0.1, 0.2, 0.4)),),
                              measure={}, model_name=SIM_MODEL, model_sha256=SIM_MODEL_SHA)
            payloads.append((topic("bench", cam, "event"), encode(ev.to_wire(i + 1))))
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub")
        pub.max_inflight_messages_set(1000)
        pub.max_queued_messages_set(0)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        t0 = time.monotonic()
        for t, p in payloads:
            pub.publish(t, p, qos=1)
        while ing.counts["stored"] + ing.counts["rejected"] < n:
            if time.monotonic() - t0 > 300:
                break
            time.sleep(0.005)
        elapsed = time.monotonic() - t0
        stored, rejected = ing.counts["stored"], ing.counts["rejected"]
        pub.loop_stop()
        ing.stop()
        broker.stop()
        if stored != n or rejected:
            print(f"WARNING: stored {stored}/{n}, rejected {rejected}", file=sys.stderr)
        return stored / elapsed


def parse_iso(text: str) -> float:
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + int(text[20:23]) / 1000


def serve_hub(tmp: str, broker_port: int, pipe: Any) -> None:
    """The hub process of (b): ingest + HTTP app; sends its HTTP port, then its counts on 'stop'."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ing = start_ingest(Path(tmp), broker_port)
    app = create_app(HubConfig(database=Path(tmp) / "hub.sqlite", api_tokens={TOKEN: "bench"}))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipe.send(server.server_port)
    pipe.recv()  # "stop"
    ing.stop()
    server.shutdown()
    pipe.send(dict(ing.counts))


def rss_summary(samples: list[tuple[float, float, int]], warmup: float) -> dict[str, float]:
    """RSS (MiB) at start, after the warm-up and at the end; slope (MiB/min) after the warm-up."""
    mib = [(t, rss / 2**20) for t, _, rss in samples]
    after = [(t, m) for t, m in mib if t >= warmup] or mib[-1:]
    n = len(after)
    mt = sum(t for t, _ in after) / n
    mm = sum(m for _, m in after) / n
    var = sum((t - mt) ** 2 for t, _ in after)
    slope = 60 * sum((t - mt) * (m - mm) for t, m in after) / var if var else float("nan")
    return {"start": mib[0][1], "warm_t": after[0][0], "warm": after[0][1], "end_t": mib[-1][0],
            "end": mib[-1][1], "max": max(m for _, m in after), "slope": slope}


def latency_run(cameras: int, rate: float, duration: float) -> dict[str, Any]:
    """(b) and (c): simulated fleet -> broker -> hub process (ingest + HTTP API), /proc samples."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = start_broker(tmp / "broker")
        ctx = mp.get_context("spawn")
        here, there = ctx.Pipe()
        hub = ctx.Process(target=serve_hub, args=(str(tmp), broker.port, there), name="hub")
        hub.start()
        if not here.poll(60):
            raise SystemExit("the hub process did not start")
        url = f"http://127.0.0.1:{here.recv()}/api/v1/alerts?limit=500"
        assert hub.pid is not None
        vigie = Path(sys.executable).parent / "vigie"
        sim = subprocess.Popen([str(vigie), "sim", "--cameras", str(cameras), "--event-rate", str(rate),
                                "--duration", str(duration), "--broker", f"127.0.0.1:{broker.port}",
                                "--site", "bench"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        seen: dict[str, float] = {}
        samples: list[tuple[float, float, int]] = []
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        t0 = time.monotonic()
        last_sample = -10.0
        while sim.poll() is None:
            now_m = time.monotonic()
            if now_m - last_sample >= 5:
                cpu, rss = proc_sample(hub.pid)
                samples.append((now_m - t0, cpu, rss))
                last_sample = now_m
            r = http.get(url, timeout=10)
            now = time.time()
            r.raise_for_status()
            for a in r.json()["alerts"]:
                if a["id"] not in seen:
                    seen[a["id"]] = now - parse_iso(a["started_at"])
            time.sleep(0.025)
        cpu, rss = proc_sample(hub.pid)
        samples.append((time.monotonic() - t0, cpu, rss))
        out, err = sim.communicate()
        here.send("stop")
        counts = here.recv() if here.poll(60) else {}
        hub.join(30)
        broker.stop()
        if sim.returncode:
            print(f"WARNING: vigie sim exited {sim.returncode}: {err[-500:]}", file=sys.stderr)
        lat = sorted(seen.values())
        q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
        return {"sim": out.strip(), "alerts": len(lat), "p50": q[49], "p95": q[94], "p99": q[98],
                "samples": samples, "counts": counts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--cameras", type=int, default=1400)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before the RSS slope is measured (default: min(60, duration / 6))")
    ap.add_argument("--skip-rate", action="store_true", help="skip (a), the burst ingest rate")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warmup = args.warmup if args.warmup is not None else min(60.0, args.duration / 6)
    rate = None if args.skip_rate else ingest_rate(args.events)
    res = latency_run(args.cameras, args.rate, args.duration)
    samples = res["samples"]
    assert isinstance(samples, list)
    print("| measure | value | target |\n|---|---|---|")
    if rate is not None:
        print(f"| ingest rate, {args.events} QoS 1 events, broker -> SQLite | {rate:,.0f} events/s "
              f"| >= 5,000 |")
    print(f"| alert latency p50 / p95 / p99 ({args.cameras} cameras, {args.rate}/camera/s, "
          f"{args.duration:.0f} s, {res['alerts']} alerts) | "
          f"{res['p50'] * 1000:.0f} / {res['p95'] * 1000:.0f} / {res['p99'] * 1000:.0f} ms | p99 < 500 ms |")
    m = rss_summary(samples, warmup)
    cpu_total = samples[-1][1] - samples[0][1]
    span = samples[-1][0] - samples[0][0]
    print(f"| hub RSS start / after warm-up ({m['warm_t']:.0f} s) / end ({m['end_t']:.0f} s) | "
          f"{m['start']:.1f} / {m['warm']:.1f} / {m['end']:.1f} MiB (max {m['max']:.1f}) | flat |")
    print(f"| hub RSS slope after warm-up (least squares) | {m['slope']:+.3f} MiB/min | about 0 |")
    if span > 0:
        print(f"| hub CPU, mean over the run | {100 * cpu_total / span:.0f} % of one core | |")
    print(f"\nsim: {res['sim']}\ningest counts: {res['counts']}\n")
    print("| t (s) | hub CPU % since last row | hub RSS (MiB) |\n|---|---|---|")
    every = max(5.0, args.duration / 20)  # at most ~20 rows; every sample is 5 s apart
    prev = None
    for i, (t, cpu, rss) in enumerate(samples):
        if prev is not None and t - prev[0] < every - 2.5 and i != len(samples) - 1:
            continue
        pct = "" if prev is None else f"{100 * (cpu - prev[1]) / (t - prev[0]):.0f}"
        print(f"| {t:.0f} | {pct} | {rss / 2**20:.1f} |")
        prev = (t, cpu)


if __name__ == "__main__":
    main()
