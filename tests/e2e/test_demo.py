"""The README's demo command works and shows what it promises."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.e2e.conftest import E2E_ROOT


@pytest.mark.usefixtures("guest")  # libvirtd reachable, guest built
def test_demo_deploys_boots_stores_and_resets() -> None:
    base = E2E_ROOT / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "vmim.testbed", "demo", "--dir", str(base)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    shutil.rmtree(base, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "vmim-demo1: deployed demo-A and started" in out
    assert "vmim-guest: marker demo image A" in out
    assert "vmim-guest: marker demo image B" in out
    assert "vmim-guest: found /root/guest-wrote hello, written by the guest of demo-A" in out
    assert out.count("vmim-demo1: shut down") == 2
    assert '"image": "demo-A-after"' in out
    # The copy-on-write part: a qcow2 slot on a disk image of demo-A.
    assert "imported demo-disk (raw disk" in out
    assert "vmim-demo-qcow2: deployed demo-disk and started" in out
    assert out.count("vmim-guest: marker demo image A") == 3  # demo-A, demo-A-after, demo-disk
    assert "vmim-demo-qcow2: shut down" in out
