"""systemd notifications: READY=1, and watchdog pings only while the agent makes progress."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from edge.sdnotify import Watchdog, notify, watchdog_interval


def _listen(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(0.05)
    return s


def _drain(s: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(s.recv(256).decode())
        except TimeoutError:
            return out


def test_notify_outside_systemd_does_nothing() -> None:
    assert notify("READY=1", {}) is False
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None  # not us


def test_watchdog_pings_only_while_frames_flow(tmp_path: Path) -> None:
    sock = _listen(tmp_path / "notify")
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "200000",
           "WATCHDOG_PID": str(os.getpid())}
    frames = [0]
    connected = [True]
    dog = Watchdog(lambda: frames[0], lambda: not connected[0], env)
    assert dog.interval == 0.1
    dog.start()
    try:
        assert _drain(sock)[:1] == ["READY=1"]
        for _ in range(6):  # frames flow: pings
            frames[0] += 1
            time.sleep(0.1)
        assert "WATCHDOG=1" in _drain(sock)
        time.sleep(0.25)  # stuck with the camera connected: no more pings
        _drain(sock)
        time.sleep(0.4)
        assert "WATCHDOG=1" not in _drain(sock)
        connected[0] = False  # camera lost: the capture thread reconnects, the agent is alive
        time.sleep(0.4)
        assert "WATCHDOG=1" in _drain(sock)
    finally:
        dog.stop()
    assert "STOPPING=1" in _drain(sock)
    sock.close()
