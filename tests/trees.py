"""Rich test trees: every kind of file a restore must carry over."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def rich_tree(root: Path, marker: str = "A", bulk_files: int = 50) -> Path:
    """Files of many sizes and owners, links, devices, sparse files, xattrs and ACLs."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "etc").mkdir()
    (root / "etc" / "marker").write_text(marker + "\n")
    (root / ".hidden").write_text("dotfile\n")
    (root / "etc" / "name with spaces").write_text("spaces\n")
    (root / "etc" / "ünïcødé").write_text("unicode\n")
    (root / "etc" / "line\nbreak").write_text("newline in the name\n")
    data = root / "data"
    data.mkdir()
    for i in range(bulk_files):
        (data / f"file{i:03d}").write_bytes(os.urandom(i * 97 % 8192))
    big = data / "big"
    big.write_bytes(os.urandom(300_000))
    sparse = data / "sparse"
    with sparse.open("wb") as out:
        out.seek(5_000_000)
        out.write(b"end")
    owned = root / "home" / "user"
    owned.mkdir(parents=True)
    (owned / "secret").write_text("mine\n")
    os.chown(owned / "secret", 1234, 5678)
    os.chown(owned, 1234, 5678)
    (owned / "secret").chmod(0o600)
    setuid = root / "bin"
    setuid.mkdir()
    (setuid / "tool").write_text("#!/bin/sh\n")
    (setuid / "tool").chmod(0o4755)
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    os.link(data / "file001", data / "hardlink-to-file001")
    os.link(data / "file001", root / "etc" / "another-hardlink")
    (root / "etc" / "relative-link").symlink_to("marker")
    (root / "etc" / "absolute-link").symlink_to("/etc/marker")
    (root / "etc" / "dangling").symlink_to("/nowhere/at/all")
    (root / "empty-dir").mkdir()
    devices = root / "dev"
    devices.mkdir()
    os.mknod(devices / "null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mknod(devices / "loopish", 0o660 | 0o060000, os.makedev(7, 200))
    os.mkfifo(devices / "fifo")
    os.setxattr(root / "etc" / "marker", "user.vmim", b"kept")
    os.setxattr(
        root / "bin" / "tool",
        "security.capability",
        bytes.fromhex("0100000200200000000000000000000000000000"),
    )
    subprocess.run(["setfacl", "-m", "u:4321:r", str(root / "etc" / "marker")], check=True)
    os.utime(data / "big", (1_000_000_000, 1_000_000_000))
    return root
