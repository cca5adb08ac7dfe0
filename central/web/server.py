"""The hub's production HTTP server: waitress, with the thread count, idle timeout and body limit
of the hub config (``[web]``), for ``vigie hub serve`` and the tests that run a real hub."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from central.config import HubConfig

log = logging.getLogger(__name__)


class HubServer:
    """A bound waitress server: :meth:`serve_forever` in one thread, :meth:`shutdown` from any."""

    def __init__(self, app: Any, cfg: HubConfig, host: str | None = None, port: int | None = None) -> None:
        import waitress

        self.server: Any = waitress.create_server(
            app, host=host or cfg.bind, port=cfg.port if port is None else port,
            threads=cfg.web.threads, channel_timeout=cfg.web.channel_timeout_s,
            cleanup_interval=max(1, min(30, cfg.web.channel_timeout_s // 2)),
            max_request_body_size=cfg.max_body_bytes(), ident="vigie-hub",
            clear_untrusted_proxy_headers=False)  # central.web.auth.TrustedProxies decides
        self.host = str(self.server.effective_host)
        self.port = int(self.server.effective_port)
        self._stop = threading.Event()
        self._done = threading.Event()

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown`; the sockets are closed in this (the loop's) thread."""
        from waitress import wasyncore

        log.info("hub serving on http://%s:%d/ (waitress, %d threads)", self.host, self.port,
                 self.server.adj.threads)
        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=self.server.adj.asyncore_loop_timeout, map=self.server._map,
                               use_poll=self.server.adj.asyncore_use_poll, count=1)
        except BaseException:
            log.exception("the HTTP server's loop failed")
            raise
        finally:
            wasyncore.close_all(self.server._map)
            self.server.task_dispatcher.shutdown(timeout=5)
            self._done.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Ask the loop to stop (it wakes at once) and wait until it has."""
        self._stop.set()
        if self._done.is_set():
            return
        with contextlib.suppress(OSError):  # the loop closed its sockets in the meantime
            self.server.pull_trigger()
        self._done.wait(timeout)
