"""Compare what each box says it sent (signed ledger digests) with what the hub received.

Checks, each finding naming the camera and the ledger sequence number:

- ``bad_signature``: a digest whose signature does not check against the registered box key
  (its entries are then not trusted); ``unenrolled``: digests from a box with no key.
- ``reordered``: a digest listing entries out of seq order; ``entry_edited``: an entry whose
  hash does not match its content; ``entry_conflict``: two different entries for one seq;
  ``chain_broken``: an entry whose ``prev`` is not its predecessor's hash; ``chain_gap``:
  seq numbers never digested.
- ``missing``: a ledger entry older than the grace period with no receipt of the same
  destination and hash. Not required: ``health`` (QoS 0, may legitimately be lost), the
  ``offline`` last will (ledgered at every connect, published by the broker only after an
  unclean disconnect) and ``repair`` entries (a torn tail the box cut off its ledger file on
  open, e.g. after a full disk: nothing was sent for them; they chain like any entry).
- ``altered`` / ``not_in_ledger``: a receipt that matches no entry although a trusted digest
  arrived more than the grace period after it; ``altered`` when the seq it claims is ledgered
  for the same destination with another hash (payload changed on the way), else
  ``not_in_ledger`` (sent around the ledger, e.g. straight to the broker).
- ``replayed``: more fresh receipts (not a QoS 1 redelivery, not a retained copy) of one
  destination and hash than the ledger has entries for it.
- ``invalid``: a received payload the contract's schema refused.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.wire.ledger_entries import REPAIR_KIND, entry_hash
from edge.wire.messages import utc_iso
from edge.wire.periodic import Periodic

log = logging.getLogger(__name__)

WILL_SHA256 = hashlib.sha256(b"offline").hexdigest()
LOSSY_SUFFIXES = ("/health",)
"""QoS 0 topics: a ledgered message that never arrives is not a finding."""


@dataclass(frozen=True)
class Finding:
    site: str
    camera: str
    seq: int | None
    kind: str
    detail: str
    ref: str = ""

    @property
    def key(self) -> str:
        return f"{self.site}/{self.camera}/{self.kind}/{self.seq}/{self.ref}"

    def as_dict(self) -> dict[str, Any]:
        return {"site": self.site, "camera": self.camera, "seq": self.seq, "kind": self.kind,
                "detail": self.detail}


@dataclass(frozen=True)
class CameraReport:
    site: str
    camera: str
    enrolled: bool
    digests: int
    entries: int
    head_seq: int | None
    receipts: int
    last_digest_at: float | None
    findings: tuple[Finding, ...] = field(default=())

    @property
    def status(self) -> str:
        if self.findings:
            return "alert"
        if not self.enrolled or not self.digests:
            return "unverified"
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        return {"site": self.site, "camera": self.camera, "status": self.status,
                "enrolled": self.enrolled, "digests": self.digests, "entries": self.entries,
                "head_seq": self.head_seq, "receipts": self.receipts,
                "last_digest_at": utc_iso(self.last_digest_at) if self.last_digest_at else None,
                "findings": [f.as_dict() for f in self.findings]}


def cameras(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """Every camera the hub knows of: enrolled, heard from, named in receipts or alerts."""
    rows = db.execute(
        "SELECT site, camera FROM devices UNION SELECT site, camera FROM cameras "
        "UNION SELECT DISTINCT site, camera FROM receipts "
        "UNION SELECT DISTINCT site, camera FROM privacy_alerts ORDER BY 1, 2").fetchall()
    return [(str(a), str(b)) for a, b in rows]


def verify_camera(
    db: sqlite_utils.Database, site: str, camera: str, grace_s: float, now: float | None = None,
    since: float | None = None, exported: list[dict[str, Any]] | None = None,
) -> CameraReport:
    """Verify one camera's egress (optionally from ``since``; optionally against an exported
    ledger file's entries)."""
    now = time.time() if now is None else now
    lo = since if since is not None else 0.0
    out: list[Finding] = []

    def find(seq: int | None, kind: str, detail: str, ref: str = "") -> None:
        out.append(Finding(site, camera, seq, kind, detail, ref))

    enrolled = db.execute("SELECT 1 FROM devices WHERE key = ?", [f"{site}/{camera}"]).fetchone()
    digests = [dict(r) for r in db.query(
        "SELECT id, received_at, first_seq, head_seq, sig_ok FROM digests WHERE site = ? AND "
        "camera = ? AND received_at >= ? ORDER BY id", [site, camera, lo])]
    good = [d for d in digests if d["sig_ok"] == 1]
    for d in digests:
        span = f"seq {d['first_seq']}..{d['head_seq']}" if d["first_seq"] else f"head {d['head_seq']}"
        if d["sig_ok"] == 0:
            find(d["first_seq"] or d["head_seq"], "bad_signature",
                 f"digest of {span} does not verify with the registered box key; its entries "
                 "are not trusted", str(d["id"]))
        elif d["sig_ok"] is None:
            find(d["first_seq"] or d["head_seq"], "unenrolled",
                 f"digest of {span} from a box with no registered key (vigie hub enrol-box)",
                 str(d["id"]))
    entries: list[dict[str, Any]] = []
    for d in good:
        rows = [dict(r) for r in db.query(
            "SELECT seq, ts, kind, dest, bytes, sha256, prev, hash, pos FROM ledger_entries "
            "WHERE digest_id = ? ORDER BY pos", [d["id"]])]
        for a, b in pairwise(rows):
            if b["seq"] != a["seq"] + 1:
                find(b["seq"], "reordered", f"digest lists seq {b['seq']} right after seq "
                     f"{a['seq']} (entries out of order)")
        entries.extend(rows)

    by_seq: dict[int, dict[str, Any]] = {}
    for e in entries:
        body = {k: e[k] for k in ("seq", "ts", "kind", "dest", "bytes", "sha256", "prev")}
        if entry_hash(e["prev"], body) != e["hash"]:
            find(e["seq"], "entry_edited", f"entry seq {e['seq']} ({e['dest']}) does not match "
                 "its hash: edited after it was written", e["hash"][:16])
        old = by_seq.get(e["seq"])
        if old is None:
            by_seq[e["seq"]] = e
        elif old["hash"] != e["hash"]:
            find(e["seq"], "entry_conflict", f"two different entries for seq {e['seq']} "
                 "(the ledger was rewritten)", e["hash"][:16])
    seqs = sorted(by_seq)
    for s, t in pairwise(seqs):
        if t == s + 1:
            if by_seq[t]["prev"] != by_seq[s]["hash"]:
                find(t, "chain_broken", f"entry seq {t} does not follow entry seq {s} "
                     "(prev differs from its hash)")
        else:
            find(s + 1, "chain_gap", f"seq {s + 1}..{t - 1} never appeared in a trusted digest")

    receipts = [dict(r) for r in db.query(
        "SELECT id, kind, dest, sha256, seq, received_at, dup, retained, valid, reason FROM receipts "
        "WHERE site = ? AND camera = ? AND received_at >= ? ORDER BY id",
        [site, camera, lo - 3600 if since is not None else 0.0])]
    received: Counter[tuple[str, str]] = Counter((r["dest"], r["sha256"]) for r in receipts)
    ledgered: Counter[tuple[str, str]] = Counter((e["dest"], e["sha256"]) for e in by_seq.values())

    for e in by_seq.values():
        if e["ts"] < lo or e["ts"] > now - grace_s or (e["dest"], e["sha256"]) in received:
            continue
        if e["dest"].endswith(LOSSY_SUFFIXES) or e["kind"] == REPAIR_KIND:
            continue
        if e["dest"].endswith("/state") and e["sha256"] == WILL_SHA256:
            continue
        find(e["seq"], "missing", f"ledger entry seq {e['seq']} ({e['kind']} {e['dest']}, "
             f"{e['bytes']} bytes) was never received by the hub")

    last_good = max((d["received_at"] for d in good), default=None)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in receipts:
        groups[(r["dest"], r["sha256"])].append(r)
        if not r["valid"]:
            find(r["seq"], "invalid", f"received payload on {r['dest']} refused by the contract: "
                 f"{r['reason']}", str(r["id"]))
    for key, rs in groups.items():
        n_ledger = ledgered[key]
        fresh = [r for r in rs if not r["dup"] and not r["retained"]]
        if n_ledger == 0:
            for r in rs:
                if r["received_at"] < lo or last_good is None or last_good < r["received_at"] + grace_s:
                    continue
                match = by_seq.get(r["seq"]) if r["seq"] is not None else None
                if match is not None and match["dest"] == r["dest"]:
                    find(r["seq"], "altered", f"received {r['dest']} seq {r['seq']} differs from "
                         "what the box ledgered for that seq (payload changed)", str(r["id"]))
                else:
                    find(r["seq"], "not_in_ledger", f"received {r['dest']} (seq "
                         f"{r['seq'] if r['seq'] is not None else 'none'}) that no ledger entry "
                         "records: sent around the box's egress", str(r["id"]))
        elif len(fresh) > n_ledger:
            for r in fresh[n_ledger:]:
                if r["received_at"] >= lo:
                    find(r["seq"], "replayed", f"{r['dest']} seq {r['seq']} received "
                         f"{len(fresh)} times, ledgered {n_ledger} time(s)", str(r["id"]))

    if exported is not None:
        out.extend(compare_export(site, camera, exported, by_seq))
    return CameraReport(
        site, camera, bool(enrolled), len(digests), len(by_seq), max(seqs) if seqs else None,
        len(receipts), last_good, tuple(out))


