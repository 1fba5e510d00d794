"""Progress of long copies: how it is measured, apart from how it is shown.

A ``Meter`` is called with (bytes done, bytes in all or None) as work goes on.
rsync reports through ``--info=progress2``; for tar and cpio pipelines vmim
reads how many bytes the first process has read (``/proc/PID/io``), which
costs nothing and needs no copy through Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

Meter = Callable[[int, int | None], None]

_PROGRESS2 = re.compile(rb"^\s*([\d,]+)\s+(\d+)%")
_QEMU_IMG = re.compile(rb"^\s*\((\d+(?:\.\d+)?)/100%\)")


def bytes_read(pid: int) -> int | None:
    """``rchar`` of a process: every byte it has read so far."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def parse_rsync(chunk: bytes) -> tuple[int, int | None] | None:
    """(done, total) from one ``--info=progress2`` line of rsync, when it is one."""
    match = _PROGRESS2.match(chunk)
    if match is None:
        return None
    done = int(match.group(1).replace(b",", b""))
    percent = int(match.group(2))
    total = done * 100 // percent if percent else None
    return done, total


def qemu_img_parser(size: int) -> Callable[[bytes], tuple[int, int | None] | None]:
    """A parser of ``qemu-img convert -p`` lines ("    (42.00/100%)") for a disk of ``size``."""

    def parse(chunk: bytes) -> tuple[int, int | None] | None:
        match = _QEMU_IMG.match(chunk)
        if match is None:
            return None
        return int(float(match.group(1)) * size / 100), size

    return parse
