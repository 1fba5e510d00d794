"""Restore of a 1 GiB directory image into a slot that holds it with 1% of files changed.

vmim's restore step (``vmim deploy``, from its JSON step timings, and the whole
command) against bare ``rsync -aHAX --delete --numeric-ids`` on the same trees.
Target: vmim's restore step within 1.10x of bare rsync.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from bench.common import SCRATCH, ext4_slot_host, log, median, os_tree, run, timed, tree_stats, vmim

ROUNDS = 5


def change_one_percent(mountpoint: Path, files: list[Path], rng: random.Random) -> None:
    for path in rng.sample(files, max(1, len(files) // 100)):
        target = mountpoint / path
        data = target.read_bytes()
        target.write_bytes(data[::-1] + b"changed")  # new content, size and mtime


def main() -> None:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    image = os_tree(SCRATCH / "images" / "os")
    count, size = tree_stats(image)
    log(f"image: {count} files, {size / 2**20:.0f} MiB")
    base, disk, config = ext4_slot_host(SCRATCH / "restore", image)
    vmim(config, "deploy", "bench", "os")  # the slot now holds the image
    files = sorted(
        p.relative_to(image) for p in image.rglob("*") if p.is_file() and not p.is_symlink()
    )
    rng = random.Random(42)
    mnt = base / "mnt"
    step_times, vmim_times, rsync_times = [], [], []
    for _ in range(ROUNDS):
        vmim(config, "mount", "bench")
        change_one_percent(mnt, files, rng)
        vmim(config, "release", "bench")
        started = time.perf_counter()
        result = vmim(config, "deploy", "bench", "os")
        vmim_times.append(time.perf_counter() - started)
        steps = result["result"]["steps"]  # type: ignore[index]
        step_times.append(next(s["seconds"] for s in steps if s["name"] == "restore"))

        vmim(config, "mount", "bench")
        change_one_percent(mnt, files, rng)
        vmim(config, "release", "bench")
        # By hand, as vmim does it: a fresh mount (unmounting drops the filesystem's cached
        # inodes, so both sides start equally cold), then rsync.
        run("mount", "-o", "loop", disk, mnt)
        try:
            rsync_times.append(
                timed(
                    lambda: run(
                        "rsync", "-aHAX", "--delete", "--numeric-ids", f"{image}/", f"{mnt}/"
                    )
                )
            )
        finally:
            run("umount", mnt)
    restore, whole, bare = median(step_times), median(vmim_times), median(rsync_times)
    print(f"restore 1% changed, {count} files, {size / 2**20:.0f} MiB, median of {ROUNDS}:")
    print(f"  bare rsync -aHAX --delete --numeric-ids   {bare:.3f} s")
    print(
        f"  vmim restore step                         {restore:.3f} s  ratio {restore / bare:.2f}x"
    )
    print(f"  vmim deploy (stop, mount, restore, release) {whole:.3f} s  ratio {whole / bare:.2f}x")
    print(f"  target: restore step <= 1.10x -> {'met' if restore / bare <= 1.10 else 'NOT met'}")


if __name__ == "__main__":
    main()
