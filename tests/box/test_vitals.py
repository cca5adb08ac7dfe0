"""A vital thread (box or hub) whose loop raises ends its process with status 70, so that
systemd restarts it, and the box's consumer and outbound threads are vital ones."""

from __future__ import annotations

import ast
import subprocess
import sys

from edge.wire import vitals

DIES = """
import logging, threading
from edge.wire.vitals import vital_thread
logging.basicConfig()
t = vital_thread("sender", lambda: 1 / 0)
t.start()
t.join(30)
print("still running")
"""


def test_a_dying_vital_thread_ends_the_process_with_70() -> None:
    done = subprocess.run([sys.executable, "-c", DIES], capture_output=True, text=True, timeout=60)
    assert done.returncode == vitals.EXIT_THREAD_DIED, done.stderr
    assert "still running" not in done.stdout
    assert "thread sender died (ZeroDivisionError" in done.stderr


def test_a_stopped_vital_thread_is_not_a_failure() -> None:
    t = vitals.vital_thread("test-stops", lambda: None)
    t.start()
    t.join(10)
    assert vitals.health()["threads"]["test-stops"] == "stopped"
    vitals.forget("test-stops")


def _vital_threads(source: str) -> set[str]:
    """Names given to ``vital_thread(name, ...)`` or to a ``Periodic(name, ...)`` job that is
    not made non-vital (``vital=False``) in ``source``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        non_vital = any(k.arg == "vital" and not (isinstance(k.value, ast.Constant) and k.value.value)
                        for k in node.keywords)
        if func == "vital_thread" or (func == "Periodic" and not non_vital):
            names.add(node.args[0].value)
    return names


def test_the_box_threads_are_vital() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "edge"
    for module, name in (("search/answer.py", "search"), ("outbound/sender.py", "sender"),
                         ("pipeline.py", "health"), ("clips/flow.py", "clip-upload"),
                         ("outbound/digests.py", "ledger-digest")):
        assert name in _vital_threads((root / module).read_text()), (module, name)
    assert _vital_threads('Periodic("a", 1, f)\nPeriodic("b", 1, f, vital=False)\n'
                          'vital_thread("c", f)') == {"a", "c"}
