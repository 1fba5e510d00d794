"""What every slot disk can do."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path

from vmim import mounts
from vmim.config import SlotConfig
from vmim.errors import OperationError
from vmim.images import trees
from vmim.images.formats import Format
from vmim.progress import Meter
from vmim.run import run

log = logging.getLogger(__name__)


_EXT_MAGIC_AT = 1080


def mount_options(device: Path, offset: int = 0, read_only: bool = False) -> list[str]:
    """Options a filesystem needs to be mounted beside its copies (and, read-only, untouched).

    Slots reset from one image hold filesystems with one UUID, and XFS refuses to
    mount a second filesystem with a UUID already mounted ("duplicate UUID").
    A read-only mount must not replay a journal left by a guest that was killed:
    that would write to an image that must not change.
    """
    try:
        with device.open("rb") as stream:
            stream.seek(offset)
            head = stream.read(_EXT_MAGIC_AT + 2)
    except OSError:
        return []
    if head[:4] == b"XFSB":
        return ["nouuid", "ro", "norecovery"] if read_only else ["nouuid"]
    if read_only and head[_EXT_MAGIC_AT:] == b"\x53\xef":
        return ["ro", "noload"]
    return ["ro"] if read_only else []


class Disk(ABC):
    def __init__(self, slot: SlotConfig, mountpoint: Path) -> None:
        self.slot = slot
        self.mountpoint = mountpoint

    @abstractmethod
    def describe(self) -> str:
        """One line for humans: what the disk is."""

    @abstractmethod
    def domain_disk(self) -> Path:
        """The file or device the slot's domain boots from."""

    @abstractmethod
    def _mount(self) -> None:
        """Mount the slot's filesystem at ``self.mountpoint`` (which exists)."""

    def _cleanup_stale(self) -> list[str]:
        """Undo what a killed process may have left besides the mount; say what was done."""
        return []

    # A qcow2 overlay needs an immutable base under it; a copy does not.
    needs_base = False
    # The disk file is made by the first deploy (a clone or an overlay), not by the operator.
    made_by_deploy = False

    def accepts(self, fmt: Format) -> bool:
        """Whether a deploy can put an image of ``fmt`` into this disk."""
        return not fmt.is_disk

    def domain_format(self) -> str:
        """The disk format libvirt is told (``<driver type=...>``)."""
        return "raw"

    def disk_file(self) -> Path | None:
        """The file that is the whole disk, for backends that can save it as a base."""
        return None

    def restore(self, image: Path, quick: bool = False, meter: Meter | None = None) -> None:
        """Make the slot hold ``image``; it may be left mounted (the pipeline releases it)."""
        trees.restore(image, self.mount(), quick=quick, meter=meter)

    def is_mounted(self) -> bool:
        return mounts.mount_at(self.mountpoint) is not None

    def mount(self) -> Path:
        """Mount the filesystem; a no-op when it already is."""
        if self.is_mounted():
            return self.mountpoint
        try:
            self.mountpoint.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OperationError(
                f"slot '{self.slot.name}': cannot create the mount point "
                f"{self.mountpoint}: {exc.strerror}"
            ) from None
        self._mount()
        return self.mountpoint

    def release(self) -> list[str]:
        """Unmount, and clean up loop devices a crash left; idempotent."""
        done = []
        while mounts.mount_at(self.mountpoint) is not None:
            run(["umount", self.mountpoint], timeout=300)
            done.append(f"unmounted {self.mountpoint}")
        done += self._cleanup_stale()
        return done
