"""Subject-access exports as background jobs: started by the officer, followed through a progress
endpoint, downloaded once.

A job re-renders the clip in a thread (:meth:`Redactor.render`, one export at a time) and reports
the frames done of both passes; the finished ZIP is held in memory only until its one download or
:data:`KEEP_S` after it finished, whichever comes first (the hub keeps no copy). Only the person
who started a job may see it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

KEEP_S = 600.0
"""A finished export not downloaded within this long is dropped."""
MAX_JOBS = 20
"""Jobs remembered at once (finished ones are forgotten first)."""

State = Literal["queued", "running", "done", "failed"]


@dataclass
class Job:
    """One export: who asked, how far it is, and its ZIP once done."""

    id: str
    event_id: str
    actor: str
    estimate_s: float
    created_at: float = field(default_factory=time.time)
    state: State = "queued"
    done: int = 0
    total: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    data: bytes | None = field(default=None, repr=False)
    manifest: dict[str, Any] | None = field(default=None, repr=False)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def view(self) -> dict[str, Any]:
        """What the progress endpoint says."""
        now = time.time()
        fraction = self.done / self.total if self.total else (1.0 if self.state == "done" else 0.0)
        elapsed = (self.finished_at or now) - (self.started_at or now)
        remaining = None
        if self.state == "running" and self.done and self.total:
            remaining = round(elapsed * (self.total - self.done) / self.done, 1)
        elif self.state in ("queued", "running"):
            remaining = round(self.estimate_s * (1 - fraction), 1)
        return {"id": self.id, "event_id": self.event_id, "state": self.state,
                "done": self.done, "total": self.total, "fraction": round(fraction, 4),
                "elapsed_s": round(elapsed, 1), "estimate_s": round(self.estimate_s, 1),
                "remaining_s": remaining, "error": self.error,
                "download": f"/privacy/access/jobs/{self.id}/download"
                if self.state == "done" and self.data is not None else None}


class Jobs:
    """The process's export jobs."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, event_id: str, actor: str, estimate_s: float,
              work: Callable[[Job], tuple[bytes, dict[str, Any]]]) -> Job:
        """Run ``work(job)`` in a thread; it returns the ZIP and its manifest."""
        job = Job(uuid.uuid4().hex, event_id, actor, estimate_s)
        with self._lock:
            self._forget()
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), name=f"sar-{job.id[:8]}",
                         daemon=True).start()
        return job

    def _run(self, job: Job, work: Callable[[Job], tuple[bytes, dict[str, Any]]]) -> None:
        job.state, job.started_at = "running", time.time()
        try:
            job.data, job.manifest = work(job)
            job.state = "done"
        except Exception as exc:  # the officer reads why on the page
            log.warning("subject-access export %s of %s failed: %s", job.id, job.event_id, exc)
            job.error = getattr(exc, "description", None) or str(exc)
            job.state = "failed"
        finally:
            job.finished_at = time.time()

    def get(self, job_id: str, actor: str) -> Job | None:
        with self._lock:
            self._forget()
            job = self._jobs.get(job_id)
        return job if job is not None and job.actor == actor else None

    def take(self, job_id: str, actor: str) -> Job | None:
        """The finished job's ZIP, handed out once (then dropped)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.actor != actor or job.data is None:
                return None
            taken = Job(job.id, job.event_id, job.actor, job.estimate_s, data=job.data,
                        manifest=job.manifest, state=job.state)
            job.data = None
            return taken

    def _forget(self) -> None:
        now = time.time()
        for jid, job in list(self._jobs.items()):
            if job.finished_at is not None and now - job.finished_at > KEEP_S:
                del self._jobs[jid]
        while len(self._jobs) >= MAX_JOBS:
            done = [j for j in self._jobs.values() if j.finished_at is not None]
            if not done:
                break
            del self._jobs[min(done, key=lambda j: j.finished_at or 0.0).id]


JOBS = Jobs()
