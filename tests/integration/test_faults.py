"""Faults caused for real: a full disk, SIGKILL in the middle of a restore or a store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import vmim
from tests.integration.conftest import Host
from tests.integration.test_images import tree_of
from tests.manifest import differences, manifest


def slot_status(host: Host, slot: str) -> dict[str, object]:
    return dict(json.loads(vmim("--json", "list", slot, config=host.config).stdout)["slots"][0])


def bulky_tree(root: Path, files: int, size: int) -> Path:
    root.mkdir(parents=True)
    chunk = os.urandom(size)
    for i in range(files):
        (root / f"f{i:05d}").write_bytes(chunk[i % 64 :] + chunk[: i % 64])
    return root


def start_vmim(host: Host, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vmim", "--config", str(host.config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: object, timeout: float = 30) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_full_disk_during_restore_marks_dirty_and_leaves_nothing_mounted(host: Host) -> None:
    bulky_tree(host.images / "huge", files=40, size=1024 * 1024)  # 40 MiB into a 16 MiB slot
    result = vmim("deploy", "tiny", "huge", config=host.config)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert "deploy of 'huge' into slot 'tiny' failed at restore" in line
    assert "No space left on device" in line
    status = slot_status(host, "tiny")
    assert (status["dirty"], status["mounted"]) == (True, None)
    refused = vmim("up", "tiny", config=host.config)
    assert refused.returncode == 1 and "slot 'tiny' is dirty" in refused.stderr
    assert "deploy it again" in refused.stderr

    (host.images / "small").mkdir()
    (host.images / "small" / "ok").write_text("fits\n")
    assert vmim("deploy", "tiny", "small", config=host.config).returncode == 0
    status = slot_status(host, "tiny")
    assert (status["dirty"], status["image"]) == (False, "small")


def test_sigkill_during_restore_leaves_a_dirty_slot_that_release_cleans(host: Host) -> None:
    bulky_tree(host.images / "big", files=3000, size=64 * 1024)  # about 190 MiB
    record = host.statedir / "slots" / "blk.json"
    child = start_vmim(host, "deploy", "blk", "big")

    def restoring() -> bool:
        try:
            return bool(json.loads(record.read_text())["step"] == "restore")
        except (FileNotFoundError, ValueError):
            return False

    wait_for(restoring)
    time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # The tools vmim ran die with it: nothing goes on writing into the slot.
    time.sleep(0.2)
    assert (
        subprocess.run(
            ["pgrep", "-f", f"rsync.*{host.images / 'big'}"], capture_output=True, check=False
        ).returncode
        == 1
    )

    status = slot_status(host, "blk")
    assert status["dirty"] is True
    assert status["locked_by"] is None  # the lease died with its holder
    assert status["mounted"] == str(host.mountpoint("blk"))
    refused = vmim("up", "blk", config=host.config)
    assert refused.returncode == 1 and "mounted" in refused.stderr

    released = vmim("release", "blk", config=host.config)
    assert released.returncode == 0, released.stderr
    assert f"unmounted {host.mountpoint('blk')}" in released.stdout
    assert slot_status(host, "blk")["mounted"] is None
    assert slot_status(host, "blk")["dirty"] is True

    again = vmim("deploy", "blk", "big", config=host.config)
    assert again.returncode == 0, again.stderr
    assert differences(manifest(host.images / "big"), tree_of(host, "blk")) == []
    assert slot_status(host, "blk")["dirty"] is False


def test_sigkill_during_store_never_leaves_a_half_image_under_its_name(host: Host) -> None:
    bulky_tree(host.images / "big", files=2000, size=64 * 1024)
    assert vmim("deploy", "blk", "big", config=host.config).returncode == 0
    child = start_vmim(host, "store", "blk", "saved", "--format", "tar.gz")

    def writing() -> bool:
        return any(".vmim-tmp-" in p.name and p.stat().st_size > 0 for p in host.images.iterdir())

    wait_for(writing)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    names = [p.name for p in host.images.iterdir()]
    assert "saved.tar.gz" not in names
    assert any(".vmim-tmp-" in n for n in names)  # the killed writer's temp, hidden
    listing = json.loads(vmim("--json", "images", config=host.config).stdout)["images"]
    assert [i["name"] for i in listing] == ["big"]
    assert (
        slot_status(host, "blk")["mounted"] is None
        or vmim("release", "blk", config=host.config).returncode == 0
    )

    stored = vmim("store", "blk", "saved", "--format", "tar.gz", config=host.config)
    assert stored.returncode == 0, stored.stderr
    assert sorted(p.name for p in host.images.iterdir()) == ["big", "saved.tar.gz"]


def test_full_store_leaves_no_image_and_no_temp(host: Host) -> None:
    bulky_tree(host.images / "big", files=40, size=256 * 1024)
    assert vmim("deploy", "img", "big", config=host.config).returncode == 0
    small = host.base / "small-store"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], check=True)
    try:
        text = host.config.read_text().replace("vmimages = images", f"vmimages = {small}")
        host.config.write_text(text)
        result = vmim("store", "img", "saved", "--format", "rsync", config=host.config)
        assert result.returncode == 1
        assert "No space left on device" in result.stderr
        assert list(small.iterdir()) == []
        assert slot_status(host, "img")["mounted"] is None
    finally:
        subprocess.run(["umount", str(small)], check=True)
