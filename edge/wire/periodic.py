"""A job run every so often in a thread of its own, for the background loops of box and hub.

:class:`Periodic` runs ``job`` every ``interval_s`` on a fixed clock: the due times are
``first, first + interval, first + 2 * interval, ...`` whatever the job takes, so the rhythm
does not drift by the job's duration. One thread runs the job, so runs never overlap; a run
that takes longer than the interval skips the due times it missed (they are counted, not
caught up in a burst). :meth:`Periodic.run_now` asks for a run at once (runs asked for while
one is going are merged into one run after it). :meth:`Periodic.stop` wakes the sleeping
thread at once.

A vital job (the default) runs in a :func:`edge.wire.vitals.vital_thread`: an exception that
escapes the job ends the process with status 70 so that systemd restarts it. A job that must
survive its errors catches them itself and logs what failed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from edge.wire.vitals import vital_thread

log = logging.getLogger(__name__)


def next_due(due: float, now: float, interval_s: float) -> float:
    """The first due time on the clock ``due + k * interval_s`` that is after ``now``: the
    next one after a run that ended in time, later ones when the run overran (the ticks it
    missed are skipped)."""
    if now < due:
        return due
    return due + (math.floor((now - due) / interval_s) + 1) * interval_s


class Periodic:
    """Runs ``job`` every ``interval_s`` seconds in a daemon thread named ``name``.

    The first run comes ``first_run_s`` after :meth:`start` (0: at once), by default one
    interval after it. ``runs`` counts the runs that ended, ``skipped`` the due times missed
    because a run overran.
    """

    def __init__(self, name: str, interval_s: float, job: Callable[[], object], *,
                 vital: bool = True, first_run_s: float | None = None):
        if not interval_s > 0:
            raise ValueError(f"{name}: the interval must be positive, not {interval_s!r}")
        self.name = name
        self.interval_s = float(interval_s)
        self.job = job
        self.vital = vital
        self.first_run_s = self.interval_s if first_run_s is None else max(float(first_run_s), 0.0)
        self.runs = 0
        self.skipped = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._asked = False
        self._thread: threading.Thread | None = None

    # -- control ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        if self.vital:
            self._thread = vital_thread(self.name, self._loop)
        else:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def run_now(self) -> None:
        """Run the job as soon as the thread is free (before :meth:`start`: at start)."""
        with self._cond:
            self._asked = True
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop: the sleeping thread wakes at once, a running job finishes first. Waits up to
        ``timeout`` s (0: not at all) for the thread to end; returns whether it has."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is None:
            return True
        if timeout > 0 and thread is not threading.current_thread():
            thread.join(timeout)
        return not thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called: a long job may check it and end early."""
        return self._stopping

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` inside the job (a back-off) unless stopped meanwhile; returns
        whether :meth:`stop` was called."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._stopping

    def wait_runs(self, n: int, timeout: float) -> bool:
        """Wait until ``n`` runs have ended, up to ``timeout`` s; returns whether they have."""
        with self._cond:
            return self._cond.wait_for(lambda: self.runs >= n, timeout)

    # -- the thread -------------------------------------------------------------------------
    def _loop(self) -> None:
        due = time.monotonic() + self.first_run_s
        while self._sleep_until(due):
            self.job()
            now = time.monotonic()
            following = next_due(due, now, self.interval_s)
            missed = round((following - due) / self.interval_s) - 1 if now >= due else 0
            with self._cond:
                self.runs += 1
                self.skipped += max(missed, 0)
                self._cond.notify_all()
            if missed > 0:
                log.debug("%s: the run took %.1f s, %d due time(s) skipped", self.name,
                          now - due, missed)
            due = following

    def _sleep_until(self, due: float) -> bool:
        """Sleep until ``due`` or until a run is asked for; False once stopped."""
        with self._cond:
            while not self._stopping and not self._asked:
                left = due - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._asked = False
            return not self._stopping
