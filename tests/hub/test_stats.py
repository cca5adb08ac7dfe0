"""Line crossings, interval aggregation and the hub's storage of ``stats`` messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from central.config import HubConfig
from central.ingest.subscriber import Ingest
from edge.config import parse
from edge.records import Frame
from edge.stats import StatsAggregator, crossing
from edge.wire.messages import encode, validate
from tests.kits.rulekit import BLANK, track


def test_crossing_direction_and_misses() -> None:
    a, b = (0.5, 1.0), (0.5, 0.0)  # pointing up: its right is the right of the image
    assert crossing(a, b, (0.4, 0.5), (0.6, 0.5)) == 1
    assert crossing(a, b, (0.6, 0.5), (0.4, 0.5)) == -1
    assert crossing(a, b, (0.4, 0.5), (0.45, 0.5)) == 0
    short = ((0.5, 1.0), (0.5, 0.6))
    assert crossing(*short, (0.4, 0.3), (0.6, 0.3)) == 0, "passing beyond the segment's end"
    # Touching the line and going back is not a crossing; stepping onto it then over is one.
    assert crossing(a, b, (0.4, 0.5), (0.5, 0.5)) == 0
    assert crossing(a, b, (0.5, 0.5), (0.6, 0.5)) == 1


def _cfg(tmp: Path, interval: float = 10):
    return parse(f"""
site = "s"
camera = "c"
[source]
url = "x.mp4"
[stats]
interval_s = {interval}
classes = ["person", "car"]
[[zones]]
name = "left"
polygon = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
[[lines]]
name = "mid"
a = [0.5, 1.0]
b = [0.5, 0.0]
classes = ["person"]
""", tmp / "box.toml")


def test_aggregator_intervals_and_counts(tmp_path: Path) -> None:
    agg = StatsAggregator(_cfg(tmp_path))
    records = []
    for i in range(250):  # 25 s at 10 fps
        ts = i / 10
        x = 0.2 + 0.03 * ts  # person 1 crosses x = 0.5 at t = 10 s
        tracks = [track(1, "person", x, 0.8), track(2, "car", 0.8 - 0.04 * ts, 0.9)]  # car crosses too
        if 5 <= ts < 7:
            tracks.append(track(3, "person", 0.1, 0.5))
        r = agg.update(Frame(i, ts, 1000 + ts, BLANK), tracks)
        if r:
            records.append(r)
    last = agg.flush(Frame(250, 25.0, 1025.0, BLANK))
    assert last is not None
    records.append(last)
    assert len(records) == 3
    assert records[0].lines == (("mid", "person", 0, 0),)
    assert records[1].lines == (("mid", "person", 1, 0),), "cars are not counted on a person line"
    zones0 = {(z, c): (m, mean) for z, c, m, mean in records[0].zones}
    # person 1 is left of x = 0.5 for all 100 frames of the interval, person 3 for 20 frames
    assert zones0[("left", "person")] == (2, pytest.approx((100 + 20) / 100))
    assert zones0[("left", "car")] == (1, pytest.approx(0.24)), "the car is left of 0.5 from t = 7.6 s"
    msg = records[1].to_message("s", "c").body()
    validate("stats", {**msg, "seq": 4})
    assert records[0].end_wall == records[1].start_wall == pytest.approx(1010.0)


def test_hub_stores_stats_idempotently_and_rejects_bad_ones(tmp_path: Path) -> None:
    ingest = Ingest(HubConfig(database=tmp_path / "hub.sqlite"))
    msg = {
        "schema": "vigie.stats/1", "site": "s", "camera": "c",
        "interval_start": "2026-11-24T10:00:00.000Z", "interval_end": "2026-11-24T10:01:00.000Z",
        "lines": [{"line": "mid", "class": "person", "forward": 2, "backward": 1}],
        "zones": [], "seq": 7,
    }
    topic = "vigie/v1/s/c/stats"
    assert ingest.handle(topic, encode(msg)) == "stored"
    assert ingest.handle(topic, encode(msg)) == "duplicate"
    rows = list(ingest.db.table("stats").rows)
    assert len(rows) == 1 and json.loads(rows[0]["lines"])[0]["forward"] == 2
    assert ingest.handle(topic, encode({**msg, "frame": "jpeg..."})) == "rejected"
    assert ingest.handle("vigie/v1/s/other/stats", encode(msg)) == "rejected"
    reasons = [r["reason"] for r in ingest.db.table("quarantine").rows]
    assert any("Additional properties" in r for r in reasons)
    assert any("published under s/other" in r for r in reasons)
