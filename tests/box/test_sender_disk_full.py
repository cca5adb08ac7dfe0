"""The sender on a full disk (the outbox on a real tmpfs filled to its last byte, a real
Mosquitto): acknowledged rows that cannot be deleted are not sent again, the failure is logged
once (no traceback each loop), and the rows go once the disk has room again."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from central.devtools.broker import LocalBroker
from edge.config import BrokerConfig
from edge.outbound.egress import Egress
from edge.outbound.ledger import Ledger
from edge.outbound.outbox import Outbox
from edge.outbound.sender import Sender
from tests.conftest import wait_for
from tests.kits.brokerkit import Spy
from tests.kits.diskkit import mounted
from tests.kits.samples import sample_event

SITE, CAM = "marseille", "cam-042"
N = 20


def outbox_event() -> dict[str, Any]:
    """An event in the outbox's form (EventMessage.to_json)."""
    m = sample_event()
    m.update(site=SITE, camera=CAM)
    model, clip = m.pop("model"), m.pop("clip")
    for k in ("schema", "seq"):
        m.pop(k)
    m.update(model_name=model["name"], model_sha256=model["sha256"],
             clip_status=clip["status"], clip_sha256=clip["sha256"])
    return m


def test_acknowledged_rows_wait_for_room_to_be_deleted(
    tmp_path: Path, broker: LocalBroker, caplog: pytest.LogCaptureFixture,
) -> None:
    spy = Spy(broker.port, f"vigie/v1/{SITE}/{CAM}/event", client_id="disk-spy")
    with mounted(tmp_path / "disk", "2m") as disk:
        outbox = Outbox(disk.root / "outbox.sqlite")
        for _ in range(N):
            outbox.put("event", outbox_event())
        assert disk.fill() == 0
        egress = Egress(SITE, CAM, BrokerConfig(port=broker.port), Ledger(tmp_path / "l.jsonl"))
        sender = Sender(outbox, egress, N)
        caplog.set_level(logging.WARNING)
        egress.start()
        sender.start()
        try:
            wait_for(lambda: sender.acked == N, 30, what="every event acknowledged")
            wait_for(lambda: sender.delete_log.error, 10, what="the failed delete noticed")
            seq = egress.ledger.seq
            for _ in range(5):  # what the sender's loop does every wake: nothing is sent again
                sender._process_acks()
                sender.drain_once()
            assert egress.ledger.seq == seq
            assert outbox.depth() == N
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1 and "deleting acknowledged outbox rows" in errors[0].message
            assert not [r for r in caplog.records if r.exc_info]

            disk.free()
            sender.wake()
            wait_for(lambda: outbox.depth() == 0, 15, what="the rows deleted once there is room")
            assert sender.delete_log.error is None
            got = [m["id"] for m in spy.of("event")]
            assert len(got) == N and len(set(got)) == N  # each sent once
        finally:
            sender.stop()
            egress.stop()
            outbox.close()
            spy.stop()
