"""Per-slot leases on ``flock``.

A lease is an exclusive ``flock`` on ``<statedir>/locks/<slot>.lock``; while
held, the file names the holder (pid, host, user, command, since). The kernel
drops a ``flock`` when its last descriptor closes, so a holder killed with
SIGKILL frees the slot at once: nothing stale is ever left to clean up. The
descriptor is close-on-exec, so tools started under the lease do not keep it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from vmim.errors import OperationError, SlotLockedError

POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    user: str
    command: str
    since: str

    @classmethod
    def me(cls) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            user=_user(),
            command=_command(),
            since=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} ({self.user}, since {self.since}): {self.command}"


def _command() -> str:
    if not sys.argv or not sys.argv[0]:
        return Path(sys.executable).name
    program = Path(sys.argv[0]).name
    if program == "__main__.py":  # python -m vmim
        program = "vmim"
    return shlex.join([program, *sys.argv[1:]])


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def lock_path(statedir: Path, slot: str) -> Path:
    return statedir / "locks" / f"{slot}.lock"


def holder(statedir: Path, slot: str) -> Holder | None:
    """Who holds the slot's lease now, without blocking; ``None`` when free."""
    path = lock_path(statedir, slot)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OperationError(f"cannot read the lock {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        else:
            return None
        data = os.read(fd, 65536)
    finally:
        os.close(fd)
    try:
        return Holder(**json.loads(data))
    except (ValueError, TypeError):
        # Taken a moment ago and not yet described: still held.
        return Holder(pid=0, host="?", user="?", command="(starting)", since="?")


@contextlib.contextmanager
def lease(statedir: Path, slot: str, wait: float = 0.0) -> Iterator[Holder]:
    """Hold ``slot``'s lease for the ``with`` block; wait up to ``wait`` seconds for it."""
    path = lock_path(statedir, slot)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise OperationError(
            f"cannot open the lock for slot '{slot}' at {path}: {exc.strerror}",
            "is the state directory writable? (statedir in [vmim.local])",
        ) from None
    try:
        _acquire(fd, statedir, slot, wait)
        me = Holder.me()
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        try:
            yield me
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _acquire(fd: int, statedir: Path, slot: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            current = holder(statedir, slot)
            who = current.describe() if current else "another process"
            waited = f" after waiting {wait:g} s" if wait > 0 else ""
            raise SlotLockedError(
                f"slot '{slot}' is locked by {who}{waited}",
                "wait with --wait SECONDS, or end that process to free the slot",
            )
        time.sleep(POLL_SECONDS)
