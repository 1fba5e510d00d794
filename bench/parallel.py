"""Four reflink slots reset at once against one: whole ``vmim deploy`` wall time.

Target: four at once take at most 1.5x the time of one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from bench.common import SCRATCH, median, run

ROUNDS = 5
SLOTS = 4


def main() -> None:
    base = SCRATCH / "parallel"
    fs = base / "fs"
    if fs.is_mount():
        run("umount", fs)
    if base.exists():
        shutil.rmtree(base)
    fs.mkdir(parents=True)
    backing = base / "xfs.fs"
    with backing.open("wb") as f:
        f.truncate(12 << 30)
    run("mkfs.xfs", "-q", "-f", "-m", "reflink=1", backing)
    run("mount", "-o", "loop", backing, fs)
    (fs / "images").mkdir()
    image = fs / "images" / "disk.img"
    run("dd", "if=/dev/zero", f"of={image}", "bs=16M", "count=256", "status=none")
    run("mkfs.xfs", "-q", "-f", image)
    (base / "node.xml").write_text("<node/>\n")
    config = base / "vmim.cfg"
    sections = "".join(
        f"[vmim.vm.{i}]\nHostName = p{i}\nstore_type = reflink\nHostDisk = {fs / f'p{i}.img'}\n"
        f"mount = {base / 'mnt' / f'p{i}'}\n"
        for i in range(SLOTS)
    )
    config.write_text(
        f"[vmim.local]\nvmemulator = test://{base / 'node.xml'}\n"
        f"statedir = {base / 'state'}\nvmimages = {fs / 'images'}\n{sections}"
    )

    def deploy(*targets: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vmim", "--config", str(config), "-q", "deploy",
                        *targets], check=True)  # fmt: skip
        return time.perf_counter() - started

    try:
        deploy(*(f"p{i}=disk" for i in range(SLOTS)))
        one = median([deploy("p0", "disk") for _ in range(ROUNDS)])
        four = median([deploy(*(f"p{i}=disk" for i in range(SLOTS)), "--jobs", str(SLOTS))
                       for _ in range(ROUNDS)])  # fmt: skip
    finally:
        run("umount", fs)
    print(f"reflink slots, 4 GiB image, whole vmim deploy, median of {ROUNDS}:")
    print(f"  one slot            {one:.3f} s")
    print(
        f"  four slots at once  {four:.3f} s  ratio {four / one:.2f} (target <= 1.5): "
        f"{'met' if four / one <= 1.5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
