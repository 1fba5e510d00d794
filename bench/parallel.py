"""Four slots reset at once against one, for qcow2 and reflink slots: whole ``vmim deploy``.

Target: four at once take at most 1.5x the time of one.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import SCRATCH, median, run, vmim, xfs_scratch

ROUNDS = 5
SLOTS = 4
BACKENDS = ("qcow2", "reflink")


def main() -> None:
    base = SCRATCH / "parallel"
    fs = xfs_scratch(base, 12)
    source = fs / "disk.raw"
    run("dd", "if=/dev/zero", f"of={source}", "bs=16M", "count=256", "status=none")
    run("mkfs.xfs", "-q", "-f", source)
    (base / "node.xml").write_text("<node/>\n")
    config = base / "vmim.cfg"
    suffix = {"qcow2": "qcow2", "reflink": "img"}
    sections = "".join(
        f"[vmim.vm.{kind}{i}]\nHostName = {kind}{i}\nstore_type = {kind}\n"
        f"HostDisk = {fs / f'{kind}{i}.{suffix[kind]}'}\nmount = {base / 'mnt' / f'{kind}{i}'}\n"
        for kind in BACKENDS
        for i in range(SLOTS)
    )
    config.write_text(
        f"[vmim.local]\nvmemulator = test://{base / 'node.xml'}\n"
        f"statedir = {base / 'state'}\nvmimages = {fs / 'images'}\n{sections}"
    )
    vmim(config, "import", "disk", "--from", str(source))
    source.unlink()

    def deploy(*targets: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vmim", "--config", str(config), "-q", "deploy",
                        *targets], check=True)  # fmt: skip
        return time.perf_counter() - started

    rows = []
    try:
        for kind in BACKENDS:
            pairs = [f"{kind}{i}=disk" for i in range(SLOTS)]
            deploy(*pairs)
            one = median([deploy(f"{kind}0", "disk") for _ in range(ROUNDS)])
            four = median([deploy(*pairs, "--jobs", str(SLOTS)) for _ in range(ROUNDS)])
            rows.append((kind, one, four))
    finally:
        run("umount", fs)
    print(f"4 GiB image, whole vmim deploy, median of {ROUNDS}:")
    print("  backend   one slot    four slots at once   ratio")
    for kind, one, four in rows:
        verdict = "met" if four / one <= 1.5 else "NOT met"
        print(f"  {kind:8s}  {one:.3f} s     {four:.3f} s              {four / one:.2f}"
              f" (target <= 1.5: {verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
