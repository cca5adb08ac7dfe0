"""The periodic-job helper behind every background loop of box and hub: it runs on a clock that
does not drift, wakes at once to stop or run now, never overlaps itself, skips (does not catch
up) the due times a slow run missed, and a raising vital job ends the process with status 70."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from edge.wire import vitals
from edge.wire.periodic import Periodic, next_due
from tests.conftest import wait_for


class Runs:
    """Counts a job's runs and when each began and ended, for the test to wait on."""

    def __init__(self, work: threading.Event | None = None):
        self.cond = threading.Condition()
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.running = 0
        self.most_running = 0
        self.hold_first = work  # the first run waits for this event

    def __call__(self) -> None:
        with self.cond:
            self.starts.append(time.monotonic())
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            first = len(self.starts) == 1
            self.cond.notify_all()
        if first and self.hold_first is not None:
            assert self.hold_first.wait(30)
        with self.cond:
            self.running -= 1
            self.ends.append(time.monotonic())
            self.cond.notify_all()

    def wait(self, n: int, timeout: float = 15) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.ends) >= n, timeout), \
                f"{len(self.ends)} run(s) ended, {n} expected"


@pytest.fixture
def name(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A thread name of the test's own, no longer counted by the process health afterwards."""
    n = f"periodic-{request.node.name}"
    yield n
    vitals.forget(n)


def test_the_clock_does_not_drift_and_skips_what_an_overrun_missed() -> None:
    assert next_due(10.0, 10.3, 1.0) == 11.0  # ran in time: the next tick
    assert next_due(10.0, 10.0, 1.0) == 11.0
    assert next_due(10.0, 12.5, 1.0) == 13.0  # overran: 11 and 12 are skipped, not caught up
    assert next_due(10.0, 9.2, 1.0) == 10.0  # an early run (asked for) keeps the clock
    due = 0.0
    for _ in range(1000):  # every run takes 60 % of the interval: the clock stays put
        due = next_due(due, due + 0.06, 0.1)
    assert due == pytest.approx(100.0, abs=1e-6)


def test_runs_at_its_interval_first_after_one(name: str) -> None:
    runs = Runs()
    job = Periodic(name, 0.05, runs)
    began = time.monotonic()
    job.start()
    try:
        runs.wait(5)
        elapsed = time.monotonic() - began
    finally:
        assert job.stop()
    assert runs.starts[0] >= began + 0.05  # the first run waits one interval
    for a, b in zip(runs.starts, runs.starts[1:], strict=False):
        assert b > a
    assert len(runs.ends) <= elapsed / 0.05 + 1  # never faster than its clock
    assert job.runs == len(runs.ends)
    assert vitals.health()["threads"][name] == "stopped"


def test_first_run_at_once_then_sleeps_until_stopped_promptly(name: str) -> None:
    runs = Runs()
    job = Periodic(name, 3600, runs, first_run_s=0)
    job.start()
    runs.wait(1)  # an hourly job ran at start
    assert vitals.health()["threads"][name] == "alive"
    began = time.monotonic()
    assert job.stop(30) is True  # woken from its hour's sleep
    assert time.monotonic() - began < 5
    assert not job.alive and job.runs == 1
    assert vitals.health()["threads"][name] == "stopped"


def test_run_now_wakes_the_sleeping_job(name: str) -> None:
    runs = Runs()
    job = Periodic(name, 3600, runs)
    job.run_now()  # asked for before the start: runs at start
    job.start()
    try:
        runs.wait(1)
        job.run_now()
        runs.wait(2)
        assert job.wait_runs(2, 5)
    finally:
        job.stop()
    assert job.runs == 2


def test_a_slow_job_does_not_overlap_or_pile_up(name: str) -> None:
    interval = 0.05
    release = threading.Event()
    runs = Runs(work=release)
    job = Periodic(name, interval, runs)
    job.start()
    try:
        with runs.cond:
            assert runs.cond.wait_for(lambda: runs.starts, 15)
        started = runs.starts[0]
        for _ in range(3):
            job.run_now()  # asked for three times while busy: one run afterwards
        wait_for(lambda: time.monotonic() >= started + 10 * interval, 15, interval=0.02,
                 what="ten intervals in the first run")
        release.set()
        runs.wait(4)
    finally:
        job.stop()
    first_end = runs.ends[0]
    assert runs.most_running == 1
    assert runs.starts[1] >= first_end  # the asked-for run comes after the slow one
    assert runs.starts[2] > first_end  # then the clock's next due time, not the missed ones
    assert runs.starts[3] > first_end + interval
    assert job.skipped >= 9


def test_pause_in_a_job_ends_when_stopped(name: str) -> None:
    paused = threading.Event()
    result: list[bool] = []

    def job() -> None:
        paused.set()
        result.append(periodic.pause(3600))

    periodic = Periodic(name, 3600, job, first_run_s=0)
    periodic.start()
    assert paused.wait(15)
    assert periodic.stop(30)
    assert result == [True] and periodic.stopping


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        Periodic("nothing", 0, lambda: None)


DIES = """
import logging, time
from edge.wire.periodic import Periodic
logging.basicConfig()
job = Periodic("boom", 0.05, lambda: 1 / 0, vital={vital})
job.start()
deadline = time.monotonic() + 30
while job.alive and time.monotonic() < deadline:
    time.sleep(0.01)
print("still running", job.alive)
"""


def test_a_raising_vital_job_ends_the_process_with_70() -> None:
    done = subprocess.run([sys.executable, "-c", DIES.format(vital=True)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == vitals.EXIT_THREAD_DIED, done.stderr
    assert "still running" not in done.stdout
    assert "thread boom died (ZeroDivisionError" in done.stderr


def test_a_raising_job_that_is_not_vital_only_ends_its_thread() -> None:
    done = subprocess.run([sys.executable, "-c", DIES.format(vital=False)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "still running False" in done.stdout
    assert "ZeroDivisionError" in done.stderr
