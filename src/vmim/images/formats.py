"""Image formats, told from content (magic bytes), never from names or flags."""

from __future__ import annotations

import bz2
import gzip
import subprocess
from enum import StrEnum
from pathlib import Path

from vmim.errors import OperationError, UsageError


class Format(StrEnum):
    DIRECTORY = "directory"
    TAR = "tar"
    TAR_GZ = "tar.gz"
    TAR_ZST = "tar.zst"
    TAR_BZ2 = "tar.bz2"
    CPIO_BZ2 = "cpio.bz2"
    CPIO_GZ = "cpio.gz"
    CPIO = "cpio"
    RAW_DISK = "raw disk"
    QCOW2 = "qcow2"

    @property
    def is_disk(self) -> bool:
        """A block-level image: only copy-on-write slots take it as it is."""
        return self in (Format.RAW_DISK, Format.QCOW2)

    @property
    def is_tar(self) -> bool:
        return self.value.startswith("tar")

    @property
    def is_cpio(self) -> bool:
        return self.value.startswith("cpio")

    @property
    def compression(self) -> str | None:
        """The compressor program, or None."""
        return {"gz": "gzip", "zst": "zstd", "bz2": "bzip2"}.get(self.value.rsplit(".", 1)[-1])


# What vmim writes; "rsync" is the seed's name for a directory image.
WRITABLE = {
    "rsync": Format.DIRECTORY,
    "directory": Format.DIRECTORY,
    "tar.zst": Format.TAR_ZST,
    "tar.gz": Format.TAR_GZ,
    "tgz": Format.TAR_GZ,
}
# What ``store`` writes from a slot whose disk is a file: a new base image.
DISK_WRITABLE = {"qcow2": Format.QCOW2, "raw": Format.RAW_DISK}
SUFFIXES = (
    ".tar.zst",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz2",
    ".cpio.bz2",
    ".cpio.gz",
    ".tar",
    ".cpio",
    ".tzst",
    ".img",
    ".raw",
    ".qcow2",
)
SUFFIX_OF = {
    Format.TAR_ZST: ".tar.zst",
    Format.TAR_GZ: ".tar.gz",
    Format.DIRECTORY: "",
    Format.RAW_DISK: ".img",
    Format.QCOW2: ".qcow2",
}

_QCOW2 = b"QFI\xfb"
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_BZIP2 = b"BZh"
_PEEK = 1024
_DISK_PEEK = 0x10048


def _is_raw_disk(head: bytes) -> bool:
    """A partition table (MBR or GPT), or a filesystem from the first byte (ext, XFS, btrfs)."""
    mbr = len(head) >= 512 and head[510:512] == b"\x55\xaa"
    gpt = head[512:520] == b"EFI PART"
    ext = head[1080:1082] == b"\x53\xef"
    xfs = head[:4] == b"XFSB"
    btrfs = head[0x10040:0x10048] == b"_BHRfS_M"
    return mbr or gpt or ext or xfs or btrfs


def _inner_kind(head: bytes) -> str | None:
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head[:6] in (b"070701", b"070702", b"070707") or head[:2] in (b"\xc7\x71", b"\x71\xc7"):
        return "cpio"
    return None


def _zstd_head(path: Path) -> bytes:
    # Python 3.11 has no zstd module: read the first bytes through the zstd tool.
    with subprocess.Popen(
        ["zstd", "-dcq", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    ) as child:
        assert child.stdout is not None
        head = child.stdout.read(_PEEK)
        child.kill()
    return head


def detect(path: Path) -> Format:
    """The format of the image at ``path``; OperationError when it is none vmim reads."""
    if path.is_dir():
        return Format.DIRECTORY
    try:
        with path.open("rb") as stream:
            magic = stream.read(_DISK_PEEK)
        if magic.startswith(_QCOW2):
            return Format.QCOW2
        if magic.startswith(_GZIP):
            with gzip.open(path, "rb") as inner:
                head, outer = inner.read(_PEEK), "gz"
        elif magic.startswith(_ZSTD):
            head, outer = _zstd_head(path), "zst"
        elif magic.startswith(_BZIP2):
            with bz2.open(path, "rb") as inner:
                head, outer = inner.read(_PEEK), "bz2"
        elif _is_raw_disk(magic):
            return Format.RAW_DISK
        else:
            head, outer = magic[:_PEEK], ""
    except (OSError, EOFError, ValueError) as exc:
        raise OperationError(f"cannot read image {path}: {exc}") from None
    kind = _inner_kind(head)
    if kind is None:
        raise OperationError(
            f"{path}: unknown image format (not a directory, a tar or cpio archive "
            "compressed with gzip, zstd or bzip2, nor a disk image)"
        )
    try:
        return Format(f"{kind}.{outer}" if outer else kind)
    except ValueError:
        raise OperationError(
            f"{path}: {kind} archive compressed with {outer} is not supported"
        ) from None


def writable(name: str, disks: bool = False) -> Format:
    """The format named ``name``; disk formats only where ``disks`` (a slot's whole disk)."""
    known = {**WRITABLE, **DISK_WRITABLE} if disks else WRITABLE
    try:
        return known[name]
    except KeyError:
        if name in DISK_WRITABLE:
            raise UsageError(
                f"cannot write {name!r} here: only 'vmim store' of a slot whose disk is a "
                "file (qcow2, reflink, diskimage) writes disk images",
                f"choose one of: {', '.join(WRITABLE)}",
            ) from None
        raise UsageError(
            f"cannot write images as {name!r}", f"choose one of: {', '.join(known)}"
        ) from None
