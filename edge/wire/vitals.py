"""Threads that must not die quietly (box and hub), and the process health they make up.

:func:`vital_thread` makes (and :func:`start_vital` makes and starts) a daemon thread for a
loop. If an exception escapes the loop anyway, the thread logs it, marks the process unhealthy
and exits the whole process with :data:`EXIT_THREAD_DIED`, so that systemd restarts it: a
process that stays up without its writer or sender would look healthy while doing nothing.
Whatever the dead thread had not acknowledged is delivered again by the broker (hub), or is
still in the outbox (box), when the restarted process runs.

The hub's ``GET /healthz`` (``central.web.health``) reports :func:`health`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

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


def vital_thread(name: str, loop: Callable[[], None]) -> threading.Thread:
    """A daemon thread named ``name`` running ``loop`` whose death ends the process (not
    started yet)."""

    def run() -> None:
        try:
            loop()
        except BaseException as exc:
            _die(name, exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    with _lock:
        _threads[name] = thread
    return thread


def start_vital(name: str, loop: Callable[[], None]) -> threading.Thread:
    """Start ``loop`` in a daemon thread named ``name`` whose death ends the process."""
    thread = vital_thread(name, loop)
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


def stop_on_signals(stop: threading.Event, logger: logging.Logger = log) -> None:
    """SIGTERM (systemd) and SIGINT (Ctrl-C) set ``stop``: the process ends its work and exits 0."""

    def handler(signum: int, frame: object) -> None:
        logger.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
