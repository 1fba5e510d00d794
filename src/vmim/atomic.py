"""Crash-safe writes: a temporary name beside the target, fsync, then rename.

A reader sees either the old content or the new, never a half-written file,
whatever happens to the writer (a full disk, SIGKILL, power loss).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from vmim.errors import OperationError

TEMP_MARK = ".vmim-tmp-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def temp_name(final: Path) -> Path:
    """A hidden name in the same folder that says which process made it."""
    return final.with_name(f".{final.name}{TEMP_MARK}{os.getpid()}")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_name(path)
    try:
        with temp.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def exchange(a: Path, b: Path) -> None:
    """Swap two paths in one step (renameat2 RENAME_EXCHANGE): works for folders too."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    result = libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result != 0:
        err = ctypes.get_errno()
        raise OperationError(f"cannot swap {a} and {b}: {os.strerror(err)}")


@contextlib.contextmanager
def publishing(final: Path, replace: bool) -> Iterator[Path]:
    """Yield a temporary path to fill; on success it becomes ``final`` in one rename.

    On any failure the temporary path is removed and ``final`` is untouched.
    An existing ``final`` is swapped out atomically when ``replace`` is true.
    """
    temp = temp_name(final)
    if temp.exists() or temp.is_symlink():
        remove(temp)
    try:
        yield temp
        if not (temp.exists() or temp.is_symlink()):
            raise OperationError(f"nothing was written for {final}")
        _sync_tree(temp)
        if final.exists() or final.is_symlink():
            if not replace:
                raise OperationError(f"{final} appeared while it was being written")
            exchange(temp, final)
            fsync_dir(final.parent)
            remove(temp)  # now the old content
        else:
            temp.rename(final)
        fsync_dir(final.parent)
    except BaseException:
        if temp.exists() or temp.is_symlink():
            remove(temp)
        raise


def _sync_tree(path: Path) -> None:
    """Flush what was written under ``path`` to disk before it gets its final name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        # syncfs flushes the whole filesystem in one call: cheaper than fsync per file.
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.syncfs(fd) != 0:
            os.fsync(fd)
    finally:
        os.close(fd)


def stale_temps_of(final: Path) -> list[Path]:
    """Temporary names of ``final`` left by processes that no longer exist."""
    prefix = f".{final.name}{TEMP_MARK}"
    return [p for p in stale_temps(final.parent) if p.name.startswith(prefix)]


def stale_temps(folder: Path) -> list[Path]:
    """Temporary names left by processes that no longer exist."""
    found: list[Path] = []
    if not folder.is_dir():
        return found
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith(".") and TEMP_MARK in name:
            pid = name.rsplit(TEMP_MARK, 1)[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                found.append(entry)
    return found
