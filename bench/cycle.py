"""Whole redeploy of the tiny guest per backend, against rebooting it with bare virsh.

vmim: ``vmim deploy SLOT tiny --up --wait-ready`` on the running guest (ACPI shutdown and
wait, reset, start, wait for the ready line on the serial console). Bare: ``virsh shutdown``
while watching ``virsh domstate``, ``virsh start``, watching the console log: the same guest
rebooted with no reset at all.

The guest's own shutdown and boot vary by about a second from one round to the next under
software emulation, more than the target, so each cycle is also split: the time outside
the guest's shutdown and boot (vmim: its wall time less its ``stop`` and ``ready`` steps;
bare: its wall time less the waits for "shut off" and for the ready line). vmim's added
time is the difference of those medians. Target: at most 0.5 s with qcow2 and reflink.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.common import SCRATCH, log, median, run, virsh, vmim, wait_until, xfs_scratch
from vmim.testbed.guest import READY_LINE, TestGuest, make_disk, make_root_tree
from vmim.testbed.host import open_folder

ROUNDS = 9
URI = "qemu:///system"
SLOTS = {
    "qcow2": "vmim-bench-qcow2",
    "reflink": "vmim-bench-reflink",
    "diskimage": "vmim-bench-rsync",
}


def bare_reboot(slot: str, console: Path) -> tuple[float, float]:
    """(wall time, time outside the waits for the guest) of a reboot by hand."""
    started = time.perf_counter()
    virsh("shutdown", slot)
    waited = time.perf_counter()
    wait_until(lambda: virsh("domstate", slot) == "shut off")
    guest = time.perf_counter() - waited
    console.unlink(missing_ok=True)
    virsh("start", slot)
    waited = time.perf_counter()
    wait_until(lambda: console.exists() and READY_LINE in console.read_text(errors="replace"))
    guest += time.perf_counter() - waited
    wall = time.perf_counter() - started
    return wall, wall - guest


def vmim_redeploy(config: Path, slot: str, image: str) -> tuple[float, float]:
    """(wall time, time outside the guest's shutdown and boot) of ``vmim deploy --up``."""
    started = time.perf_counter()
    result = vmim(config, "deploy", slot, image, "--up", "--wait-ready")
    wall = time.perf_counter() - started
    steps = {s["name"]: s["seconds"] for s in result["result"]["steps"]}  # type: ignore[index]
    return wall, wall - float(steps["stop"]) - float(steps["ready"])


def write_config(base: Path, fs: Path, guest: TestGuest) -> Path:
    consoles = open_folder(base / "console")
    disks = {
        "qcow2": open_folder(fs / "slots") / "q.qcow2",
        "reflink": fs / "slots" / "r.img",
        "diskimage": make_disk(base / "d.img", base / "tree"),
    }
    sections = "".join(
        f"[vmim.vm.{backend}]\nHostName = {slot}\nstore_type = {backend}\n"
        f"HostDisk = {disks[backend]}\npartition = 1\nconsole_log = {consoles / slot}.log\n"
        f"cmdline = console=ttyS0 root=/dev/vda1 quiet\n"
        for backend, slot in SLOTS.items()
    )
    config = base / "vmim.cfg"
    config.write_text(
        f"[vmim.local]\nvmemulator = {URI}\nstatedir = {base / 'state'}\n"
        f"vmimages = {fs / 'images'}\nvirt_type = qemu\nmemory = 128\n"
        f"kernel = {guest.kernel}\ninitrd = {guest.initrd}\n{sections}"
    )
    return config


def cleanup(config: Path) -> None:
    for slot in SLOTS.values():
        for argv in (
            ["virsh", "-c", URI, "destroy", slot],
            ["virsh", "-c", URI, "undefine", slot],
            [sys.executable, "-m", "vmim", "--config", str(config), "release", slot],
        ):
            subprocess.run(argv, capture_output=True, check=False)  # fmt: skip


def main() -> None:
    base = SCRATCH / "cycle"
    guest = TestGuest().build()
    fs = xfs_scratch(base, 2)
    open_folder(fs / "images")
    tree = make_root_tree(base / "tree", "bench")
    config = write_config(base, fs, guest)
    vmim(config, "import", "tiny", "--from", str(tree), "--disk", "--size", "64M", "--partitioned")
    vmim(config, "import", "tiny-tree", "--from", str(tree))
    images = {"qcow2": "tiny", "reflink": "tiny", "diskimage": "tiny-tree"}
    rows = []
    try:
        for backend, slot in SLOTS.items():
            console = base / "console" / f"{slot}.log"
            vmim(config, "deploy", slot, images[backend], "--up", "--wait-ready")
            ours, bare = [], []
            for _ in range(ROUNDS):
                ours.append(vmim_redeploy(config, slot, images[backend]))
                bare.append(bare_reboot(slot, console))
            vmim(config, "kill", slot)
            log(f"{backend}: vmim {ours}, bare {bare}")
            rows.append((backend, *(median([r[i] for r in runs]) for runs in (ours, bare)
                                    for i in (0, 1))))  # fmt: skip
    finally:
        cleanup(config)
        run("umount", fs)
    print(
        f"redeploy of the tiny guest per backend against a bare virsh reboot, median of {ROUNDS}:"
    )
    print("  backend     whole cycle: vmim   bare     outside the guest: vmim   bare    added")
    for backend, ours_wall, ours_own, bare_wall, bare_own in rows:
        added = ours_own - bare_own
        verdict = "met" if added <= 0.5 else "NOT met"
        target = "" if backend == "diskimage" else f"  (target <= 0.5 s: {verdict})"
        print(f"  {backend:10s}  {ours_wall:6.2f} s  {bare_wall:6.2f} s              "
              f"{ours_own:6.2f} s  {bare_own:6.2f} s  {added:+.2f} s{target}")  # fmt: skip


if __name__ == "__main__":
    main()
