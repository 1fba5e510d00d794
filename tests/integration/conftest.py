"""Real loop devices and filesystems; the libvirt side is the test driver (no domains)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import require_root, vmim
from vmim import config
from vmim.api import Manager
from vmim.testbed.guest import make_disk


def _loops() -> set[str]:
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[0] for line in out.splitlines()}


def _mounts() -> set[str]:
    return {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}


def _views() -> set[str]:
    """qemu-storage-daemon processes alive (an exited one is a zombie until init reaps it)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"qemu-storage-daemon" in (proc / "cmdline").read_bytes():
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.add(proc.name)
        except (OSError, IndexError):
            continue
    return found


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """After each test: no loop device, mount or raw-view daemon that was not there before."""
    require_root()
    loops, mounts, views = _loops(), _mounts(), _views()
    yield
    assert _mounts() - mounts == set(), "a test left a mount behind"
    assert _loops() - loops == set(), "a test left a loop device behind"
    assert _views() - views == set(), "a test left a qemu-storage-daemon running"


@dataclass
class Host:
    base: Path
    config: Path
    images: Path
    extracts: Path
    statedir: Path

    def manager(self) -> Manager:
        return Manager(config.load(self.config))

    def mountpoint(self, slot: str) -> Path:
        return self.base / "mnt" / slot


def mkfs_file(path: Path, size_mib: int, fstype: str = "ext4") -> Path:
    with path.open("wb") as f:
        f.truncate(size_mib * 1024 * 1024)
    if fstype == "xfs":
        subprocess.run(["mkfs.xfs", "-q", "-f", str(path)], check=True)
    else:
        subprocess.run(["mke2fs", "-q", "-F", "-t", fstype, str(path)], check=True)
    return path


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    """Slots ``img`` (a partitioned disk image), ``blk`` (XFS on a block device) and ``tiny``."""
    node = tmp_path / "node.xml"
    node.write_text("<node/>\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    make_disk(tmp_path / "img.disk", empty, size_mib=96)
    make_disk(tmp_path / "tiny.disk", empty, size_mib=16)
    backing = mkfs_file(tmp_path / "blk.fs", 300, "xfs")
    loop = subprocess.run(
        ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True, check=True
    ).stdout.strip()
    cfg = tmp_path / "vmim.cfg"
    cfg.write_text(f"""[vmim.local]
vmemulator = test://{node}
statedir = state
vmimages = images
vmextracts = extracts

[vmim.vm.img]
HostName = img
store_type = diskimage
HostDisk = img.disk
partition = 1
mount = mnt/img

[vmim.vm.blk]
HostName = blk
store_type = partition
root = {loop}
mount = mnt/blk

[vmim.vm.tiny]
HostName = tiny
store_type = diskimage
HostDisk = tiny.disk
partition = 1
mount = mnt/tiny
""")
    (tmp_path / "images").mkdir()
    (tmp_path / "extracts").mkdir()
    try:
        yield Host(tmp_path, cfg, tmp_path / "images", tmp_path / "extracts", tmp_path / "state")
    finally:
        for slot in ("img", "blk", "tiny"):
            subprocess.run(
                ["umount", str(tmp_path / "mnt" / slot)], capture_output=True, check=False
            )
        subprocess.run(["losetup", "-d", loop], check=True)


@dataclass
class QcowHost:
    base: Path
    config: Path
    images: Path
    overlay: Path

    def mountpoint(self) -> Path:
        return self.base / "mnt" / "q"

    def bases(self) -> list[Path]:
        folder = self.images / ".bases"
        return sorted(p for p in folder.iterdir() if p.name.startswith("sha256-"))


def write_config(tmp_path: Path, images: Path) -> Path:
    (tmp_path / "node.xml").write_text("<node/>\n")
    cfg = tmp_path / "vmim.cfg"
    cfg.write_text(f"[vmim.local]\nvmemulator = test://{tmp_path / 'node.xml'}\n"
                   f"statedir = state\nvmimages = {images}\nvmextracts = extracts\n"
                   f"[vmim.vm.q]\nHostName = q\nstore_type = qcow2\n"
                   f"HostDisk = slots/q.qcow2\npartition = 1\nmount = mnt/q\n"
                   f"[vmim.vm.r]\nHostName = r\nstore_type = qcow2\n"
                   f"HostDisk = slots/r.qcow2\npartition = 1\nmount = mnt/r\n")  # fmt: skip
    (tmp_path / "extracts").mkdir(exist_ok=True)
    return cfg


@pytest.fixture
def qhost(tmp_path: Path) -> Iterator[QcowHost]:
    images = tmp_path / "images"
    images.mkdir()
    try:
        yield QcowHost(
            tmp_path, write_config(tmp_path, images), images, tmp_path / "slots" / "q.qcow2"
        )
    finally:
        for slot in ("q", "r"):
            vmim("release", slot, config=tmp_path / "vmim.cfg")
