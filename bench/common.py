"""Shared pieces of the benchmarks: a realistic image tree, a scratch host, timers."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SCRATCH = Path(os.environ.get("VMIM_BENCH_DIR", "/var/tmp/vmim-bench"))
SOURCE = Path("/usr")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def os_tree(dest: Path, limit_bytes: int = 1 << 30) -> Path:
    """A copy of the first ``limit_bytes`` of regular files under /usr: real OS files."""
    if dest.is_dir() and (dest.parent / f"{dest.name}.done").exists():
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    picked: list[str] = []
    total = 0
    for folder, dirs, files in os.walk(SOURCE):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            picked.append(os.path.relpath(path, SOURCE))
            total += st.st_size
            if total >= limit_bytes:
                break
        if total >= limit_bytes:
            break
    dest.mkdir(parents=True)
    listing = dest.parent / f"{dest.name}.files"
    listing.write_text("\n".join(picked) + "\n")
    subprocess.run(
        ["rsync", "-aHAX", "--numeric-ids", f"--files-from={listing}", f"{SOURCE}/", f"{dest}/"],
        check=True,
    )
    (dest.parent / f"{dest.name}.done").write_text(f"{len(picked)} files, {total} bytes\n")
    return dest


def tree_stats(root: Path) -> tuple[int, int]:
    files = size = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(folder, name)).st_size
    return files, size


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def vmim(config: Path, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "vmim", "--config", str(config), "--json", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"vmim {' '.join(args)} failed: {result.stderr}")
    return dict(json.loads(result.stdout))


def run(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True)


def ext4_slot_host(base: Path, image: Path) -> tuple[Path, Path, Path]:
    """A fresh host under ``base``: one diskimage slot ``bench`` (ext4, 3 GiB) and its config."""
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    disk = base / "slot.img"
    with disk.open("wb") as out:
        out.truncate(3 << 30)
    run("mke2fs", "-q", "-F", "-t", "ext4", disk)
    (base / "node.xml").write_text("<node/>\n")
    config = base / "vmim.cfg"
    config.write_text(
        f"[vmim.local]\nvmemulator = test://{base / 'node.xml'}\n"
        f"statedir = {base / 'state'}\nvmimages = {image.parent}\n"
        f"[vmim.vm.1]\nHostName = bench\nstore_type = diskimage\n"
        f"HostDisk = {disk}\nmount = {base / 'mnt'}\n"
    )
    return base, disk, config


def xfs_scratch(base: Path, size_gib: int) -> Path:
    """A fresh ``base`` with an XFS filesystem (reflink=1) on a loop device at ``base/fs``.

    Sparse: it takes only the space written into it. The caller unmounts ``base/fs``.
    """
    fs = base / "fs"
    if fs.is_mount():
        run("umount", fs)
    if base.exists():
        shutil.rmtree(base)
    fs.mkdir(parents=True)
    base.chmod(0o755)  # libvirt's qemu user reaches guests' disks through it
    backing = base / "xfs.fs"
    with backing.open("wb") as f:
        f.truncate(size_gib << 30)
    run("mkfs.xfs", "-q", "-f", "-m", "reflink=1", backing)
    run("mount", "-o", "loop", backing, fs)
    fs.chmod(0o755)
    return fs


def virsh(*args: str, uri: str = "qemu:///system") -> str:
    return subprocess.run(
        ["virsh", "-c", uri, *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def wait_until(predicate: Callable[[], bool], timeout: float = 120) -> None:
    """Poll every 50 ms, as a script by hand would."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)