def compare_export(
    site: str, camera: str, exported: list[dict[str, Any]], digested: dict[int, dict[str, Any]],
) -> list[Finding]:
    """Findings from a ledger file exported on the box, against the digested entries."""
    out: list[Finding] = []
    prev_hash: str | None = None
    prev_seq: int | None = None
    for n, e in enumerate(exported, start=1):
        try:
            seq = int(e["seq"])
            body = {k: e[k] for k in ("seq", "ts", "kind", "dest", "bytes", "sha256", "prev")}
            own = str(e["hash"])
        except (KeyError, TypeError, ValueError):
            out.append(Finding(site, camera, None, "export_malformed", f"line {n} is not a ledger entry"))
            continue
        if entry_hash(str(e["prev"]), body) != own:
            out.append(Finding(site, camera, seq, "entry_edited",
                               f"exported line {n} (seq {seq}) does not match its hash: edited", "export"))
        if prev_seq is not None and seq != prev_seq + 1:
            out.append(Finding(site, camera, seq, "reordered",
                               f"exported line {n} has seq {seq} after seq {prev_seq}", "export"))
        elif prev_hash is not None and e["prev"] != prev_hash:
            out.append(Finding(site, camera, seq, "chain_broken",
                               f"exported line {n} (seq {seq}) does not chain to the line before", "export"))
        d = digested.get(seq)
        if d is not None and d["hash"] != own:
            out.append(Finding(site, camera, seq, "export_differs",
                               f"exported entry seq {seq} differs from the one the box signed and "
                               "sent earlier (ledger changed on the box)", "export"))
        prev_seq, prev_hash = seq, own
    return out


