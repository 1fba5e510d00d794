"""Base images: disk images named by their content digest, never written after creation.

A disk image in the store is a name (``NAME.img`` or ``NAME.qcow2``) that is a
symbolic link to a base in the store's ``.bases`` folder, named
``sha256-<digest>.<raw|qcow2>``. qcow2 slots are overlays that read their base
for as long as they exist, so a base must never change: it is made read-only,
and its digest is checked before a slot is put on it. A full re-read of a big
base at every reset would cost what copy-on-write saves, so the check re-reads
the base only when its inode, size or modification time differ from those
recorded at the last check (any write through the filesystem changes them);
``vmim verify`` re-reads every byte, for corruption that bypasses the
filesystem.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vmim import atomic
from vmim.errors import OperationError, UsageError
from vmim.images.formats import Format
from vmim.progress import Meter

FOLDER = ".bases"
_CHECKED = ".checked"
_NAME = re.compile(r"^sha256-([0-9a-f]{64})\.(raw|qcow2)$")
_CHUNK = 4 << 20
# Parallel deploys of one image check its base once, not once per thread.
_VERIFYING = threading.Lock()
SUFFIX = {Format.RAW_DISK: ".raw", Format.QCOW2: ".qcow2"}


class CorruptBaseError(OperationError):
    """A base's bytes no longer match the digest in its name."""


@dataclass(frozen=True)
class Base:
    path: Path
    digest: str
    format: Format

    @property
    def short(self) -> str:
        return f"sha256:{self.digest[:12]}"


def folder(store_root: Path) -> Path:
    return store_root / FOLDER


