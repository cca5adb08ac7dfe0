"""``vigie edge stores`` lists what a box keeps on its disk: every table of its real stores
(track index with previews, search ids, outbox) with rows and oldest row, and its files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from edge.cli import main
from edge.outbound.outbox import Outbox
from edge.search.index import IndexRow, TrackIndex
from edge.search.seen import SeenRequests


def test_stores_lists_tables_rows_and_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cfg = tmp_path / "box.toml"
    cfg.write_text(f'site = "lyon"\ncamera = "park-03"\ndata_dir = "{data}"\n'
                   '[source]\nurl = "video.mp4"\n')
    index = TrackIndex(data / "index.sqlite")
    index.add(IndexRow("car", 1_764_000_000.0, 1_764_000_030.0, ("lane",), "left", "red", 0.9,
                       b"\xff\xd8preview"))
    index.add(IndexRow("person", 1_764_000_100.0, 1_764_000_130.0, (), "right"))
    SeenRequests(index.path)
    Outbox(data / "outbox.sqlite", 1 << 20)
    (data / "egress-ledger.jsonl").write_text('{"seq": 1}\n')
    r = CliRunner().invoke(main, ["edge", "stores", str(cfg)])
    assert r.exit_code == 0, r.output
    rows = {line.split()[0]: line.split()[1:] for line in r.output.splitlines()[1:]}
    assert rows["index.sqlite:tracks"][0] == "2"
    assert rows["index.sqlite:tracks"][1] == "2025-11-24T16:00:00Z"
    assert rows["index.sqlite:search_requests"][0] == "0"
    assert rows["outbox.sqlite:outbox"][0] == "0"
    assert rows["egress-ledger.jsonl"][:2] == ["1", "11"]
    r = CliRunner().invoke(main, ["edge", "stores", str(tmp_path / "nope.toml")])
    assert r.exit_code != 0
