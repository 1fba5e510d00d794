"""A qcow2 (or any QEMU-readable) disk seen as a raw file, through qemu-storage-daemon.

``qemu-storage-daemon --export type=fuse`` serves the disk's guest-visible bytes
on a regular file, which a loop device then mounts at a partition's offset.
It needs neither the nbd kernel module (absent on many hosts) nor root-only
device nodes beyond /dev/fuse. The daemon outlives the vmim process that
started it, so that ``vmim mount`` and a later ``vmim release`` can be two
commands; its pid file is how the release finds it. While it runs it holds
QEMU's image lock, so libvirt cannot start a domain on a disk that is mounted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vmim import mounts
from vmim.errors import OperationError, ToolError
from vmim.run import run

PROGRAM = "qemu-storage-daemon"
FUSE_DEVICE = Path("/dev/fuse")
STOP_SECONDS = 30.0


def _opt(value: Path | str) -> str:
    """A value inside a QEMU option string, where ',' must be doubled."""
    return str(value).replace(",", ",,")


@dataclass(frozen=True)
class RawView:
    """Where one disk's raw view lives: the file it is served on and the daemon's pid file."""

    disk: Path
    view: Path
    pidfile: Path

    def pid(self) -> int | None:
        """The daemon's pid while it runs (checked against /proc, never trusted blindly)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        if PROGRAM.encode() not in cmdline or os.fsencode(self.view) not in cmdline:
            return None
        return pid

    def is_served(self) -> bool:
        return self.pid() is not None and mounts.mount_at(self.view) is not None

    def start(self, fmt: str, writable: bool) -> Path:
        """Serve the disk on ``view``; a no-op when it is served already."""
        if self.is_served():
            return self.view
        self.stop()
        if not FUSE_DEVICE.exists():
            raise ToolError(
                f"{self.disk} is served through FUSE, and {FUSE_DEVICE} does not exist",
                "load the fuse module (modprobe fuse); in a container, pass /dev/fuse in",
            )
        self.view.parent.mkdir(parents=True, exist_ok=True)
        self.view.touch(mode=0o600)
        read_only, write = ("off", "on") if writable else ("on", "off")
        run(
            [
                PROGRAM,
                "--blockdev",
                f"driver=file,node-name=file,filename={_opt(self.disk)},read-only={read_only}",
                "--blockdev",
                f"driver={fmt},node-name=disk,file=file,read-only={read_only}",
                "--export",
                f"type=fuse,id=view,node-name=disk,mountpoint={_opt(self.view)},writable={write}",
                "--pidfile",
                self.pidfile,
                "--daemonize",
            ],
            timeout=60,
        )
        return self.view

    def stop(self) -> list[str]:
        """Stop the daemon (it flushes the disk as it goes) and remove the view file."""
        done = []
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_SECONDS
            while self._alive(pid):
                if time.monotonic() > deadline:
                    raise OperationError(
                        f"{PROGRAM} (pid {pid}) serving {self.disk} did not stop within "
                        f"{STOP_SECONDS:g} s",
                        "see what it is doing; kill it, then 'vmim release' again",
                    )
                time.sleep(0.005)
            done.append(f"stopped {PROGRAM} serving {self.disk}")
        if mounts.mount_at(self.view) is not None:
            # A daemon killed with SIGKILL leaves its FUSE mount behind, disconnected.
            run(["umount", "-l", self.view], timeout=60)
            done.append(f"unmounted the stale view {self.view}")
        self.pidfile.unlink(missing_ok=True)
        self.view.unlink(missing_ok=True)
        return done

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"


def for_slot(disk: Path, statedir: Path, slot: str) -> RawView:
    where = statedir / "views"
    return RawView(disk=disk, view=where / f"{slot}.raw", pidfile=where / f"{slot}.pid")


@contextlib.contextmanager
def served(disk: Path, fmt: str, where: Path, writable: bool = False) -> Iterator[Path]:
    """The raw view of ``disk`` for the duration of the block."""
    view = RawView(
        disk=disk,
        view=where / f"view-{os.getpid()}.raw",
        pidfile=where / f"view-{os.getpid()}.pid",
    )
    try:
        yield view.start(fmt, writable)
    finally:
        view.stop()
