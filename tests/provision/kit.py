"""Helpers for the provisioning tests: run Ansible, bootstrap a Debian 12 rootfs, mount safely."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("VIGIE_CACHE", Path.home() / ".cache" / "vigie")) / "provision"
SUITE = "bookworm"
BOOTSTRAP_PACKAGES: list[str] = yaml.safe_load(
    (ANSIBLE / "roles/edge_box/defaults/main.yml").read_text())["edge_box_apt_packages"]
"""What the test rootfs gets from debootstrap: the edge_box role's apt packages, so its apt task
finds them installed (the role still refreshes apt's lists once a day)."""


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    candidates = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for m in re.finditer(r"^URIs:\s*(\S+)", text, re.M):
            if "security" not in m.group(1) and "debian" in m.group(1):
                return m.group(1)
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s", text, re.M):
            return m.group(1)
    return "http://deb.debian.org/debian"


def bootstrap_tarball(packages: list[str] = BOOTSTRAP_PACKAGES) -> Path:
    """A cached tarball of a debootstrapped Debian 12 (made once, ~2 min; reused after)."""
    key = hashlib.sha256(" ".join([SUITE, *sorted(packages)]).encode()).hexdigest()[:12]
    tarball = CACHE / f"debian12-minbase-{key}.tar"
    if tarball.is_file():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f"bootstrap-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        t0 = time.monotonic()
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", SUITE,
             str(work), apt_mirror()],
            check=True, capture_output=True, text=True, timeout=1200,
        )
        subprocess.run(["tar", "-C", str(work), "--numeric-owner", "-cf", f"{tarball}.part", "."],
                       check=True)
        os.replace(f"{tarball}.part", tarball)
        log.info("bootstrapped %s in %.0f s", tarball, time.monotonic() - t0)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"debootstrap failed:\n{exc.stdout[-3000:]}\n{exc.stderr[-3000:]}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


def mounted(path: Path) -> bool:
    """Whether ``path`` or anything under it is a mount point."""
    target = str(path.resolve())
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == target or line.split()[1].startswith(target + "/") for line in f)


@contextmanager
def chroot_mounts(rootfs: Path, binds: dict[str, Path], readonly: frozenset[str] = frozenset()
                  ) -> Iterator[None]:
    """Mount /proc and bind ``binds`` (path in the rootfs -> host folder), those named in
    ``readonly`` read-only; always unmount, even when the body fails."""
    done: list[Path] = []
    try:
        proc = rootfs / "proc"
        proc.mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)
        done.append(proc)
        for inside, host in binds.items():
            host.mkdir(parents=True, exist_ok=True)
            target = rootfs / inside.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", str(host), str(target)], check=True)
            done.append(target)
            if inside in readonly:
                subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], check=True)
        yield
    finally:
        for target in reversed(done):
            subprocess.run(["umount", "-l", str(target)], check=False)
        leftover = [str(t) for t in done if mounted(t)]
        assert not leftover, f"could not unmount {leftover}"


def build_wheel(dest: Path) -> Path:
    """Build the Vigie wheel Ansible installs (as on a control node)."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(dest), str(ROOT)], check=True, capture_output=True, timeout=300)
    return next(dest.glob("vigie-*.whl"))


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_playbook(playbook: Path, inventory: Path, log_path: Path, *extra: str,
                 timeout: float = 900) -> tuple[int, str]:
    """Run ansible-playbook; return (exit code, output), the output also kept in ``log_path``."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"),
               ANSIBLE_ROLES_PATH=str(ANSIBLE / "roles"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
               PATH=f"{BIN}:{os.environ['PATH']}")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *extra],
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=ANSIBLE)
    out = proc.stdout + proc.stderr
    log_path.write_text(out)
    return proc.returncode, out


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters per host: {"host": {"ok": 5, "changed": 0, ...}}."""
    hosts: dict[str, dict[str, int]] = {}
    for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M):
        hosts[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return hosts


def changed_tasks(output: str) -> list[str]:
    """Names of the tasks that reported a change (to say which one broke idempotence)."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line
        elif line.startswith("changed:"):
            found.append(f"{task} {line}")
    return found
