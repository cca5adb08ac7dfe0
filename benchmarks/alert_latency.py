"""Event start to picture at the hub: how long until an operator sees the still, the clip.

    .venv/bin/python benchmarks/alert_latency.py [--video PATH] [--seconds N] [--before]

All real: a Mosquitto broker (``central.devtools.broker.start_broker``), the hub as its own two
processes (``vigie hub ingest`` and ``vigie hub serve``), and a box (the real ``Agent``:
YOLOX-nano, tracker, intrusion rule at the person video's table, outbox, egress, ledger, still
and clip makers) reading the sample video at its real rate (``realtime``, as from a camera).
An event's start is the moment the box's rule raises it (the box's clock, in this process);
a poller asks the hub's alert API every 0.1 s, as the operators' pages do, when the alert,
its still and its uploaded clip are first visible. Prints one markdown table per run: p50,
p95 and max over the run's events. ``--before`` runs first with the box's former clip settings
(no still, 10 s post-roll, 2 s first retry), then with the defaults.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from central.devtools.broker import free_port, start_broker, wait_port
from central.devtools.demo import DEMO_ZONE
from edge.config import BoxConfig
from edge.modelstore import ModelStore, default_mirror
from edge.pipeline import Agent
from edge.records import Event

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT.parent / "shared" / "media" / "video" / "one-by-one-person-detection.mp4"
TOKEN, DEVICE = "bench-operator-token", "bench-device-token-cam-01"
BEFORE = {"still": False, "post_s": 10.0, "retry_initial_s": 2.0}
"""The clip settings before the still and the faster clip path."""


class TimedAgent(Agent):
    """The real agent, noting when each event start is raised (monotonic clock)."""

    started: dict[str, float]

    def _emit(self, events: list[Event], model: tuple[str, str] | None = None) -> None:
        for ev in events:
            if ev.state == "start":
                self.started.setdefault(ev.id, time.monotonic())
        super()._emit(events, model)


def hub_up(tmp: Path, broker_port: int) -> tuple[int, list[subprocess.Popen[bytes]]]:
    http = free_port()
    (tmp / "hub.toml").write_text(
        f'database = "{tmp}/hub.sqlite"\nport = {http}\n[broker]\nport = {broker_port}\n'
        f'[api_tokens]\n"{TOKEN}" = "bench"\n[device_tokens]\n'
        f'"{DEVICE}" = {{site = "bench", camera = "cam-01"}}\n[clips]\ndir = "{tmp}/hub-clips"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "edge.cli", "hub", what, "--config",
                               str(tmp / "hub.toml")], env=env, cwd=tmp,
                              stdout=(tmp / f"{what}.log").open("wb"), stderr=subprocess.STDOUT)
             for what in ("ingest", "serve")]
    if not wait_port(http, 60, procs[1]):
        raise SystemExit((tmp / "serve.log").read_text()[-2000:])
    return http, procs


def poll(http: int, seen: dict[str, dict[str, float]], stop: threading.Event) -> None:
    """First time each alert, its still and its uploaded clip are visible at the hub."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {TOKEN}"
    while not stop.is_set():
        try:
            alerts = s.get(f"http://127.0.0.1:{http}/api/v1/alerts", params={"limit": 500},
                           timeout=5).json()["alerts"]
        except (requests.RequestException, ValueError, KeyError):
            alerts = []
        now = time.monotonic()
        for a in alerts:
            t = seen.setdefault(a["id"], {"alert": now})
            if a.get("still"):
                t.setdefault("still", now)
            if (a.get("clip") or {}).get("status") in ("uploaded", "failed"):
                t.setdefault("clip", now)
                t.setdefault("clip_" + a["clip"]["status"], now)
        stop.wait(0.1)


def run(before: bool, seconds: float | None, video: Path, store: ModelStore) -> dict[str, list[float]]:
    """One run; the delays (s) from each event start to alert, still, clip."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = start_broker(tmp / "broker")
        http, procs = hub_up(tmp, broker.port)
        clips: dict[str, Any] = {"max_pending": 16, **(BEFORE if before else {})}
        cfg = BoxConfig.model_validate({
            "site": "bench", "camera": "cam-01", "data_dir": str(tmp / "box"),
            "source": {"url": str(video), "realtime": True},
            "broker": {"port": broker.port},
            "zones": [{"name": "table", "polygon": DEMO_ZONE}],
            "rules": [{"type": "intrusion", "zone": "table", "dwell_s": 2, "classes": ["person"]}],
            "upload": {"hub_url": f"http://127.0.0.1:{http}", "device_token": DEVICE},
            "clips": clips,
        })
        agent = TimedAgent(cfg, store)
        agent.started = {}
        seen: dict[str, dict[str, float]] = {}
        stop = threading.Event()
        poller = threading.Thread(target=poll, args=(http, seen, stop), daemon=True)
        poller.start()
        runner = threading.Thread(target=agent.run, daemon=True)
        runner.start()
        runner.join(seconds)
        deadline = time.monotonic() + 180  # the box keeps running until every clip is in
        while time.monotonic() < deadline and not all(
                "clip" in seen.get(e, {}) for e in agent.started):
            time.sleep(0.2)
        agent.stop()
        runner.join(30)
        agent.shutdown(flush_timeout=10)
        stop.set()
        poller.join(5)
        for p in procs:
            p.terminate()
            p.wait(10)
        broker.stop()
    out: dict[str, list[float]] = {"alert": [], "still": [], "clip": [], "clip_failed": []}
    for eid, t0 in agent.started.items():
        for k in out:
            if k in seen.get(eid, {}):
                out[k].append(seen[eid][k] - t0)
    out["events"] = [float(len(agent.started))]
    return out


def q(values: list[float], p: float) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[p - 1]:.1f}"


def table(name: str, r: dict[str, list[float]]) -> str:
    n = int(r["events"][0])
    rows = [f"### {name}: {n} event(s)", "",
            "| event start -> | seen for | p50 s | p95 s | max s |", "|---|---|---|---|---|"]
    for k, label in (("alert", "alert at the hub"), ("still", "still visible"),
                     ("clip", "clip uploaded (or failed)")):
        v = r[k]
        rows.append(f"| {label} | {len(v)}/{n} | {q(v, 50)} | {q(v, 95)} | "
                    f"{max(v):.1f} |" if v else f"| {label} | 0/{n} | - | - | - |")
    if r["clip_failed"]:
        rows.append(f"\n{len(r['clip_failed'])} clip(s) failed.")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=VIDEO)
    ap.add_argument("--seconds", type=float, default=None, help="stop the box after this long")
    ap.add_argument("--before", action="store_true", help="also run with the former clip path")
    ap.add_argument("--log", type=Path, help="write the box's log (INFO) to this file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO if args.log else logging.WARNING, filename=args.log)
    with tempfile.TemporaryDirectory() as d:
        store = ModelStore(Path(d) / "models")
        store.fetch(["yolox-nano", "yunet"], mirror=default_mirror(), allow_download=False)
        results = []
        if args.before:
            results.append(("before (no still, post-roll 10 s, first retry 2 s)",
                            run(True, args.seconds, args.video, store)))
        results.append(("now (defaults)", run(False, args.seconds, args.video, store)))
    for name, r in results:
        print(table(name, r) + "\n")
    print(json.dumps({name: {k: [round(x, 2) for x in v] for k, v in r.items()}
                      for name, r in results}))


if __name__ == "__main__":
    main()
