"""``reflink``: a raw disk file on XFS (reflink=1) or btrfs, reset by cloning its image.

A reset clones the image file with FICLONE, which shares every extent and
copies nothing, to a temporary name beside the slot's disk, then renames it
over the disk: the slot holds the old disk or the new one, never a mix, and
the time does not grow with the image's size. A filesystem that cannot share
extents is an error, never a silent full copy.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from vmim import mounts
from vmim.disks.image import ImageDisk
from vmim.errors import OperationError
from vmim.images.formats import Format, detect
from vmim.progress import Meter

FICLONE = 0x40049409


def filesystem_of(path: Path) -> mounts.Mount | None:
    """The mount holding ``path``: the longest mount target that contains it."""
    real = Path(os.path.realpath(path))
    best: mounts.Mount | None = None
    for mount in mounts.mounts():
        if (mount.target == real or mount.target in real.parents) and (
            best is None or len(str(mount.target)) >= len(str(best.target))
        ):
            best = mount
    return best


def clone(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` that shares all its extents."""
    with source.open("rb") as src, target.open("wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise OperationError(
                    f"{source} and {target.parent} are on different filesystems; a reflink "
                    "works only within one",
                    "keep the image store (vmimages) on the filesystem of the slot disks",
                ) from None
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTTY, errno.ENOSYS):
                found = filesystem_of(target.parent)
                kind = f"{found.fstype} at {found.target}" if found else str(target.parent)
                raise OperationError(
                    f"{kind} cannot share extents (reflink), so it cannot hold reflink slots",
                    "use XFS made with reflink=1 or btrfs, or store_type = qcow2",
                ) from None
            raise


class ReflinkDisk(ImageDisk):
    made_by_deploy = True

    def describe(self) -> str:
        return "reflink " + super().describe()

    def accepts(self, fmt: Format) -> bool:
        return fmt != Format.QCOW2

    def restore(self, image: Path, quick: bool = False, meter: Meter | None = None) -> None:
        if detect(image) != Format.RAW_DISK:
            # A tree image goes into the slot's filesystem as in any other slot.
            super().restore(image, quick=quick, meter=meter)
            return
        self._replace_disk(lambda temp: clone(image, temp))
        if meter is not None:
            size = self.disk.stat().st_size
            meter(size, size)