@contextlib.contextmanager
def guarded(bases_folder: Path, exclusive: bool = False) -> Iterator[None]:
    """The bases folder's lock: shared to add a base or an overlay on one, exclusive to delete.

    Without it, ``gc`` could find a base unused, then delete it just after a deploy
    put a new overlay on it, or just before an import links its name to it.
    """
    bases_folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(bases_folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def parse(path: Path) -> Base | None:
    """The base at ``path`` (a name in a ``.bases`` folder), or None when it is not one."""
    match = _NAME.match(path.name)
    if match is None or path.parent.name != FOLDER:
        return None
    fmt = Format.RAW_DISK if match.group(2) == "raw" else Format.QCOW2
    return Base(path=path, digest=match.group(1), format=fmt)


def of_image(image: Path) -> Base | None:
    """The base a store entry points to, or None for a plain file or a tree."""
    if not image.is_symlink():
        return None
    return parse(Path(os.path.realpath(image)))


def all_bases(store_root: Path) -> list[Base]:
    found = []
    where = folder(store_root)
    if where.is_dir():
        for entry in sorted(where.iterdir()):
            base = parse(entry)
            if base is not None:
                found.append(base)
    return found


def digest(path: Path, meter: Meter | None = None) -> str:
    """sha256 of every byte of ``path``."""
    hasher = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    total = path.stat().st_size
    done = 0
    with path.open("rb", buffering=0) as stream:
        while count := stream.readinto(buffer):
            hasher.update(view[:count])
            done += count
            if meter is not None:
                meter(done, total)
    return hasher.hexdigest()


def _stamp(path: Path) -> str:
    info = path.stat()
    return f"{info.st_ino} {info.st_size} {info.st_mtime_ns}"


def _checked_file(base: Base) -> Path:
    return base.path.parent / _CHECKED / base.path.name


def forget(path: Path) -> None:
    """Drop what is recorded about the base at ``path`` (it is being deleted)."""
    (path.parent / _CHECKED / path.name).unlink(missing_ok=True)


def verify(base: Base, full: bool = False, meter: Meter | None = None) -> None:
    """Raise CorruptBaseError unless the base's bytes match its name."""
    with _VERIFYING:
        _verify(base, full, meter)


def _verify(base: Base, full: bool, meter: Meter | None) -> None:
    checked = _checked_file(base)
    if not base.path.exists():
        raise OperationError(
            f"base {base.path} is missing", "run 'vmim images' to see what is left"
        )
    current = _stamp(base.path)
    if not full:
        try:
            if checked.read_text(encoding="utf-8").strip() == current:
                return
        except OSError:
            pass
    found = digest(base.path, meter)
    if found != base.digest:
        checked.unlink(missing_ok=True)
        raise CorruptBaseError(
            f"base {base.path.name} is corrupted: its content digest is now sha256:{found[:12]}",
            "no slot is put on it; re-import or re-store the image, then 'vmim gc'",
        )
    atomic.write_text(checked, current + "\n")


def adopt(written: Path, fmt: Format, store_root: Path, meter: Meter | None = None) -> Base:
    """Turn a fully written file in the bases folder into a base named by its digest.

    ``written`` must be in :func:`folder` (a rename, no copy). When a base with the
    same content exists already, that one is kept and ``written`` is removed.
    """
    if fmt not in SUFFIX:
        raise UsageError(f"a base must be a raw or qcow2 disk image, not {fmt.value}")
    found = digest(written, meter)
    final = folder(store_root) / f"sha256-{found}{SUFFIX[fmt]}"
    base = Base(path=final, digest=found, format=fmt)
    if final.exists():
        written.unlink()
    else:
        written.chmod(0o444)
        with written.open("rb") as stream:
            os.fsync(stream.fileno())
        written.rename(final)
        atomic.fsync_dir(final.parent)
    atomic.write_text(_checked_file(base), _stamp(final) + "\n")
    return base


def publish(
    written: Path, fmt: Format, store_root: Path, name_path: Path, meter: Meter | None = None
) -> Base:
    """Adopt ``written`` as a base and point the store entry ``name_path`` at it.

    Under the bases folder's shared lock, so that ``gc`` never sees the base between
    the two steps, when no name points at it yet.
    """
    with guarded(folder(store_root)):
        base = adopt(written, fmt, store_root, meter)
        link(name_path, base, replace=name_path.exists() or name_path.is_symlink())
    return base


def link(name_path: Path, base: Base, replace: bool) -> None:
    """Make the store entry ``name_path`` point at ``base``, in one rename."""
    relative = os.path.relpath(base.path, name_path.parent)
    with atomic.publishing(name_path, replace=replace) as temp:
        temp.symlink_to(relative)


def scratch(store_root: Path, label: str) -> Path:
    """A temporary name in the bases folder for a base being written."""
    where = folder(store_root)
    where.mkdir(parents=True, exist_ok=True)
    for stale in atomic.stale_temps(where):
        atomic.remove(stale)
    return atomic.temp_name(where / label)


def backing_file(overlay: Path) -> Path | None:
    """The backing file named in a qcow2 header (offset 8: where, 16: length), or None.

    Read from the header directly: it is called for every slot on every listing,
    and ``qemu-img info`` costs a process each time.
    """
    try:
        with overlay.open("rb") as stream:
            header = stream.read(20)
            if len(header) < 20 or header[:4] != b"QFI\xfb":
                return None
            offset = int.from_bytes(header[8:16], "big")
            size = int.from_bytes(header[16:20], "big")
            if offset == 0 or size == 0 or size > 1023:
                return None
            stream.seek(offset)
            name = stream.read(size).decode("utf-8", errors="replace")
    except OSError:
        return None
    path = Path(name)
    if not path.is_absolute():
        path = overlay.parent / path
    return Path(os.path.realpath(path))


def virtual_size(disk: Path) -> int:
    """The guest-visible size of a raw or qcow2 disk (a qcow2 header holds it at offset 24)."""
    with disk.open("rb") as stream:
        header = stream.read(32)
    if header[:4] == b"QFI\xfb" and len(header) == 32:
        return int.from_bytes(header[24:32], "big")
    return disk.stat().st_size
