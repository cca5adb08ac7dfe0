"""Cost of ``edge.wire.messages.decode`` on a typical event: this tree against earlier revisions.

Each revision's ``edge/wire/messages.py`` is loaded from git beside the current one and the calls
are interleaved round by round in one process, so machine load weighs on all alike. Prints a
markdown table (median microseconds per decode, ratio to the first revision).
Usage: ``python benchmarks/wire_decode.py [--before REV ...] [--rounds N] [--calls N]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import edge.wire.messages as current

ROOT = Path(__file__).resolve().parent.parent
SITE, CAMERA = "marseille", "cam-042"


def load_revision(rev: str, into: Path) -> ModuleType:
    """``edge/wire/messages.py`` as it was at ``rev``, imported under a private name."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:edge/wire/messages.py"],
                          check=True, capture_output=True, text=True).stdout
    path = into / f"messages_{rev.replace('/', '_').replace('~', '_')}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def typical_event() -> bytes:
    """An intrusion start with two objects and a measure, as a box sends it."""
    msg = current.EventMessage(
        id=current.uuid7(), site=SITE, camera=CAMERA, type="intrusion", state="start",
        severity="warning", started_at=current.utc_iso(1_795_000_000.48), ended_at=None,
        zone="pedestrian-street",
        objects=(current.ObjectRef("person", 0.91, (0.41, 0.52, 0.12, 0.29)),
                 current.ObjectRef("car", 0.87, (0.11, 0.5, 0.2, 0.15))),
        measure={"count": 2.0}, model_name="yolox-nano", model_sha256="e8" * 32,
    ).to_wire(seq=1842)
    return current.encode(msg)


def per_call_us(decode: Callable[..., Any], payload: bytes, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        decode("event", payload, SITE, CAMERA)
    return (time.perf_counter() - t0) / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", action="append", help="git revision to compare (repeatable; "
                    "default: main)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--calls", type=int, default=500)
    args = ap.parse_args()
    payload = typical_event()
    with tempfile.TemporaryDirectory() as tmp:
        modules = [(rev, load_revision(rev, Path(tmp))) for rev in (args.before or ["main"])]
        modules.append(("this tree", current))
        for _, module in modules:  # warm up: compile the fast validators
            assert module.decode("event", payload, SITE, CAMERA)["seq"] == 1842
        times: dict[str, list[float]] = {name: [] for name, _ in modules}
        for _ in range(args.rounds):
            for name, module in modules:
                times[name].append(per_call_us(module.decode, payload, args.calls))
    base = statistics.median(times[modules[0][0]])
    print(f"decode() of a typical event ({len(payload)} bytes), median of {args.rounds} rounds "
          f"of {args.calls} calls\n")
    print("| revision | µs per decode | ratio |")
    print("|---|---|---|")
    for name, _ in modules:
        med = statistics.median(times[name])
        print(f"| {name} | {med:.1f} | {med / base:.2f} |")


if __name__ == "__main__":
    main()
