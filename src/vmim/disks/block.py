"""``partition``: the slot's root filesystem is a block device (partition, LV)."""

from __future__ import annotations

from pathlib import Path

from vmim.disks.base import Disk, mount_options
from vmim.errors import OperationError
from vmim.progress import Meter
from vmim.run import run


class BlockDisk(Disk):
    @property
    def device(self) -> Path:
        assert self.slot.root is not None
        return Path(self.slot.root)

    def describe(self) -> str:
        swap = f", swap {self.slot.swap}" if self.slot.swap else ""
        return f"block device {self.device}{swap}"

    def domain_disk(self) -> Path:
        return self.device

    def _mount(self) -> None:
        if not self.device.exists():
            raise OperationError(
                f"slot '{self.slot.name}': root device {self.device} does not exist",
                f"check 'root' at {self.slot.where('root')}",
            )
        options = mount_options(self.device)
        extra = ["-o", ",".join(options)] if options else []
        run(["mount", *extra, self.device, self.mountpoint], timeout=300)

    def restore(self, image: Path, quick: bool = False, meter: Meter | None = None) -> None:
        # The seed re-made swap at every reset: a guest's swap holds nothing worth keeping.
        if self.slot.swap:
            run(["mkswap", "-f", self.slot.swap], timeout=300)
        super().restore(image, quick=quick, meter=meter)
