"""The egress ledger: chained, append-only, crash-tolerant, and tamper-evident."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from edge.outbound import ledger as ledger_mod
from edge.outbound.ledger import Ledger, LedgerError, LedgerFull, read, verify_chain
from edge.wire.ledger_entries import GENESIS, REPAIR_DEST, REPAIR_KIND
from tests.kits.diskkit import mounted


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


def _torn(path: Path) -> None:
    """Three good entries, then the tail a full disk leaves (see the parametrised cases)."""
    led = Ledger(path)
    for i in range(3):
        led.append("mqtt", "vigie/v1/s/c/event", bytes([i]))


TORN_TAILS = {
    # a short write, then the next entry appended on the same line (old code: refused to start)
    "short-write-then-next-entry": lambda good: good[-1][:40] + good[-1],
    "incomplete-last-line": lambda good: b'{"bytes": 3, "dest": "vig',
    "zeros-after-power-loss": lambda good: b"\0" * 4096,
    "bad-hash": lambda good: good[-1].replace(b'"bytes":1', b'"bytes":7'),
}


@pytest.mark.parametrize("case", sorted(TORN_TAILS))
def test_torn_tail_is_repaired_with_a_chained_note(tmp_path: Path, case: str) -> None:
    path = tmp_path / "ledger.jsonl"
    _torn(path)
    good = path.read_bytes().splitlines(keepends=True)
    tail = TORN_TAILS[case](good)
    with path.open("ab") as f:
        f.write(tail)

    again = Ledger(path)  # old code: LedgerError for a complete line that does not parse
    entries = list(read(path))
    verify_chain(entries)
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    note = entries[-1]
    assert (note.kind, note.dest) == (REPAIR_KIND, REPAIR_DEST)
    assert note.bytes == len(tail) and note.sha256 == hashlib.sha256(tail).hexdigest()
    assert again.repair is not None and again.repair.after_seq == 3
    assert path.read_bytes().startswith(b"".join(good))
    e = again.append("mqtt", "t", b"next")
    assert e.seq == 5 and e.prev == note.hash
    verify_chain(list(read(path)))
    third = Ledger(path)  # nothing more to repair
    assert third.repair is None and third.seq == 5


def test_corruption_before_the_end_still_refuses(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _torn(path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b"garbage\n" + lines[1] + lines[2])
    with pytest.raises(LedgerError, match="not at its end"):
        Ledger(path)


def test_short_writes_are_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that takes only part of the line (as on a nearly full disk) is continued."""
    real = os.write

    def short(fd: int, data: bytes | memoryview) -> int:
        return real(fd, bytes(data[:7]))

    led = Ledger(tmp_path / "l.jsonl")
    monkeypatch.setattr(ledger_mod.os, "write", short)
    for i in range(3):
        led.append("mqtt", "t", bytes([i]))
    monkeypatch.undo()
    verify_chain(list(read(tmp_path / "l.jsonl")))
    assert Ledger(tmp_path / "l.jsonl").repair is None


def test_append_failing_part_way_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ENOSPC after part of the line: the part is cut off, LedgerFull raised, nothing moves."""
    path = tmp_path / "l.jsonl"
    led = Ledger(path)
    led.append("mqtt", "t", b"a")
    before = path.read_bytes()
    real = os.write
    calls = []

    def full(fd: int, data: bytes | memoryview) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data[:20]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ledger_mod.os, "write", full)
    with pytest.raises(LedgerFull, match="No space left"):
        led.append("mqtt", "t", b"b")
    monkeypatch.undo()
    assert path.read_bytes() == before and led.seq == 1
    assert led.append("mqtt", "t", b"b").seq == 2
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


@pytest.mark.parametrize("fs", ["tmpfs", "ext4"])
def test_reserve_keeps_room_for_health_on_a_full_disk(tmp_path: Path, fs: str) -> None:
    """On a real file system filled to its last byte: other messages are refused whole
    (LedgerFull), health and state still go into the reserve, and all flows once space returns."""
    with mounted(tmp_path / "disk", "8M", fs) as disk:
        path = disk.root / "ledger.jsonl"
        led = Ledger(path, reserve_bytes=64 * 1024)
        led.append("mqtt", "vigie/v1/s/c/event", b"before")
        assert disk.fill() == 0
        health = "vigie/v1/s/c/health"
        for _ in range(20):  # the reserve is renewed by pages: full once one more is needed
            led.append("mqtt", health, b"h", reserved=True)
            if led.disk_full:
                break
        assert led.disk_full
        first = led.seq
        size = path.stat().st_size
        with pytest.raises(LedgerFull, match="disk full"):
            led.append("mqtt", "vigie/v1/s/c/event", b"while full")
        assert path.stat().st_size == size
        n = 0
        while True:
            try:
                led.append("mqtt", health, b"h", reserved=True)
            except LedgerFull:
                break
            n += 1
        line = len(path.read_bytes().splitlines()[-1]) + 1
        assert n >= (64 * 1024 - 2 * line) // line  # the whole reserve served health
        disk.free()
        assert led.append("mqtt", "vigie/v1/s/c/event", b"after").seq == first + n + 1
        assert not led.disk_full
        verify_chain(list(read(path)))
        assert Ledger(path).repair is None  # no torn line was ever left
