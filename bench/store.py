"""Store a 1 GiB OS tree as tar.zst (vmim store) against ``tar -czf`` of the same tree.

Prints time and size ratios. Target: at least 3x faster, at most 1.05x the size.
"""

from __future__ import annotations

import time

from bench.common import SCRATCH, ext4_slot_host, log, median, os_tree, run, timed, tree_stats, vmim

ROUNDS = 3


def main() -> None:
    image = os_tree(SCRATCH / "images" / "os")
    count, size = tree_stats(image)
    log(f"tree: {count} files, {size / 2**20:.0f} MiB")
    base, _disk, config = ext4_slot_host(SCRATCH / "store", image)
    vmim(config, "deploy", "bench", "os")
    vmim(config, "mount", "bench")  # both sides read the same mounted, warm tree
    mnt = base / "mnt"
    stored = image.parent / "bench-stored.tar.zst"
    plain = base / "plain.tar.gz"
    vmim_times, tar_times = [], []
    try:
        for _ in range(ROUNDS):
            started = time.perf_counter()
            vmim(config, "store", "bench", "bench-stored", "--force")
            vmim_times.append(time.perf_counter() - started)
            tar_times.append(timed(lambda: run("tar", "-czf", plain, "-C", mnt, ".")))
    finally:
        vmim(config, "release", "bench")
    ours, theirs = median(vmim_times), median(tar_times)
    ours_size, their_size = stored.stat().st_size, plain.stat().st_size
    stored.unlink()
    print(f"store, {count} files, {size / 2**20:.0f} MiB, median of {ROUNDS}:")
    print(f"  tar -czf                 {theirs:7.2f} s  {their_size / 2**20:8.1f} MiB")
    print(f"  vmim store (tar.zst)     {ours:7.2f} s  {ours_size / 2**20:8.1f} MiB")
    speed, ratio = theirs / ours, ours_size / their_size
    print(f"  speed-up {speed:.2f}x (target >= 3), size ratio {ratio:.3f} (target <= 1.05)")
    print(f"  target: {'met' if speed >= 3 and ratio <= 1.05 else 'NOT met'}")


if __name__ == "__main__":
    main()
