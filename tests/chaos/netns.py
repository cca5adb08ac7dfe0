"""A network namespace joined to the host by a veth pair, with a cut switch (nftables drop).

The chaos test runs the edge agent inside the namespace (``ip netns exec``) so that its only
way to the broker is the veth link; :meth:`NetNamespace.cut` drops every packet in the
namespace (both directions: the TCP connection stays "up" but nothing arrives, as when a
cable or a 4G link dies), :meth:`NetNamespace.restore` removes the rule. Needs root, iproute2
and nftables (``make test`` installs the last two when missing and run as root).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "vigie-chaos-"
CUT_TABLE = "vigie_cut"
ETC_NETNS = Path("/etc/netns")


class NetnsError(Exception):
    """The namespace could not be set up (not root, iproute2 or nftables missing...)."""


def _run(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except FileNotFoundError:
        raise NetnsError(f"{cmd[0]} is not installed: apt-get install iproute2 nftables "
                         "(or run `make test` as root)") from None
    if done.returncode:
        raise NetnsError(f"`{' '.join(cmd)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def missing_tools() -> list[str]:
    """The commands this module needs that are not installed."""
    return [t for t in ("ip", "nft") if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]


def sweep_stale() -> None:
    """Delete namespaces left by an earlier run whose process no longer exists."""
    with contextlib.suppress(NetnsError):
        for line in _run("ip", "netns", "list").splitlines():
            m = re.match(rf"{PREFIX}(\d+)-\w+", line)
            if m and not Path(f"/proc/{m.group(1)}").exists():
                log.info("deleting stale network namespace %s", m.group(0))
                with contextlib.suppress(NetnsError):
                    _run("ip", "netns", "del", m.group(0))
                shutil.rmtree(ETC_NETNS / m.group(0), ignore_errors=True)


class NetNamespace:
    """``name`` with veth ``ns_if`` at ``ns_ip``; the host end ``host_if`` at ``host_ip`` (/30)."""

    def __init__(self) -> None:
        token = f"{random.randrange(16**4):04x}"
        self.name = f"{PREFIX}{os.getpid()}-{token}"
        self.host_if, self.ns_if = f"vgc{token}h", f"vgc{token}n"
        used = _run("ip", "-o", "-4", "addr")
        while True:  # a /30 in 10.200.0.0-10.254.255.255 that no local interface uses
            a, c, b = random.randrange(200, 255), random.randrange(256), random.randrange(64) * 4
            if f"10.{a}.{c}." not in used:
                break
        self.host_ip, self.ns_ip = f"10.{a}.{c}.{b + 1}", f"10.{a}.{c}.{b + 2}"
        self.cut_now = False

    @property
    def exec_prefix(self) -> list[str]:
        """Prefix a command with this to run it inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    @property
    def etc(self) -> Path:
        """Files here replace /etc's for commands run in the namespace (``ip netns exec``)."""
        return ETC_NETNS / self.name

    def create(self, hosts: dict[str, str] | None = None) -> NetNamespace:
        """Make the namespace and the link; ``hosts`` (name -> address) is what /etc/hosts
        resolves inside it, besides localhost."""
        sweep_stale()
        _run("ip", "netns", "add", self.name)
        try:
            if hosts:
                self.etc.mkdir(parents=True, exist_ok=True)
                (self.etc / "hosts").write_text("127.0.0.1 localhost\n" + "".join(
                    f"{address} {name}\n" for name, address in hosts.items()))
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.name)
            _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            _run(*self.exec_prefix, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            _run(*self.exec_prefix, "ip", "link", "set", self.ns_if, "up")
            _run(*self.exec_prefix, "ip", "link", "set", "lo", "up")
        except NetnsError:
            self.delete()
            raise
        log.info("network namespace %s: %s (%s) <-> host %s (%s)",
                 self.name, self.ns_ip, self.ns_if, self.host_ip, self.host_if)
        return self

    def cut(self) -> None:
        """Drop every packet entering or leaving the namespace (silently: no RST, no ICMP)."""
        _run(*self.exec_prefix, "nft", "add", "table", "inet", CUT_TABLE)
        for chain, hook in (("in", "input"), ("out", "output")):
            _run(*self.exec_prefix, "nft", "add", "chain", "inet", CUT_TABLE, chain,
                 f"{{ type filter hook {hook} priority 0 ; policy drop ; }}")
        self.cut_now = True

    def restore(self) -> None:
        """Remove the drop rules: the link carries traffic again."""
        _run(*self.exec_prefix, "nft", "delete", "table", "inet", CUT_TABLE)
        self.cut_now = False

    def reachable(self, port: int) -> bool:
        """Whether a TCP connection from inside the namespace to host_ip:port succeeds."""
        code = (f"import socket; socket.create_connection(('{self.host_ip}', {port}), timeout=2)")
        done = subprocess.run([*self.exec_prefix, sys.executable, "-c", code], capture_output=True,
                              timeout=20)
        return done.returncode == 0

    def delete(self) -> None:
        """Remove the namespace and both veth ends; never raises."""
        for cmd in (("ip", "netns", "del", self.name), ("ip", "link", "del", self.host_if)):
            with contextlib.suppress(NetnsError, OSError, subprocess.SubprocessError):
                _run(*cmd)
        shutil.rmtree(self.etc, ignore_errors=True)
