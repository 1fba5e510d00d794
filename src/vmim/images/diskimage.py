"""Disk images built from trees: one partition or a whole-disk filesystem.

ext4 is filled by ``mke2fs -d`` straight from the tree, without mounting
anything; XFS is made on a loop device and filled with rsync.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vmim.errors import OperationError, UsageError
from vmim.images import trees
from vmim.images.formats import Format, detect
from vmim.run import run

PARTITION_START = 1024 * 1024
FILESYSTEMS = ("ext4", "xfs")
_SIZE = re.compile(r"^(\d+)([KMGT]?)i?B?$", re.IGNORECASE)


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise UsageError(f"{text!r} is not a disk size", "e.g. 4G, 512M")
    power = " KMGT".index((match.group(2) or " ").upper())
    return int(match.group(1)) * int(1024**power)


@contextlib.contextmanager
def tree_of(source: Path) -> Iterator[Path]:
    """A directory holding ``source``'s tree: the directory itself, or an archive unpacked."""
    fmt = detect(source)
    if fmt == Format.DIRECTORY:
        yield source
        return
    if fmt.is_disk:
        raise UsageError(f"{source} is a disk image already")
    with tempfile.TemporaryDirectory(prefix="vmim-import-") as scratch:
        trees.extract_archive(source, fmt, Path(scratch))
        yield Path(scratch)


def build(tree: Path, dest: Path, size: int, fs: str = "ext4", partitioned: bool = False) -> None:
    """Write a raw disk image of ``size`` bytes at ``dest`` holding ``tree``."""
    if fs not in FILESYSTEMS:
        raise UsageError(f"cannot make a {fs} disk", f"choose one of: {', '.join(FILESYSTEMS)}")
    offset = PARTITION_START if partitioned else 0
    with dest.open("wb") as disk:
        disk.truncate(size)
    if partitioned:
        run(["sfdisk", "-q", dest], input="start=2048, type=83\n", timeout=60)
    fs_size_k = (size - offset) // 1024
    if fs == "ext4":
        try:
            run(["mke2fs", "-q", "-F", "-t", "ext4", "-E", f"offset={offset}", "-d", tree,
                 dest, f"{fs_size_k}k"], timeout=None)  # fmt: skip
        except OperationError as error:
            raise OperationError(
                f"cannot fit {tree} in a {size} byte ext4 disk: {error.message}",
                "give a larger --size",
            ) from None
        return
    loop = run(["losetup", "--find", "--show", "--offset", str(offset), "--sizelimit",
                str(size - offset), dest]).stdout.strip()  # fmt: skip
    try:
        run(["mkfs.xfs", "-q", "-f", loop], timeout=None)
        with tempfile.TemporaryDirectory(prefix="vmim-import-") as mountpoint:
            run(["mount", loop, mountpoint])
            try:
                run([*trees.RSYNC, f"{tree}/", f"{mountpoint}/"], timeout=None)
            finally:
                run(["umount", mountpoint])
    finally:
        run(["losetup", "-d", loop])
