"""A qcow2 slot under real libvirt: boot an overlay, reset it, store what the guest left."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import E2E_ROOT, console, one_slot_config, remove_domain
from tests.helpers import vmim
from vmim.testbed.guest import TestGuest, make_root_tree
from vmim.testbed.host import open_folder

SLOT = "vmim-e2e-qcow2"


@pytest.fixture
def qcow_host(guest: TestGuest) -> Iterator[Path]:
    base = E2E_ROOT / "qcow2"
    if base.exists():
        shutil.rmtree(base)
    open_folder(base)
    disk = open_folder(base / "slots") / "slot.qcow2"
    config = one_slot_config(base, guest, SLOT, "qcow2", disk, base / "images")
    try:
        yield config
    finally:
        remove_domain(SLOT)
        vmim("release", SLOT, config=config)
        shutil.rmtree(base, ignore_errors=True)


def test_qcow2_slot_boots_resets_and_stores(qcow_host: Path) -> None:
    config = qcow_host
    tree = make_root_tree(config.parent / "tree", "image-Q", write="left by the guest of Q")
    imported = vmim("--json", "import", "Q", "--from", str(tree), "--disk", "--size", "64M",
                    "--partitioned", config=config)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    base = Path(json.loads(imported.stdout)["result"]["path"]).resolve()
    digest_before = base.name

    first = vmim("deploy", SLOT, "Q", "--up", "--wait-ready", config=config)
    assert first.returncode == 0, first.stderr
    assert "vmim-guest: marker image-Q" in console(config)
    assert "vmim-guest: wrote /root/guest-wrote" in console(config)
    xml = vmim("xml", SLOT, config=config).stdout
    assert "type='qcow2'" in xml and str(config.parent / "slots" / "slot.qcow2") in xml
    assert vmim("down", SLOT, config=config).returncode == 0
    stored = vmim("--json", "store", SLOT, "Q-after", config=config)
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout)["result"]["format"] == "qcow2"

    # A reset is a new overlay on the base: what the guest wrote is gone.
    reset = vmim("deploy", SLOT, "Q", "--up", "--wait-ready", config=config)
    assert reset.returncode == 0, reset.stderr
    assert "vmim-guest: marker image-Q" in console(config)
    assert "found /root/guest-wrote" not in console(config)

    # The flattened image, deployed into the same slot, still has it.
    kept = vmim("deploy", SLOT, "Q-after", "--up", "--wait-ready", config=config)
    assert kept.returncode == 0, kept.stderr
    assert "vmim-guest: found /root/guest-wrote left by the guest of Q" in console(config)
    assert vmim("kill", SLOT, config=config).returncode == 0
    verified = vmim("verify", config=config)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{digest_before}: ok" in verified.stdout  # booting never wrote to the base
