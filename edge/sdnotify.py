"""systemd notifications for the agent's unit: ``READY=1`` and the watchdog.

The unit (``ansible/roles/edge_box/templates/vigie-edge@.service.j2``) is ``Type=notify`` with
``WatchdogSec``. :class:`Watchdog` pings systemd only while the pipeline makes progress: frames
were processed since the last look, or the camera is disconnected (the capture thread is then
reconnecting on its own, which a restart would not speed up). A pipeline that is stuck with a
connected camera stops the pings and systemd restarts the agent. Outside systemd
(no ``NOTIFY_SOCKET``) everything here does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable

from edge.wire.periodic import Periodic

log = logging.getLogger(__name__)


def notify(state: str, env: dict[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to systemd; False when not run by systemd."""
    env = dict(os.environ) if env is None else env
    addr = env.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):  # abstract socket
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(addr)
            s.sendall(state.encode("ascii"))
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", env.get("NOTIFY_SOCKET"), exc)
        return False
    return True


def watchdog_interval(env: dict[str, str] | None = None) -> float | None:
    """Half of systemd's ``WATCHDOG_USEC`` in seconds, or None when no watchdog is asked for."""
    env = dict(os.environ) if env is None else env
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2e6, 0.05)
    except ValueError:
        return None


class Watchdog:
    """Pings systemd's watchdog while ``progress()`` changes or ``idle_ok()`` holds."""

    def __init__(self, progress: Callable[[], int], idle_ok: Callable[[], bool],
                 env: dict[str, str] | None = None):
        self.progress = progress
        self.idle_ok = idle_ok
        self.env = dict(os.environ) if env is None else env
        self.interval = watchdog_interval(self.env)
        self._job: Periodic | None = None
        self._last = 0
        self.pings = 0

    def start(self) -> None:
        """Say READY=1 and start pinging (when systemd asked for a watchdog)."""
        notify("READY=1", self.env)
        if self.interval is None:
            return
        self._last = self.progress()
        self._job = Periodic("watchdog", self.interval, self._ping, vital=False)
        self._job.start()

    def check(self, last: int) -> tuple[bool, int]:
        """Whether the agent is alive given the progress count ``last`` seen before."""
        now = self.progress()
        return (now != last or self.idle_ok()), now

    def _ping(self) -> None:
        alive, self._last = self.check(self._last)
        if alive and notify("WATCHDOG=1", self.env):
            self.pings += 1
        elif not alive:
            log.error("no frame processed for %.0f s with the camera connected: "
                      "withholding the watchdog ping so that systemd restarts the agent",
                      self.interval)

    def stop(self) -> None:
        """Say STOPPING=1 and stop pinging."""
        if self._job is not None:
            self._job.stop(0)
        notify("STOPPING=1", self.env)
