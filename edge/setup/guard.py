"""The editor's door: a one-time token exchanged for a session cookie, and the idle timeout.

The token printed by ``vigie edge setup`` is good for one exchange: the first request that
carries it (``?token=``) gets a session cookie (HttpOnly, SameSite=Strict) holding a second
secret, and every later request must carry that cookie. Both are compared in constant time.
Each accepted request counts as activity; :class:`IdleTimer` stops the server when there has
been none for ``idle_s`` seconds.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

COOKIE = "vigie_setup"


class Guard:
    """Checks the token or the session cookie of each request, and records activity."""

    def __init__(self, token: str | None = None):
        self.token = token or secrets.token_urlsafe(24)
        self.session = secrets.token_urlsafe(32)
        self._token_used = False
        self._lock = threading.Lock()
        self.last_activity = time.monotonic()

    def exchange(self, offered: str | None) -> bool:
        """Whether ``offered`` is the one-time token, not used yet (then it is used up)."""
        if not offered:
            return False
        with self._lock:
            ok = not self._token_used and hmac.compare_digest(offered.encode(), self.token.encode())
            if ok:
                self._token_used = True
                self.touch()
            return ok

    def admits(self, cookie: str | None) -> bool:
        """Whether the request's cookie is this session's (and then it counts as activity)."""
        ok = bool(cookie) and hmac.compare_digest(str(cookie).encode(), self.session.encode())
        if ok:
            self.touch()
        return ok

    def touch(self) -> None:
        self.last_activity = time.monotonic()


class IdleTimer:
    """Calls ``on_idle`` once when ``guard`` has seen no activity for ``idle_s`` seconds."""

    def __init__(self, guard: Guard, idle_s: float, on_idle: Callable[[], None]):
        self.guard, self.idle_s, self.on_idle = guard, idle_s, on_idle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="setup-idle", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            left = self.idle_s - (time.monotonic() - self.guard.last_activity)
            if left <= 0:
                log.info("no activity for %.0f s: stopping the editor", self.idle_s)
                self.on_idle()
                return
            self._stop.wait(min(left, 1.0))

    def stop(self) -> None:
        self._stop.set()
