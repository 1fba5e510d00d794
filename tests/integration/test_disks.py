"""Slot disk details: swap, kpartx slots without device-mapper, stale loop devices."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers import vmim
from tests.integration.conftest import Host, mkfs_file


def test_swap_is_made_anew_at_each_deploy(host: Host) -> None:
    swap_file = host.base / "swap.raw"
    with swap_file.open("wb") as f:
        f.truncate(32 * 1024 * 1024)
    loop = subprocess.run(["losetup", "--find", "--show", str(swap_file)], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    try:
        text = host.config.read_text().replace("[vmim.vm.blk]\n", f"[vmim.vm.blk]\nswap = {loop}\n")
        host.config.write_text(text)
        (host.images / "golden").mkdir()
        assert vmim("deploy", "blk", "golden", config=host.config).returncode == 0
        kind = subprocess.run(["blkid", "-o", "value", "-s", "TYPE", loop], capture_output=True,
                              text=True, check=False).stdout.strip()  # fmt: skip
        assert kind == "swap"
    finally:
        subprocess.run(["losetup", "-d", loop], check=True)


def test_kpartx_slot_uses_a_loop_at_the_offset_and_says_so(host: Host) -> None:
    text = host.config.read_text().replace(
        "HostName = img\nstore_type = diskimage", "HostName = img\nstore_type = kpartx"
    )
    host.config.write_text(text)
    (host.images / "golden").mkdir()
    (host.images / "golden" / "file").write_text("in a kpartx slot\n")
    result = vmim("-v", "deploy", "img", "golden", config=host.config)
    assert result.returncode == 0, result.stderr
    if not Path("/dev/mapper/control").exists():
        assert "no device-mapper here; using a loop device at offset 1048576" in result.stderr


def test_release_detaches_a_loop_device_nothing_mounts(host: Host) -> None:
    disk = host.base / "img.disk"
    loop = subprocess.run(["losetup", "--find", "--show", "--offset", "1048576", str(disk)],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    result = vmim("release", "img", config=host.config)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"img: detached {loop}\n"
    assert subprocess.run(["losetup", loop], capture_output=True, check=False).returncode != 0
    again = vmim("release", "img", config=host.config)
    assert again.stdout == "img: nothing mounted\n"


def test_whole_disk_filesystem_without_a_partition_table(host: Host) -> None:
    mkfs_file(host.base / "whole.disk", 64)
    text = host.config.read_text().replace(
        "HostDisk = tiny.disk\npartition = 1", "HostDisk = whole.disk"
    )
    host.config.write_text(text)
    (host.images / "golden").mkdir()
    (host.images / "golden" / "file").write_text("whole\n")
    result = vmim("deploy", "tiny", "golden", config=host.config)
    assert result.returncode == 0, result.stderr
