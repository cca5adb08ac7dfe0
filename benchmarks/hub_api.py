"""How fast the hub answers its people with a city-sized events table.

Fills a temporary hub database with N events over 10 days (the retention default) across
200 cameras, serves it over real HTTP, and times the operator's and supervisor's requests.
Prints a markdown table of median and p95 latency.

    .venv/bin/python benchmarks/hub_api.py --events 50000
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from central import create_app
from central import db as hubdb
from central.config import ApiToken, HubConfig
from edge.wire.messages import utc_iso, uuid7

TYPES = ("intrusion", "wrong_way", "abandoned_object", "person_down", "crowd_density")
LABELS = ("person", "car", "bicycle", "truck", "backpack")


def fill(database: Path, n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    now = time.time()
    db = hubdb.connect(database)
    rows = []
    for _ in range(n):
        ts = now - rnd.uniform(0, 10 * 86400)
        status = rnd.choice(("new", "acknowledged", "resolved", "resolved", "resolved"))
        rows.append({
            "id": uuid7(), "site": "city", "camera": f"cam-{rnd.randrange(200):03d}",
            "type": rnd.choice(TYPES), "state": "end", "severity": rnd.choice(("info", "warning",
                                                                                "critical")),
            "started_at": utc_iso(ts), "ended_at": utc_iso(ts + 20), "zone": f"z{rnd.randrange(5)}",
            "objects": json.dumps([{"label": rnd.choice(LABELS), "score": 0.8,
                                    "bbox": [0.1, 0.1, 0.2, 0.2]}]),
            "measure": "{}", "model": "{}", "clip": "{}", "seq": 1, "payload": "{}",
            "received_at": ts, "updated_at": ts, "status": status,
            "outcome": rnd.choice(("true_alert", "false_alarm", "test")) if status == "resolved" else None,
        })
    db.table("events").insert_all(rows, batch_size=2000)
    db.conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "hub.sqlite"
        t0 = time.perf_counter()
        fill(database, args.events)
        fill_s = time.perf_counter() - t0
        token = "bench-token"
        app = create_app(HubConfig(database=database,
                                   api_tokens={token: ApiToken(actor="bench", role="supervisor")}))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}"
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        cases = [
            ("alert queue (200 newest)", "/api/v1/alerts?limit=200"),
            ("open alerts in triage order (200)", "/api/v1/alerts?status=open&sort=triage&limit=200"),
            ("queue page: open alerts grouped (200 rows)", "/api/v1/alerts/queue?limit=200"),
            ("queue page, one camera", "/api/v1/alerts/queue?camera=city/cam-042"),
            ("search: one camera, page 1", "/api/v1/events?camera=cam-042&per_page=50"),
            ("search: object class", "/api/v1/events?class=bicycle&per_page=50"),
            ("search: type + last 24 h",
             f"/api/v1/events?type=intrusion&from={utc_iso(time.time() - 86400)}"),
            ("false-alarm rates", "/api/v1/stats/false-alarms"),
            ("chart: events per hour (48 h) SVG", "/stats/events-per-hour.svg?hours=48"),
        ]
        print(f"{args.events} events, 200 cameras, 10 days (filled in {fill_s:.1f} s); "
              f"{args.repeat} requests each over HTTP\n")
        print("| request | median ms | p95 ms |")
        print("|---|---:|---:|")
        for name, path in cases:
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                r = s.get(url + path, timeout=60)
                times.append(1000 * (time.perf_counter() - t))
                assert r.status_code == 200, (path, r.status_code, r.text[:200])
            times.sort()
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            print(f"| {name} | {statistics.median(times):.1f} | {p95:.1f} |")
        server.shutdown()


if __name__ == "__main__":
    main()
