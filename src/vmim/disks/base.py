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


def mount_options(device: Path, offset: int = 0) -> list[str]:
    """Options a filesystem needs to be mounted beside its copies.

    Slots reset from one image hold filesystems with one UUID, and XFS refuses to
    mount a second filesystem with a UUID already mounted ("duplicate UUID").
    """
    try:
        with device.open("rb") as stream:
            stream.seek(offset)
            magic = stream.read(4)
    except OSError:
        return []
    return ["nouuid"] if magic == b"XFSB" else []


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

    def accepts(self, fmt: Format) -> bool:
        """Whether a deploy can put an image of ``fmt`` into this disk."""
        return not fmt.is_disk

    def restore(self, image: Path, quick: bool = False, meter: Meter | None = None) -> Path:
        """Make the slot hold ``image``; return its tree, mounted (for the inserts)."""
        mountpoint = self.mount()
        trees.restore(image, mountpoint, quick=quick, meter=meter)
        return mountpoint

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