def raise_alerts(db: sqlite_utils.Database, findings: list[Finding] | tuple[Finding, ...]) -> int:
    """Store findings as privacy alerts (each once); returns how many are new."""
    new = 0
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        for f in findings:
            cur = db.execute(
                "INSERT OR IGNORE INTO privacy_alerts (key, site, camera, seq, kind, detail, raised_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [f.key[:500], f.site, f.camera, f.seq, f.kind, f.detail[:500], time.time()])
            if cur.rowcount:
                new += 1
                log.error("PRIVACY ALERT %s/%s seq %s: %s: %s", f.site, f.camera, f.seq, f.kind,
                          f.detail)
    return new


def verify_all(
    db: sqlite_utils.Database, grace_s: float, since: float | None = None,
    camera: str | None = None,
) -> list[CameraReport]:
    """Reports for every camera (or the ``site/camera`` or ``camera`` named)."""
    out = []
    for site, cam in cameras(db):
        if camera and camera not in (cam, f"{site}/{cam}"):
            continue
        out.append(verify_camera(db, site, cam, grace_s, since=since))
    return out


class Verifier:
    """Continuous verification in the ingest process: every ``every_s``, verify every camera
    over the last ``window_s`` and raise privacy alerts for new findings."""

    def __init__(self, database: Path, grace_s: float, every_s: float, window_s: float):
        self.database = database
        self.grace_s = grace_s
        self.every_s = every_s
        self.window_s = window_s
        self._job = Periodic("egress-verify", every_s, self._tick)

    def start(self) -> None:
        self._job.start()

    def stop(self) -> None:
        self._job.stop(10)

    def run_once(self) -> int:
        from central import db as hubdb

        db = hubdb.connect(self.database)
        try:
            findings: list[Finding] = []
            for rep in verify_all(db, self.grace_s, since=time.time() - self.window_s):
                findings.extend(rep.findings)
            return raise_alerts(db, findings)
        finally:
            db.conn.close()

    def _tick(self) -> None:
        try:
            self.run_once()
        except Exception:  # next round tries again
            log.exception("egress verification failed")
