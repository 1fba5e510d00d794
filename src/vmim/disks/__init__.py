"""Slot disks behind one interface: mount, release, is-mounted, describe.

The deploy pipeline calls only ``Disk``'s methods, never asks which backend
it holds.
"""

from __future__ import annotations

from pathlib import Path

from vmim.config import SlotConfig
from vmim.disks.base import Disk
from vmim.disks.block import BlockDisk
from vmim.disks.image import ImageDisk
from vmim.disks.qcow2 import Qcow2Disk
from vmim.disks.reflink import ReflinkDisk
from vmim.errors import ConfigError

__all__ = ["Disk", "disk_for", "mountpoint_for"]


def mountpoint_for(slot: SlotConfig, statedir: Path) -> Path:
    return slot.mount if slot.mount is not None else statedir / "mnt" / slot.name


# Backends whose disk is a file vmim replaces at each reset: what HostDisk names.
_NEEDS_FILE = {
    "reflink": "/path/on/xfs-or-btrfs/slot.img",
    "qcow2": "/path/to/slot.qcow2 (the overlay)",
}


def disk_for(slot: SlotConfig, statedir: Path) -> Disk:
    mountpoint = mountpoint_for(slot, statedir)
    if slot.store_type == "partition":
        if slot.root:
            return BlockDisk(slot, mountpoint)
        if slot.hostdisk is not None:
            # The seed's "RAW images" form: store_type partition with HostDisk + partition.
            return ImageDisk(slot, mountpoint)
        raise ConfigError(
            f"{slot.where('store_type')}: slot '{slot.name}' has store_type partition "
            "but neither 'root' nor 'HostDisk'",
            "set root = /dev/... (a block device with a filesystem)",
        )
    if slot.store_type in ("diskimage", "kpartx"):
        if slot.hostdisk is None:
            if slot.root:
                # The seed's kpartx slots name the mapped partition as root.
                return BlockDisk(slot, mountpoint)
            raise ConfigError(
                f"{slot.where('store_type')}: slot '{slot.name}' has store_type "
                f"{slot.store_type} but no 'HostDisk'",
                "set HostDisk = /path/to/disk.img and partition = N",
            )
        return ImageDisk(slot, mountpoint)
    if slot.store_type in _NEEDS_FILE:
        if slot.hostdisk is None:
            raise ConfigError(
                f"{slot.where('store_type')}: slot '{slot.name}' has store_type "
                f"{slot.store_type} but no 'HostDisk'",
                f"set HostDisk = {_NEEDS_FILE[slot.store_type]} (partition = N if partitioned)",
            )
        if slot.store_type == "qcow2":
            return Qcow2Disk(slot, mountpoint, statedir)
        return ReflinkDisk(slot, mountpoint)
    raise ConfigError(
        f"{slot.where('store_type')}: slot '{slot.name}': store_type {slot.store_type} "
        "is not supported by this version",
        "use partition, diskimage, qcow2 or reflink",
    )
