"""The whole one-line redeploy of the tiny guest against its parts run by hand.

vmim: ``vmim deploy SLOT IMAGE --up --wait-ready`` on a running guest.
By hand: ``virsh shutdown`` (and watching ``virsh domstate``), ``mount -o loop``,
``rsync -aHAX --delete --numeric-ids``, ``umount``, ``virsh start``, then watching
the console log for the ready line. Target: vmim adds at most 0.5 s.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from bench.common import SCRATCH, log, median, run, virsh, vmim, wait_until
from vmim.testbed.guest import READY_LINE, TestGuest, make_root_tree
from vmim.testbed.host import make_host

ROUNDS = 5
SLOT = "vmim-bench-redeploy"


def ready(console: Path) -> bool:
    return console.exists() and READY_LINE in console.read_text(errors="replace")


def by_hand(disk: Path, image: Path, mnt: Path, console: Path) -> float:
    started = time.perf_counter()
    virsh("shutdown", SLOT)
    wait_until(lambda: virsh("domstate", SLOT) == "shut off")
    mnt.mkdir(parents=True, exist_ok=True)
    run("mount", "-o", "loop,offset=1048576", disk, mnt)
    try:
        run("rsync", "-aHAX", "--delete", "--numeric-ids", f"{image}/", f"{mnt}/")
    finally:
        run("umount", mnt)
    console.unlink(missing_ok=True)
    virsh("start", SLOT)
    wait_until(lambda: ready(console))
    return time.perf_counter() - started


def main() -> None:
    base = SCRATCH / "redeploy"
    if base.exists():
        shutil.rmtree(base)
    guest = TestGuest().build()
    host = make_host(base, guest, [SLOT], marker="bench")
    image = make_root_tree(base / "images" / "tiny", "bench")
    slot = host.slots[0]
    try:
        vmim(host.config, "deploy", SLOT, "tiny", "--up", "--wait-ready")
        ours, theirs = [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            vmim(host.config, "deploy", SLOT, "tiny", "--up", "--wait-ready")
            ours.append(time.perf_counter() - started)
            theirs.append(by_hand(slot.disk, image, base / "mnt-by-hand", slot.console_log))
    finally:
        host.undefine()
    log(f"vmim: {ours}\nby hand: {theirs}")
    a, b = median(ours), median(theirs)
    print(f"redeploy of the tiny guest (down, restore, up, ready), median of {ROUNDS}:")
    print(f"  by hand (virsh, mount, rsync, umount, virsh)  {b:.2f} s")
    print(f"  vmim deploy --up --wait-ready                {a:.2f} s")
    print(
        f"  vmim's added time {a - b:+.2f} s (target <= 0.5 s): "
        f"{'met' if a - b <= 0.5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
