"""Starting the editor: the bind address check, the printed URL and tunnel, serve, stop.

The server binds to loopback only; any other address is refused unless the caller says so
explicitly (``--allow-remote-bind``). It prints the address with its one-time token and the
one SSH command the technician runs on their laptop, serves until the idle timeout, SIGTERM
or Ctrl-C, then stops the frame reader. It opens no other connection.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import make_server

from edge.setup.app import Session, create_app, source_of
from edge.setup.frames import FrameKeeper
from edge.setup.guard import Guard, IdleTimer

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
DEFAULT_IDLE_S = 15 * 60.0


class BindRefused(Exception):
    """An address that is not loopback, without the explicit flag."""


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check_bind(host: str, allow_remote: bool) -> None:
    if not is_loopback(host) and not allow_remote:
        raise BindRefused(
            f"refusing to bind to {host}: the editor shows the camera's raw video, so it listens on "
            "loopback (127.0.0.1) only and is reached through an SSH tunnel; pass --allow-remote-bind "
            "to bind elsewhere anyway")


@dataclass(frozen=True)
class Options:
    config: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    idle_s: float = DEFAULT_IDLE_S
    lang: str | None = None
    keep_s: float = 30.0
    allow_remote_bind: bool = False
    ssh_target: str = "tech@box"


def banner(opts: Options, port: int, token: str) -> str:
    """What the command prints: the tunnel to open, the address to visit, the timeout."""
    return "\n".join([
        f"Éditeur de zones de {opts.config} / zone editor, {opts.host}:{port}",
        "Sur votre poste / on your laptop:",
        f"  ssh -L {port}:127.0.0.1:{port} {opts.ssh_target}",
        "puis ouvrez / then open (jeton à usage unique / one-time token):",
        f"  http://127.0.0.1:{port}/?token={token}",
        f"Arrêt après {opts.idle_s:g} s sans activité / stops after {opts.idle_s:g} s idle; Ctrl-C to stop.",
    ])


def serve(opts: Options, stop: threading.Event | None = None,
          echo: Callable[[str], None] = print) -> None:
    """Run the editor until idle, ``stop`` set, or the server fails."""
    check_bind(opts.host, opts.allow_remote_bind)
    keeper = FrameKeeper(source_of(opts.config), keep_s=opts.keep_s)
    guard = Guard()
    session = Session(opts.config, guard, keeper, lang=opts.lang)
    app = create_app(session)
    server = make_server(opts.host, opts.port, app, threaded=True)
    port = server.server_port
    keeper.start()
    idle = IdleTimer(guard, opts.idle_s, server.shutdown)
    idle.start()
    stopper = None
    if stop is not None:
        def _stop_when_asked() -> None:
            stop.wait()
            server.shutdown()
        stopper = threading.Thread(target=_stop_when_asked, name="setup-stop", daemon=True)
        stopper.start()
    echo(banner(opts, port, guard.token))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        idle.stop()
        keeper.stop()
        server.server_close()
        log.info("zone editor stopped")
