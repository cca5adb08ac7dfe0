"""The egress ledger: chained, append-only, crash-tolerant, and tamper-evident."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.ledger import GENESIS, Ledger, LedgerError, read, verify_chain


def test_chain_and_recovery(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    led = Ledger(path)
    for i in range(5):
        led.append("mqtt", "vigie/v1/s/c/event", f"payload {i}".encode())
    entries = list(read(path))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev == GENESIS
    verify_chain(entries)
    again = Ledger(path)
    assert (again.seq, again.head) == (5, entries[-1].hash)
    assert "payload" not in path.read_text()  # only hashes, never payloads


def test_torn_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    led = Ledger(path)
    led.append("mqtt", "t", b"a")
    led.append("mqtt", "t", b"b")
    with path.open("ab") as f:
        f.write(b'{"seq": 3, "ts"')
    again = Ledger(path)
    assert again.seq == 2
    e = again.append("mqtt", "t", b"c")
    assert e.seq == 3
    verify_chain(list(read(path)))


@pytest.mark.parametrize("attack", ["edit", "drop", "reorder"])
def test_tampering_is_detected(tmp_path: Path, attack: str) -> None:
    path = tmp_path / "ledger.jsonl"
    led = Ledger(path)
    for i in range(4):
        led.append("mqtt", "t", bytes([i]))
    lines = path.read_text().splitlines()
    if attack == "edit":
        d = json.loads(lines[1])
        d["bytes"] = 999
        lines[1] = json.dumps(d)
    elif attack == "drop":
        del lines[2]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LedgerError):
        verify_chain(list(read(path)))


def test_failed_build_writes_nothing(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "l.jsonl")

    def boom(seq: int) -> bytes:
        raise ValueError("schema")

    with pytest.raises(ValueError):
        led.append_built("mqtt", "t", boom)
    assert led.seq == 0
    assert not (tmp_path / "l.jsonl").exists() or (tmp_path / "l.jsonl").read_text() == ""
