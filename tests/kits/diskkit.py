"""A real small file system for disk-full tests: a tmpfs mounted for one test, filled on demand."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SmallDisk:
    """A file system of ``size`` at ``root``: a tmpfs, or ext4 on a loop-mounted image file (as
    a box's data partition); :meth:`fill` takes every free byte, :meth:`free` gives them back."""

    def __init__(self, root: Path, size: str, fs: str = "tmpfs"):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        if fs == "tmpfs":
            cmd = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(root)]
        else:
            image = root.with_name(root.name + ".img")
            subprocess.run(["truncate", "-s", size, str(image)], check=True)
            subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
            cmd = ["mount", "-o", "loop", str(image), str(root)]
        subprocess.run(cmd, check=True, capture_output=True)
        self.filler = root / "filler"

    def fill(self) -> int:
        """Write the filler until the file system refuses a single byte more; returns the bytes
        still free (0)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            for chunk in (1 << 20, 1 << 12, 1):
                block = b"\0" * chunk
                while True:
                    try:
                        os.write(fd, block)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC, exc
                        break
        finally:
            os.close(fd)
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.root)], check=False, capture_output=True)


@contextmanager
def mounted(root: Path, size: str = "48m", fs: str = "tmpfs") -> Iterator[SmallDisk]:
    """A file system of ``size`` at ``root`` for the block (tests run as root, as CI does)."""
    disk = SmallDisk(root, size, fs)
    try:
        yield disk
    finally:
        disk.unmount()
