"""Cost of remembering a search request id on the box (``edge.search.seen.SeenRequests``).

    .venv/bin/python benchmarks/seen_requests.py [--dir DIR] [--requests 500] [--live 0]

Each answered or refused request commits its id to the index file with ``synchronous=FULL``
(one fsync) before the answer is built. Prints a markdown table of the time per request,
with ``--live`` ids already remembered and unexpired (the table's size under load).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from edge.search.seen import SeenRequests
from edge.wire.messages import uuid7


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=None, help="folder on the disk to measure")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--live", type=int, default=0, help="unexpired ids present beforehand")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.dir))
    seen = SeenRequests(folder / "index.sqlite", keep_s=300)
    now = time.time()
    conn = seen._conn  # prefill in one transaction: only the measured requests pay an fsync
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO search_requests VALUES (?, ?, ?)",
                     [(uuid7(), now + 900, now) for _ in range(args.live)])
    conn.execute("COMMIT")
    times = []
    for _ in range(args.requests):
        t = time.perf_counter()
        seen.remember(uuid7(), now + 900, now)
        times.append((time.perf_counter() - t) * 1000)
    seen.close()
    shutil.rmtree(folder)
    times.sort()
    p = lambda q: times[min(int(q * len(times)), len(times) - 1)]  # noqa: E731
    print("| folder | live ids | requests | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|")
    print(f"| {folder.parent} | {args.live} | {args.requests} | {p(0.5):.2f} | {p(0.95):.2f} "
          f"| {times[-1]:.2f} |")


if __name__ == "__main__":
    main()
