"""Reset time against image size: qcow2 and reflink slots, an rsync slot, and a plain cp.

An XFS filesystem (reflink=1) on a loop device holds the image store and the slots'
disks. For each size, a raw disk image with every byte written (not sparse) becomes a
base (``vmim import``); vmim's ``restore`` step (read from ``vmim --json deploy``) is
timed for a ``qcow2`` slot (a new overlay on the base) and a ``reflink`` slot (a clone
of the base), and set against ``cp --reflink=never`` of the same file followed by
``sync`` of the copy (vmim's reset is durable too: it fsyncs the new disk). The ``rsync`` row
is a ``diskimage`` slot switched from an empty tree to a tree of that size (real files
of incompressible data), which is the work a tree-based reset does. Targets: qcow2 and
reflink resets under 0.1 s median and flat across sizes (16 GiB within 1.5x of 1 GiB).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.common import SCRATCH, log, median, run, vmim, xfs_scratch

SIZES_GIB = (1, 4, 16)
ROUNDS = 5
RSYNC_ROUNDS = 2
CHUNK = 64 << 20


def make_image(path: Path, gib: int) -> None:
    # A filesystem at the start (so the image is a disk image), then data to the end.
    run("dd", "if=/dev/zero", f"of={path}", "bs=16M", f"count={gib * 64}", "status=none")
    run("mkfs.xfs", "-q", "-f", path)


def make_tree(root: Path, gib: int) -> None:
    """``gib`` GiB of regular files that neither compress nor have holes."""
    root.mkdir(parents=True)
    chunk = os.urandom(CHUNK)
    for i in range(gib * (1 << 30) // CHUNK):
        # A different first byte per file: no two files are equal.
        (root / f"f{i:05d}").write_bytes(i.to_bytes(4, "big") + chunk[4:])


def restore_step(config: Path, slot: str, image: str) -> float:
    result = vmim(config, "deploy", slot, image)
    steps = result["result"]["steps"]  # type: ignore[index]
    return float(next(s["seconds"] for s in steps if s["name"] == "restore"))


def main() -> None:
    base = SCRATCH / "reset"
    fs = xfs_scratch(base, max(SIZES_GIB) * 3 + 8)
    (base / "node.xml").write_text("<node/>\n")
    config = base / "vmim.cfg"
    config.write_text(
        f"[vmim.local]\nvmemulator = test://{base / 'node.xml'}\n"
        f"statedir = {base / 'state'}\nvmimages = {fs / 'images'}\n"
        f"[vmim.vm.1]\nHostName = reflink\nstore_type = reflink\n"
        f"HostDisk = {fs / 'reflink.img'}\nmount = {base / 'mnt' / 'reflink'}\n"
        f"[vmim.vm.2]\nHostName = qcow2\nstore_type = qcow2\n"
        f"HostDisk = {fs / 'qcow2.qcow2'}\nmount = {base / 'mnt' / 'qcow2'}\n"
        f"[vmim.vm.3]\nHostName = rsync\nstore_type = diskimage\n"
        f"HostDisk = {fs / 'rsync.img'}\nmount = {base / 'mnt' / 'rsync'}\n"
    )
    (fs / "images" / "empty").mkdir(parents=True)
    rows = []
    try:
        for gib in SIZES_GIB:
            source = fs / f"disk{gib}g.raw"
            log(f"writing a {gib} GiB image and making it a base")
            make_image(source, gib)
            vmim(config, "import", f"disk{gib}g", "--from", str(source))
            source.unlink()
            image = fs / "images" / f"disk{gib}g.img"
            reflink = [restore_step(config, "reflink", image.stem) for _ in range(ROUNDS)]
            qcow2 = [restore_step(config, "qcow2", image.stem) for _ in range(ROUNDS)]
            copies = []
            for _ in range(3):
                copy = fs / "copy.img"
                subprocess.run(["sync"], check=True)
                started = time.perf_counter()
                run("cp", "--reflink=never", image, copy)
                run("sync", copy)  # durable, as vmim's reset is (it fsyncs the new disk)
                copies.append(time.perf_counter() - started)
                copy.unlink()
            # The slots' disks go first: a clone and an overlay would keep the base's space.
            for slot in ("reflink", "qcow2"):
                vmim(config, "release", slot)
            (fs / "reflink.img").unlink()
            (fs / "qcow2.qcow2").unlink()
            vmim(config, "remove", image.stem)
            vmim(config, "gc")
            log(f"writing a {gib} GiB tree for the rsync slot")
            tree = fs / "images" / f"tree{gib}g"
            make_tree(tree, gib)
            disk = fs / "rsync.img"
            disk.unlink(missing_ok=True)
            with disk.open("wb") as f:
                f.truncate((gib + 1) << 30)
            run("mkfs.xfs", "-q", "-f", disk)
            rsyncs = []
            for _ in range(RSYNC_ROUNDS):
                restore_step(config, "rsync", "empty")
                subprocess.run(["sync"], check=True)
                rsyncs.append(restore_step(config, "rsync", tree.name))
            shutil.rmtree(tree)
            disk.unlink()
            rows.append((gib, median(qcow2), median(reflink), median(rsyncs), median(copies)))
    finally:
        for slot in ("reflink", "qcow2", "rsync"):
            vmim(config, "release", slot)
        time.sleep(0.2)
        run("umount", fs)
    print(
        f"reset against image size (medians: {ROUNDS} qcow2 and reflink resets, "
        f"{RSYNC_ROUNDS} rsync resets, 3 copies):"
    )
    print(
        "  size    qcow2 reset   reflink reset   rsync reset   cp full copy   qcow2/cp  reflink/cp"
    )
    for gib, q, r, s, c in rows:
        print(
            f"  {gib:2d} GiB  {q:8.3f} s    {r:8.3f} s      {s:8.2f} s    {c:8.2f} s"
            f"     {q / c:.4f}    {r / c:.4f}"
        )
    for label, column in (("qcow2", 1), ("reflink", 2)):
        flat = rows[-1][column] / rows[0][column]
        slowest = max(r[column] for r in rows)
        met = flat <= 1.5 and slowest < 0.1
        print(
            f"  {label}: 16 GiB / 1 GiB reset time {flat:.2f} (target <= 1.5); slowest "
            f"{slowest:.3f} s (target < 0.1 s): {'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
