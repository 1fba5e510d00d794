"""Reset time against image size: a reflink slot against a plain full copy (cp).

For each size, a raw disk image with that many bytes written (not sparse) lies in the
image store on an XFS filesystem (reflink=1) made on a loop device; the slot's disk is
on the same filesystem. vmim's restore step (read from ``vmim --json deploy``) is set
against ``cp --reflink=never`` of the same file. Targets: the reflink reset under 0.1 s
median and flat across sizes (16 GiB within 1.5x of 1 GiB).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from bench.common import SCRATCH, log, median, run, vmim

SIZES_GIB = (1, 4, 16)
ROUNDS = 5


def make_image(path: Path, gib: int) -> None:
    # A filesystem at the start (so the image is a disk image), then data to the end.
    run("dd", "if=/dev/zero", f"of={path}", "bs=16M", f"count={gib * 64}", "status=none")
    run("mkfs.xfs", "-q", "-f", path)


def main() -> None:
    base = SCRATCH / "reset"
    fs = base / "fs"
    if fs.is_mount():
        run("umount", fs)
    if base.exists():
        shutil.rmtree(base)
    fs.mkdir(parents=True)
    backing = base / "xfs.fs"
    with backing.open("wb") as f:
        f.truncate((sum(SIZES_GIB) * 2 + 4) << 30)
    run("mkfs.xfs", "-q", "-f", "-m", "reflink=1", backing)
    run("mount", "-o", "loop", backing, fs)
    (base / "node.xml").write_text("<node/>\n")
    config = base / "vmim.cfg"
    config.write_text(
        f"[vmim.local]\nvmemulator = test://{base / 'node.xml'}\n"
        f"statedir = {base / 'state'}\nvmimages = {fs / 'images'}\n"
        f"[vmim.vm.1]\nHostName = bench\nstore_type = reflink\n"
        f"HostDisk = {fs / 'slot.img'}\nmount = {base / 'mnt'}\n"
    )
    (fs / "images").mkdir()
    rows = []
    try:
        for gib in SIZES_GIB:
            image = fs / "images" / f"disk{gib}g.img"
            log(f"writing a {gib} GiB image")
            make_image(image, gib)
            resets, copies = [], []
            for _ in range(ROUNDS):
                result = vmim(config, "deploy", "bench", image.stem)
                steps = result["result"]["steps"]  # type: ignore[index]
                resets.append(next(s["seconds"] for s in steps if s["name"] == "restore"))
            for _ in range(3):
                copy = fs / "copy.img"
                subprocess.run(["sync"], check=True)
                started = time.perf_counter()
                run("cp", "--reflink=never", image, copy)
                copies.append(time.perf_counter() - started)
                copy.unlink()
            vmim(config, "release", "bench")
            image.unlink()
            rows.append((gib, median(resets), median(copies)))
    finally:
        subprocess.run(["umount", str(base / "mnt")], capture_output=True, check=False)
        time.sleep(0.2)
        run("umount", fs)
    print(
        f"reset of a reflink slot against cp --reflink=never (medians, {ROUNDS} resets, 3 copies):"
    )
    print("  size    vmim reset (clone+mount)   cp full copy   ratio")
    for gib, reset, copy in rows:
        print(f"  {gib:2d} GiB  {reset:8.3f} s                {copy:8.2f} s   {reset / copy:.4f}")
    flat = rows[-1][1] / rows[0][1]
    fast = max(r[1] for r in rows)
    print(
        f"  16 GiB / 1 GiB reset time: {flat:.2f} (target <= 1.5); slowest reset "
        f"{fast:.3f} s (target < 0.1 s): {'met' if flat <= 1.5 and fast < 0.1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
