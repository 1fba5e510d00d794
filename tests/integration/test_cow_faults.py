"""Faults in copy-on-write slots: SIGKILL in the middle of a reset, a full disk in a flatten."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import vmim
from tests.integration.conftest import QcowHost, write_config
from tests.integration.test_qcow2 import backing, import_disk, slot_tree
from tests.integration.test_reflink import CowHost, _cow_host
from tests.manifest import differences, manifest

# Seconds after the deploy records its restore step: before, during and after the
# overlay or clone is written and renamed.
KILL_DELAYS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08)


def kill_during_restore(config: Path, statedir: Path, slot: str, image: str, delay: float) -> None:
    record = statedir / "slots" / f"{slot}.json"
    child = subprocess.Popen(
        [sys.executable, "-m", "vmim", "--config", str(config), "deploy", slot, image],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        try:
            if json.loads(record.read_text()).get("step") == "restore":
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.0005)
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


def two_images(host_base: Path) -> tuple[Path, Path]:
    a = host_base / "tree-a"
    b = host_base / "tree-b"
    for tree, marker in ((a, "A"), (b, "B")):
        (tree / "etc").mkdir(parents=True)
        (tree / "etc" / "marker").write_text(marker + "\n")
        (tree / "data").mkdir()
        for i in range(40):
            (tree / "data" / f"{marker}{i}").write_bytes(os.urandom(4096))
    return a, b


def test_sigkill_during_a_qcow2_reset_leaves_the_old_disk_or_the_new(qhost: QcowHost) -> None:
    a, b = two_images(qhost.base)
    import_disk(qhost, "a", a)
    import_disk(qhost, "b", b)
    trees = {"a": manifest(a), "b": manifest(b)}
    bases = {str((qhost.images / f"{n}.img").resolve()): n for n in ("a", "b")}
    assert vmim("deploy", "q", "a", config=qhost.config).returncode == 0
    for round_, delay in enumerate(KILL_DELAYS):
        target = "b" if round_ % 2 == 0 else "a"
        kill_during_restore(qhost.config, qhost.base / "state", "q", target, delay)
        released = vmim("release", "q", config=qhost.config)
        assert released.returncode == 0, released.stderr
        check = subprocess.run(["qemu-img", "check", str(qhost.overlay)], capture_output=True,
                               text=True, check=False)  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
        holds = bases[backing(qhost.overlay)]
        assert differences(trees[holds], slot_tree(qhost)) == []
    # The next deploy clears what the killed ones left beside the disk.
    assert vmim("deploy", "q", "b", config=qhost.config).returncode == 0
    assert [p.name for p in qhost.overlay.parent.iterdir()] == ["q.qcow2"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def xfs_host(tmp_path: Path) -> Iterator[CowHost]:
    yield from _cow_host(tmp_path, "xfs")


def test_sigkill_during_a_reflink_reset_leaves_the_old_disk_or_the_new(xfs_host: CowHost) -> None:
    a, b = two_images(xfs_host.base)
    for name, tree in (("a", a), ("b", b)):
        assert vmim("import", name, "--from", str(tree), "--disk", "--size", "64M",
                    "--partitioned", config=xfs_host.config).returncode == 0  # fmt: skip
    images = {n: sha256(xfs_host.images / f"{n}.img") for n in ("a", "b")}
    trees = {"a": manifest(a), "b": manifest(b)}
    disk = xfs_host.base / "fs" / "slots" / "cow.img"
    assert vmim("deploy", "cow", "a", config=xfs_host.config).returncode == 0
    old = "a"
    for round_, delay in enumerate(KILL_DELAYS):
        target = "b" if round_ % 2 == 0 else "a"
        # The old disk as it is now (a mount below writes its superblock's mount time).
        digests = {sha256(disk): old, images[target]: target}
        kill_during_restore(xfs_host.config, xfs_host.base / "state", "cow", target, delay)
        assert vmim("release", "cow", config=xfs_host.config).returncode == 0
        # Byte for byte the old disk or a clone of the new image: never a mix.
        holds = digests[sha256(disk)]
        old = holds
        assert vmim("mount", "cow", config=xfs_host.config).returncode == 0
        try:
            assert differences(trees[holds], manifest(xfs_host.mountpoint())) == []
        finally:
            assert vmim("release", "cow", config=xfs_host.config).returncode == 0
    assert vmim("deploy", "cow", "b", config=xfs_host.config).returncode == 0
    assert [p.name for p in disk.parent.iterdir()] == ["cow.img"]


def test_a_full_filesystem_during_flatten_leaves_no_partial_base(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(images)], check=True)
    host = QcowHost(
        tmp_path, write_config(tmp_path, images), images, tmp_path / "slots" / "q.qcow2"
    )
    try:
        (tmp_path / "small").mkdir()
        (tmp_path / "small" / "f").write_text("small\n")
        import_disk(host, "golden", tmp_path / "small")
        assert vmim("deploy", "q", "golden", config=host.config).returncode == 0
        assert vmim("mount", "q", config=host.config).returncode == 0
        (host.mountpoint() / "big").write_bytes(os.urandom(48 << 20))  # incompressible
        assert vmim("release", "q", config=host.config).returncode == 0
        before = sorted(p.name for p in (images / ".bases").iterdir())

        result = vmim("store", "q", "full", config=host.config)
        assert result.returncode == 1
        assert "No space left on device" in result.stderr
        assert sorted(p.name for p in (images / ".bases").iterdir()) == before
        assert sorted(p.name for p in images.iterdir()) == [".bases", "golden.img"]
        # The slot itself is whole: its tree still holds what the guest wrote.
        assert "big" in slot_tree(host)
        assert vmim("deploy", "q", "golden", config=host.config).returncode == 0
    finally:
        vmim("release", "q", config=host.config)
        subprocess.run(["umount", str(images)], check=True)


def test_sigkill_while_a_qcow2_slot_is_mounted_leaves_nothing_release_cannot_undo(
    qhost: QcowHost,
) -> None:
    (qhost.base / "small").mkdir()
    (qhost.base / "small" / "f").write_text("small\n")
    import_disk(qhost, "golden", qhost.base / "small")
    insert = qhost.base / "extracts" / "bulk"
    insert.mkdir(parents=True)
    chunk = os.urandom(1 << 20)
    for i in range(40):
        (insert / f"part{i:02d}").write_bytes(chunk[i:] + chunk[:i])
    child = subprocess.Popen(
        [sys.executable, "-m", "vmim", "--config", str(qhost.config), "deploy", "q", "golden",
         "--insert", "bulk"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # Killed once the insert is being copied into the mounted overlay.
    deadline = time.monotonic() + 30
    target = f" {qhost.mountpoint()} "
    while time.monotonic() < deadline and target not in Path("/proc/self/mountinfo").read_text():
        time.sleep(0.002)
    time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    listed = json.loads(vmim("--json", "list", "q", config=qhost.config).stdout)["slots"][0]
    assert listed["dirty"] is True and listed["mounted"] == str(qhost.mountpoint())
    refused = vmim("up", "q", config=qhost.config)
    assert refused.returncode == 1 and "mounted" in refused.stderr

    released = vmim("release", "q", config=qhost.config)
    assert released.returncode == 0, released.stderr
    assert "stopped qemu-storage-daemon" in released.stdout
    again = vmim("deploy", "q", "golden", "--insert", "bulk", config=qhost.config)
    assert again.returncode == 0, again.stderr
    assert "bulk" not in slot_tree(qhost) and "part39" in slot_tree(qhost)
