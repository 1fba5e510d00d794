"""``diskimage`` / ``kpartx``: a raw disk image (or whole-disk device) and a partition on it.

The partition is mounted through a loop device at its offset and size, read
from the partition table with ``sfdisk --json``: no device-mapper is needed,
so this also works where kpartx cannot. ``mount -o loop`` sets the loop
device to clear itself when unmounted.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vmim import atomic, mounts
from vmim.disks.base import Disk, mount_options
from vmim.errors import OperationError, ToolError
from vmim.run import run

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Extent:
    offset: int
    size: int | None  # None: to the end of the disk


def partitions(disk: Path) -> dict[int, Extent]:
    """Partition number -> its byte extent, from the disk's partition table."""
    try:
        result = run(["sfdisk", "--json", disk], timeout=60)
    except ToolError as exc:
        if "does not contain a recognized partition table" in exc.message:
            return {}
        raise
    table = json.loads(result.stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    found = {}
    for index, part in enumerate(table.get("partitions", []), start=1):
        match = _NUMBER.search(part.get("node", ""))
        number = int(match.group(1)) if match else index
        found[number] = Extent(offset=int(part["start"]) * sector, size=int(part["size"]) * sector)
    return found


class ImageDisk(Disk):
    @property
    def disk(self) -> Path:
        assert self.slot.hostdisk is not None
        return self.slot.hostdisk

    def describe(self) -> str:
        part = f" partition {self.slot.partition}" if self.slot.partition else " (whole disk)"
        return f"disk image {self.disk}{part}"

    def domain_disk(self) -> Path:
        return self.disk

    def disk_file(self) -> Path | None:
        return self.disk

    def _require_disk(self) -> None:
        if not self.disk.exists():
            raise OperationError(
                f"slot '{self.slot.name}': HostDisk {self.disk} does not exist",
                f"check 'HostDisk' at {self.slot.where('hostdisk')}",
            )

    def raw_view(self) -> Path:
        """A file holding the guest-visible bytes of the disk, to read partitions and mount."""
        self._require_disk()
        return self.disk

    def extent(self, raw: Path) -> Extent:
        number = self.slot.partition
        if number is None:
            return Extent(offset=0, size=None)
        table = partitions(raw)
        if number not in table:
            have = ", ".join(str(n) for n in sorted(table)) or "none"
            raise OperationError(
                f"slot '{self.slot.name}': {self.disk} has no partition {number} "
                f"(partitions: {have})",
                f"check 'partition' at {self.slot.where('partition')}",
            )
        return table[number]

    def _mount(self) -> None:
        raw = self.raw_view()
        extent = self.extent(raw)
        if self.slot.store_type == "kpartx" and not Path("/dev/mapper/control").exists():
            log.info(
                "%s: no device-mapper here; using a loop device at offset %d instead of kpartx",
                self.slot.name,
                extent.offset,
            )
        loop_mount(raw, extent, self.mountpoint)

    def _cleanup_stale(self) -> list[str]:
        return detach_stale_loops(self.disk)

    def _replace_disk(self, make: Callable[[Path], object]) -> None:
        """A new disk, made by ``make(temp)`` beside the old one and renamed over it.

        Whatever kills the process, the slot holds the old disk or the new one.
        """
        self.release()
        self.disk.parent.mkdir(parents=True, exist_ok=True)
        for stale in atomic.stale_temps_of(self.disk):
            stale.unlink()  # a reset killed before its rename
        temp = atomic.temp_name(self.disk)
        try:
            make(temp)
            with temp.open("rb") as written:
                os.fsync(written.fileno())
            temp.replace(self.disk)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        atomic.fsync_dir(self.disk.parent)


def loop_mount(raw: Path, extent: Extent, mountpoint: Path, read_only: bool = False) -> None:
    """Mount the filesystem at ``extent`` of the file ``raw`` through a loop device."""
    options = ["loop", f"offset={extent.offset}", *mount_options(raw, extent.offset, read_only)]
    if extent.size is not None:
        options.append(f"sizelimit={extent.size}")
    run(["mount", "-o", ",".join(options), raw, mountpoint], timeout=300)


def detach_stale_loops(backing_file: Path) -> list[str]:
    """Detach loop devices on ``backing_file`` that nothing mounts (left by a killed process)."""
    if not backing_file.exists():
        return []
    target = os.path.realpath(backing_file)
    listing = json.loads(run(["losetup", "--json", "--list"]).stdout or '{"loopdevices":[]}')
    in_use = {m.source for m in mounts.mounts()}
    done = []
    for loop in listing.get("loopdevices", []):
        backing = loop.get("back-file") or ""
        # losetup shows a deleted backing file with " (deleted)".
        if os.path.realpath(backing) != target or loop["name"] in in_use:
            continue
        run(["losetup", "-d", loop["name"]])
        done.append(f"detached {loop['name']}")
    return done
