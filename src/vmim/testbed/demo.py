"""The demo: a host with file-backed slots and the tiny guest, driven by ``vmim``.

It deploys an image, boots it and shows what the guest printed, stores what the
guest left as a new image, resets the slot to another image and back again. Then
it makes a disk image of the first image and resets a qcow2 slot to it: a new
overlay on the image, whatever its size.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from vmim.testbed.guest import TestGuest, make_root_tree
from vmim.testbed.host import TestHost, TestSlot, make_host, slot_section

DEFAULT_DIR = Path("/var/tmp/vmim-demo")
SLOT = "vmim-demo1"
COW_SLOT = "vmim-demo-qcow2"


def _vmim(config: Path, *args: str) -> None:
    argv = [sys.executable, "-m", "vmim", "--config", str(config), *args]
    print(f"\n$ vmim --config {config} {shlex.join(args)}", flush=True)
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def _console(host: TestHost, slot: str = SLOT) -> None:
    print(f"--- what {slot} printed on its serial console ---")
    lines = host.wait_console(slot).splitlines()
    print("\n".join(line for line in lines if "vmim-guest" in line))
    print("---", flush=True)


def run_demo(guest: TestGuest, base: Path) -> int:
    if base.exists():
        shutil.rmtree(base)
    host = make_host(base, guest, [SLOT], marker="empty slot")
    make_root_tree(base / "images" / "demo-A", "demo image A",
                   write="hello, written by the guest of demo-A")  # fmt: skip
    make_root_tree(base / "images" / "demo-B", "demo image B")
    print(f"demo host in {base}: config {host.config}")
    print(host.config.read_text())
    try:
        _vmim(host.config, "images")
        _vmim(host.config, "list")
        _vmim(host.config, "deploy", SLOT, "demo-A", "--up", "--wait-ready")
        _console(host)
        _vmim(host.config, "down", SLOT)
        _vmim(host.config, "store", SLOT, "demo-A-after")
        _vmim(host.config, "deploy", SLOT, "demo-B", "--up", "--wait-ready")
        _console(host)
        _vmim(host.config, "deploy", SLOT, "demo-A-after", "--up", "--wait-ready")
        _console(host)
        _vmim(host.config, "list")
        _vmim(host.config, "down", SLOT)
        _vmim(host.config, "--json", "list")
        _add_qcow2_slot(host)
        _vmim(host.config, "import", "demo-disk", "--from", str(base / "images" / "demo-A"),
              "--disk", "--size", "64M", "--partitioned")  # fmt: skip
        _vmim(host.config, "deploy", COW_SLOT, "demo-disk", "--up", "--wait-ready")
        _console(host, COW_SLOT)
        _vmim(host.config, "images")
        _vmim(host.config, "down", COW_SLOT)
    finally:
        host.undefine()
    return 0


def _add_qcow2_slot(host: TestHost) -> None:
    """A second slot: a qcow2 overlay, made by its first deploy, on a disk image."""
    slot = TestSlot(
        COW_SLOT,
        host.base / f"{COW_SLOT}.qcow2",
        host.base / "mnt" / COW_SLOT,
        host.base / "console" / f"{COW_SLOT}.log",
        "console=ttyS0 root=/dev/vda1 quiet",
    )
    host.slots.append(slot)
    with host.config.open("a", encoding="utf-8") as config:
        config.write(slot_section(slot, "qcow2"))
    print(
        f"\nadded to {host.config}:\n[vmim.vm.{COW_SLOT}] store_type = qcow2, HostDisk = "
        f"{slot.disk}",
        flush=True,
    )
