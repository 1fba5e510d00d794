"""What is mounted where, read from ``/proc/self/mountinfo`` (never ``/etc/mtab``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    target: Path
    source: str
    fstype: str


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def mounts() -> list[Mount]:
    found: list[Mount] = []
    for line in MOUNTINFO.read_text(encoding="utf-8", errors="replace").splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        rest = right.split()
        if len(fields) < 5 or len(rest) < 2:
            continue
        found.append(
            Mount(target=Path(_unescape(fields[4])), source=_unescape(rest[1]), fstype=rest[0])
        )
    return found


def mount_at(path: Path) -> Mount | None:
    """The topmost mount whose target is ``path``, if any."""
    target = Path(os.path.realpath(path))
    hit: Mount | None = None
    for mount in mounts():
        if mount.target == target:
            hit = mount
    return hit
