"""Cost of the egress-ledger checks at the hub: receipts in ingest, and one verification round.

    .venv/bin/python benchmarks/egress_verify.py [--events 5000] [--trials 3]

One box's traffic is made for real (egress schema check, ledger, signed digests of 150
entries) without a broker; ``Ingest.process_batch`` stores it on a real SQLite file in batches
of 500, once with the receipts (as shipped) and once with ``note_receipt`` replaced by a no-op,
alternating, ``--trials`` times each; then ``verify_camera`` runs over the whole camera.
Prints a markdown table (medians).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import central.ingest.subscriber as ingest_mod
from central.config import HubConfig
from central.ingest.receipts import enrol_device
from central.ingest.received import Delivery
from central.ingest.subscriber import Ingest
from central.privacy.egress_verify import verify_camera
from edge.config import BrokerConfig
from edge.outbound.digests import build_digest
from edge.outbound.egress import Egress
from edge.outbound.ledger import Ledger
from edge.wire.keys import generate_private, public_text
from edge.wire.messages import (
    LEDGER_DIGEST_MAX_ENTRIES,
    EventMessage,
    ObjectRef,
    topic,
    utc_iso,
    uuid7,
)

SITE, CAM = "bench", "cam-0001"


def traffic(tmp: Path, n: int) -> tuple[list[tuple[str, bytes]], Any]:
    """``n`` ledgered event messages and the signed digests that cover them, in send order."""
    key = generate_private(tmp / "box.ed25519")
    ledger = Ledger(tmp / "ledger.jsonl")
    egress = Egress(SITE, CAM, BrokerConfig(), ledger)  # never started: no network
    out: list[tuple[str, bytes]] = []
    entries: list[dict[str, Any]] = []
    dest = topic(SITE, CAM, "event")
    for _ in range(n):
        msg = EventMessage(uuid7(), SITE, CAM, "intrusion", "start", "warning", utc_iso(time.time()),
                           None, "gate", (ObjectRef("person", 0.9, (0.1, 0.2, 0.3, 0.4)),),
                           {"count": 1}, "yolox-nano", "e" * 64).to_wire(0)
        del msg["seq"]
        entry, payload = ledger.append_built("mqtt", dest, lambda s, m=msg: egress._checked("event", m, s))
        out.append((dest, payload))
        entries.append({k: getattr(entry, k) for k in ("seq", "ts", "kind", "dest", "bytes", "sha256",
                                                       "prev", "hash")})
        if len(entries) == LEDGER_DIGEST_MAX_ENTRIES:
            d = build_digest(key, SITE, CAM, entries, entries[-1]["seq"], entries[-1]["hash"])
            de, p = ledger.append_built("mqtt", topic(SITE, CAM, "ledger"),
                                        lambda s, d=d: egress._checked("ledger", d, s))
            out.append((topic(SITE, CAM, "ledger"), p))
            entries = [{k: getattr(de, k) for k in ("seq", "ts", "kind", "dest", "bytes", "sha256",
                                                    "prev", "hash")}]  # the next digest lists it
    return out, key


def run(tmp: Path, msgs: list[tuple[str, bytes]], key: Any, receipts: bool) -> tuple[float, Path]:
    db_path = tmp / f"hub-{time.monotonic_ns()}.sqlite"
    ing = Ingest(HubConfig(database=db_path))
    enrol_device(ing.db, SITE, CAM, public_text(key), "bench")
    saved = ingest_mod.note_receipt
    if not receipts:
        ingest_mod.note_receipt = lambda *a, **k: None  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        for i in range(0, len(msgs), 500):
            ing.process_batch([Delivery(t, p) for t, p in msgs[i:i + 500]])
        dt = time.perf_counter() - t0
    finally:
        ingest_mod.note_receipt = saved
    ing.db.conn.close()
    return dt, db_path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--trials", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        msgs, key = traffic(tmp, args.events)
        with_r, without_r = [], []
        db_path = tmp
        for _ in range(args.trials):
            dt, db_path = run(tmp, msgs, key, True)
            with_r.append(dt)
            without_r.append(run(tmp, msgs, key, False)[0])
        from central import db as hubdb

        db = hubdb.connect(db_path)
        t0 = time.perf_counter()
        rep = verify_camera(db, SITE, CAM, grace_s=0.0, now=time.time() + 1)
        verify_s = time.perf_counter() - t0
        n = len(msgs)
        a, b = statistics.median(with_r), statistics.median(without_r)
        print(f"{n} messages ({args.events} events + {n - args.events} digests), median of "
              f"{args.trials} alternating trials\n")
        print("| measure | value |\n|---|---|")
        print(f"| ingest without receipts | {n / b:,.0f} msg/s |")
        print(f"| ingest with receipts (as shipped) | {n / a:,.0f} msg/s |")
        print(f"| receipts cost | {100 * (a - b) / b:+.0f} % ingest time |")
        print(f"| one verification of the camera ({rep.entries} entries, {rep.receipts} receipts) | "
              f"{verify_s * 1000:,.0f} ms, {len(rep.findings)} finding(s) |")


if __name__ == "__main__":
    main()
