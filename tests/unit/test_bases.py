"""Bases: named by their digest, read-only, checked again when their file changes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest

from vmim.images import bases
from vmim.images.formats import Format


def written(store: Path, data: bytes) -> Path:
    scratch = bases.scratch(store, "new")
    scratch.write_bytes(data)
    return scratch


def test_adopt_names_the_file_by_its_digest_and_makes_it_read_only(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    base = bases.adopt(written(tmp_path, data), Format.RAW_DISK, tmp_path)
    digest = hashlib.sha256(data).hexdigest()
    assert base.path == tmp_path / ".bases" / f"sha256-{digest}.raw"
    assert base.path.read_bytes() == data
    assert base.path.stat().st_mode & 0o777 == 0o444
    assert bases.parse(base.path) == base
    assert [p.name for p in (tmp_path / ".bases").iterdir() if not p.name.startswith(".")] == [
        base.path.name
    ]


def test_equal_content_is_stored_once(tmp_path: Path) -> None:
    first = bases.adopt(written(tmp_path, b"same" * 1000), Format.RAW_DISK, tmp_path)
    second = bases.adopt(written(tmp_path, b"same" * 1000), Format.RAW_DISK, tmp_path)
    assert first == second
    assert bases.all_bases(tmp_path) == [first]


def test_a_write_to_a_base_is_found_and_named(tmp_path: Path) -> None:
    base = bases.adopt(written(tmp_path, os.urandom(65536)), Format.RAW_DISK, tmp_path)
    bases.verify(base)
    time.sleep(0.02)  # file times are kept at the kernel's clock tick (a few ms)
    with base.path.open("r+b") as stream:
        stream.seek(100)
        stream.write(b"rot")
    with pytest.raises(bases.CorruptBaseError, match=f"base {base.path.name} is corrupted"):
        bases.verify(base)


def test_a_change_that_keeps_the_mtime_is_found_by_a_full_check_only(tmp_path: Path) -> None:
    base = bases.adopt(written(tmp_path, os.urandom(65536)), Format.RAW_DISK, tmp_path)
    before = base.path.stat()
    with base.path.open("r+b") as stream:
        stream.write(b"rot")
    os.utime(base.path, ns=(before.st_atime_ns, before.st_mtime_ns))
    bases.verify(base)  # the quick check trusts an unchanged inode, size and mtime
    with pytest.raises(bases.CorruptBaseError):
        bases.verify(base, full=True)


def test_a_link_points_at_the_base_and_a_qcow2_overlay_names_it(tmp_path: Path) -> None:
    base = bases.adopt(written(tmp_path, bytes(1 << 20)), Format.RAW_DISK, tmp_path)
    name = tmp_path / "golden.img"
    bases.link(name, base, replace=False)
    assert os.readlink(name) == ".bases/" + base.path.name
    assert bases.of_image(name) == base
    overlay = tmp_path / "slot.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base.path),
                    str(overlay)], check=True)  # fmt: skip
    assert bases.backing_file(overlay) == base.path
    assert bases.backing_file(name) is None  # a raw file has no backing file
