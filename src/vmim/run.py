"""The one place vmim runs external programs.

Commands are argv lists, never shell strings; the environment is pinned to the
C locale so tool output parses the same everywhere; stdin is /dev/null so a
tool never waits on a terminal. A failure carries the quoted command, its
exit status and the tail of its stderr; a missing program names the Debian
package that provides it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from vmim.errors import ToolError
from vmim.progress import Meter, bytes_read, parse_rsync

log = logging.getLogger(__name__)

# Which Debian package ships each program vmim runs.
PACKAGES = {
    "rsync": "rsync",
    "tar": "tar",
    "zstd": "zstd",
    "gzip": "gzip",
    "pigz": "pigz",
    "bzip2": "bzip2",
    "cpio": "cpio",
    "losetup": "mount",
    "mount": "mount",
    "umount": "mount",
    "sfdisk": "fdisk",
    "mkswap": "util-linux",
    "mkfs.ext4": "e2fsprogs",
    "mke2fs": "e2fsprogs",
    "mkfs.xfs": "xfsprogs",
    "mkfs.btrfs": "btrfs-progs",
    "qemu-img": "qemu-utils",
    "qemu-storage-daemon": "qemu-system-common",
    "kpartx": "kpartx",
    "virsh": "libvirt-clients",
}

STDERR_TAIL = 800
METER_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _die_with_parent() -> None:
    """Runs in the child before exec: if vmim is killed, even by SIGKILL, so is the tool.

    Otherwise an rsync or tar would go on writing into a slot whose lease is already free.
    """
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
    env["LANG"] = "C.UTF-8"
    env["LC_ALL"] = "C.UTF-8"
    return env


def which(program: str) -> str:
    """Full path of ``program``, or a ToolError naming its package."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if found is None:
        package = PACKAGES.get(program)
        hint = f"install it: apt-get install {package}" if package else "install it"
        raise ToolError(f"required program '{program}' not found", hint)
    return found


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    timeout: float | None = None,
    check: bool = True,
    capture: bool = True,
    cwd: Path | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and return its result; raise ToolError on failure when ``check``."""
    args = [os.fspath(a) for a in argv]
    args[0] = which(args[0])
    log.debug("run: %s", shlex.join(args))
    try:
        result = subprocess.run(
            args,
            stdin=None if input is not None else subprocess.DEVNULL,
            input=input,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=_env(),
            timeout=timeout,
            cwd=cwd,
            check=False,
            preexec_fn=_die_with_parent,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"{shlex.join(args)} did not finish within {timeout:g} s") from None
    if check and result.returncode != 0:
        raise failure(args, result.returncode, result.stderr)
    return result


def run_metered(
    argv: Sequence[str | os.PathLike[str]],
    meter: Meter,
    total: int | None = None,
    parse: Callable[[bytes], tuple[int, int | None] | None] | None = None,
) -> None:
    """Run a tool that reports progress on stdout, feeding it to ``meter``.

    By default ``argv`` is rsync, run with ``--info=progress2``; otherwise ``parse``
    reads one progress line of the tool (lines end in CR or LF).
    """
    args = [os.fspath(a) for a in argv]
    args[0] = which(args[0])
    if parse is None:
        parse = parse_rsync
        args.insert(1, "--info=progress2")
    log.debug("run: %s", shlex.join(args))
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=_env(),
            preexec_fn=_die_with_parent,
        )
        assert child.stdout is not None
        try:
            pending = b""
            while chunk := os.read(child.stdout.fileno(), 65536):
                pending += chunk
                *lines, pending = re.split(rb"[\r\n]", pending)
                for line in lines:
                    parsed = parse(line)
                    if parsed:
                        meter(parsed[0], total or parsed[1])
            code = child.wait()
        except BaseException:
            child.kill()
            child.wait()
            raise
        if code != 0:
            err.seek(0)
            raise failure(args, code, err.read().decode(errors="replace"))


def failure(args: Sequence[str], returncode: int, stderr: str | None) -> ToolError:
    status = f"exit status {returncode}" if returncode >= 0 else f"signal {-returncode}"
    detail = (stderr or "").strip().replace("\n", " | ")
    if len(detail) > 2 * STDERR_TAIL:
        # The first lines say what went wrong (rsync's summary at the end only counts it).
        detail = detail[:STDERR_TAIL] + " ... " + detail[-STDERR_TAIL:]
    message = f"{shlex.join(args)} failed with {status}"
    return ToolError(f"{message}: {detail}" if detail else message)


def pipeline(
    producer: Sequence[str | os.PathLike[str]],
    consumer: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    consumer_cwd: Path | None = None,
    env: dict[str, str] | None = None,
    output: Path | None = None,
    meter: Meter | None = None,
    total: int | None = None,
) -> None:
    """Run ``producer | consumer`` without a shell; raise with the stderr of whichever failed.

    ``output``: a file the consumer's stdout goes to (created or truncated).
    ``meter``: called with the bytes the producer has read so far, and ``total``.
    """
    first = [os.fspath(a) for a in producer]
    second = [os.fspath(a) for a in consumer]
    first[0], second[0] = which(first[0]), which(second[0])
    log.debug("run: %s | %s", shlex.join(first), shlex.join(second))
    full_env = _env() | (env or {})
    with contextlib.ExitStack() as stack:
        err1 = stack.enter_context(tempfile.TemporaryFile())
        err2 = stack.enter_context(tempfile.TemporaryFile())
        sink = stack.enter_context(output.open("wb")) if output else subprocess.DEVNULL
        left = subprocess.Popen(
            first,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err1,
            env=full_env,
            cwd=cwd,
            preexec_fn=_die_with_parent,
        )
        try:
            right = subprocess.Popen(
                second,
                stdin=left.stdout,
                stdout=sink,
                stderr=err2,
                env=full_env,
                cwd=consumer_cwd,
                preexec_fn=_die_with_parent,
            )
        except BaseException:
            left.kill()
            left.wait()
            raise
        assert left.stdout is not None
        left.stdout.close()  # the consumer holds the only read end now
        try:
            while meter is not None and left.poll() is None:
                done = bytes_read(left.pid)
                if done is not None:
                    meter(done, total)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    left.wait(METER_SECONDS)
            right_code = right.wait()
            left_code = left.wait()
        except BaseException:
            # Interrupted: end both so nothing writes on after we are gone.
            for child in (left, right):
                child.kill()
                child.wait()
            raise
        # The consumer's failure explains the producer's broken pipe, so report it first.
        for code, argv, err in ((right_code, second, err2), (left_code, first, err1)):
            if code != 0:
                err.seek(0)
                raise failure(argv, code, err.read().decode(errors="replace"))
