"""A reflink slot under real libvirt: boot, reset by cloning, store what the guest left."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import E2E_ROOT, console, one_slot_config, remove_domain
from tests.helpers import vmim
from vmim.testbed.guest import TestGuest, make_root_tree
from vmim.testbed.host import open_folder

SLOT = "vmim-e2e-reflink"


@pytest.fixture
def xfs_host(guest: TestGuest) -> Iterator[Path]:
    base = E2E_ROOT / "reflink"
    if base.exists():
        subprocess.run(["umount", str(base / "fs")], capture_output=True, check=False)
        shutil.rmtree(base)
    open_folder(base)
    backing = base / "xfs.fs"
    with backing.open("wb") as f:
        f.truncate(512 << 20)
    subprocess.run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", str(backing)], check=True)
    fs = open_folder(base / "fs")
    subprocess.run(["mount", "-o", "loop", str(backing), str(fs)], check=True)
    try:
        fs.chmod(0o755)
        open_folder(fs / "slots")
        config = one_slot_config(base, guest, SLOT, "reflink", fs / "slots" / "slot.img",
                                 fs / "images")  # fmt: skip
        yield config
    finally:
        remove_domain(SLOT)
        subprocess.run(["umount", str(base / "mnt")], capture_output=True, check=False)
        subprocess.run(["umount", str(fs)], check=True)
        shutil.rmtree(base, ignore_errors=True)


def test_reflink_slot_boots_resets_and_stores(xfs_host: Path) -> None:
    config = xfs_host
    tree = make_root_tree(config.parent / "tree", "image-R", write="left by the guest of R")
    imported = vmim("import", "R", "--from", str(tree), "--disk", "--size", "64M",
                    "--partitioned", config=config)  # fmt: skip
    assert imported.returncode == 0, imported.stderr

    first = vmim("deploy", SLOT, "R", "--up", "--wait-ready", config=config)
    assert first.returncode == 0, first.stderr
    assert "vmim-guest: marker image-R" in console(config)
    assert "vmim-guest: wrote /root/guest-wrote" in console(config)
    assert vmim("down", SLOT, config=config).returncode == 0
    stored = vmim("store", SLOT, "R-after", config=config)
    assert stored.returncode == 0, stored.stderr

    # A reset clones the image again: what the guest wrote is gone.
    reset = vmim("deploy", SLOT, "R", "--up", "--wait-ready", config=config)
    assert reset.returncode == 0, reset.stderr
    assert "found /root/guest-wrote" not in console(config)

    # The stored tree, deployed into the same reflink slot, still has it.
    kept = vmim("deploy", SLOT, "R-after", "--up", "--wait-ready", config=config)
    assert kept.returncode == 0, kept.stderr
    assert "vmim-guest: found /root/guest-wrote left by the guest of R" in console(config)
    assert vmim("kill", SLOT, config=config).returncode == 0
