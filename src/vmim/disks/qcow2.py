"""``qcow2``: an overlay on an immutable base image, reset by making a new overlay.

A reset writes a new, empty overlay on the chosen base to a temporary name and
renames it over the slot's disk: constant time whatever the image's size, and
the slot holds the old disk or the new one, never a mix. The slot's
filesystem is mounted through qemu-storage-daemon's raw view of the overlay
(see :mod:`vmim.disks.rawview`) and a loop device at the partition's offset.
"""

from __future__ import annotations

from pathlib import Path

from vmim.config import SlotConfig
from vmim.disks import rawview
from vmim.disks.image import ImageDisk, detach_stale_loops
from vmim.errors import OperationError, UsageError
from vmim.images import bases
from vmim.images.formats import Format, detect
from vmim.progress import Meter
from vmim.run import run


class Qcow2Disk(ImageDisk):
    needs_base = True
    made_by_deploy = True

    def __init__(self, slot: SlotConfig, mountpoint: Path, statedir: Path) -> None:
        super().__init__(slot, mountpoint)
        self.view = rawview.for_slot(self.disk, statedir, slot.name)

    def describe(self) -> str:
        backing = bases.backing_file(self.disk) if self.disk.exists() else None
        on = f" on {backing.name}" if backing else ""
        return "qcow2 overlay" + on + " " + super().describe()

    def accepts(self, fmt: Format) -> bool:  # noqa: ARG002 - disk images and trees alike
        return True

    def domain_format(self) -> str:
        return "qcow2"

    def raw_view(self) -> Path:
        self._require_disk()
        return self.view.start("qcow2", writable=True)

    def _cleanup_stale(self) -> list[str]:
        return detach_stale_loops(self.view.view) + self.view.stop()

    def restore(self, image: Path, quick: bool = False, meter: Meter | None = None) -> None:
        fmt = detect(image)
        if not fmt.is_disk:
            # A tree image goes into the overlay's filesystem as in any other slot.
            super().restore(image, quick=quick, meter=meter)
            return
        base = bases.of_image(image)
        if base is None:
            raise UsageError(
                f"{image} is not a base image; a qcow2 slot needs one that never changes",
                f"make it one: vmim import NAME --from {image} --force",
            )
        backing_format = "raw" if base.format == Format.RAW_DISK else "qcow2"
        create: list[str | Path] = [
            "qemu-img",
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            backing_format,
            "-b",
            base.path,
        ]
        with bases.guarded(base.path.parent):
            if not base.path.exists():
                raise OperationError(f"base {base.path} of {image} is gone", "import it again")
            self._replace_disk(lambda temp: run([*create, temp], timeout=60))
        if meter is not None:
            meter(1, 1)
