"""Consumer threads that must not die quietly, and the process health they make up.

:func:`start_vital` runs a loop in a daemon thread. If an exception escapes the loop anyway,
the thread logs it, marks the process unhealthy and exits the whole process with
:data:`EXIT_THREAD_DIED`, so that systemd (``Restart=on-failure``) restarts it: a process
that stays up without its writer would look healthy while storing nothing. Whatever the
dead thread had not acknowledged is delivered again by the broker to the restarted process.

``GET /healthz`` (no login: for the load balancer and monitoring) answers 200 while every
vital thread of the process is alive, 503 with the names of the dead ones otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify

from central.auth import public

log = logging.getLogger(__name__)

EXIT_THREAD_DIED = 70
"""The process exit status when a vital thread died (EX_SOFTWARE)."""

_lock = threading.Lock()
_threads: dict[str, threading.Thread] = {}
_dead: dict[str, str] = {}


def mark_dead(name: str, why: str) -> None:
    """Mark the process unhealthy: ``/healthz`` answers 503 naming the thread."""
    with _lock:
        _dead[name] = why[:300]


def _die(name: str, exc: BaseException) -> None:
    """Log, mark unhealthy, flush and exit the process at once (no clean-up that could hang)."""
    mark_dead(name, f"{type(exc).__name__}: {exc}")
    log.critical("thread %s died (%s: %s); exiting with status %d so that the service is "
                 "restarted", name, type(exc).__name__, exc, EXIT_THREAD_DIED,
                 exc_info=(type(exc), exc, exc.__traceback__))
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):  # exiting anyway
            handler.flush()
    sys.stderr.flush()
    os._exit(EXIT_THREAD_DIED)


def start_vital(name: str, loop: Callable[[], None]) -> threading.Thread:
    """Start ``loop`` in a daemon thread named ``name`` whose death ends the process."""

    def run() -> None:
        try:
            loop()
        except BaseException as exc:
            _die(name, exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _lock:
        _threads[name] = thread
    thread.start()
    return thread


def watch(name: str, thread: threading.Thread) -> None:
    """Count an already started thread among the vital ones (health only)."""
    with _lock:
        _threads[name] = thread


def health() -> dict[str, Any]:
    """``{"ok": bool, "threads": {name: "alive" | "stopped" | "dead: why"}}``; a thread that
    ended because it was stopped on purpose is ``stopped``, not a failure."""
    with _lock:
        threads = {n: "alive" if t.is_alive() else "stopped" for n, t in _threads.items()}
        threads.update({n: f"dead: {why}" for n, why in _dead.items()})
    return {"ok": not any(v.startswith("dead") for v in threads.values()), "threads": threads}


def forget(name: str) -> None:
    """Stop counting a thread that was stopped on purpose."""
    with _lock:
        _threads.pop(name, None)
        _dead.pop(name, None)


bp = Blueprint("vitals", __name__)


@bp.get("/healthz")
@public
def healthz() -> Any:
    """200 while every vital thread of this process is alive, else 503."""
    report = health()
    resp = jsonify(report)
    resp.status_code = 200 if report["ok"] else 503
    return resp
