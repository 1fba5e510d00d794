"""Moving trees between images and a mounted slot: restore, lay over, capture.

Every copy keeps numeric owners, modes, hard links, symlinks, device nodes,
ACLs and extended attributes, and never writes outside the slot's tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO

from vmim.errors import OperationError
from vmim.images.formats import Format, detect
from vmim.progress import Meter
from vmim.run import pipeline, run, run_metered

# --sparse: a sparse file (a preallocated swap or database file) stays sparse in the slot.
RSYNC = ["rsync", "-aHAX", "--numeric-ids", "--sparse"]
TAR_KEEP = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls"]
KEEP_AT_ROOT = "lost+found"


def _rsync(argv: list[str], meter: Meter | None) -> None:
    if meter is None:
        run(argv, timeout=None)
    else:
        run_metered(argv, meter)


def decompressor(fmt: Format, path: Path) -> list[str]:
    """argv that writes the decompressed archive to stdout."""
    program = fmt.compression
    if program is None:
        return ["cat", str(path)]
    if program == "gzip" and shutil.which("pigz"):
        program = "pigz"
    return [program, "-dc", str(path)]


def compressor(fmt: Format) -> tuple[list[str], dict[str, str]]:
    if fmt == Format.TAR_ZST:
        return ["zstd", "-q", "-T0", "-3", "-c"], {}
    if fmt == Format.TAR_GZ:
        return (["pigz", "-c"] if shutil.which("pigz") else ["gzip", "-c"]), {}
    raise OperationError(f"cannot write {fmt.value} archives")


def empty(mountpoint: Path) -> None:
    """Remove everything in the slot's filesystem except /lost+found, dotfiles too."""
    doomed = [e.path for e in os.scandir(mountpoint) if e.name != KEEP_AT_ROOT]
    if doomed:
        run(["rm", "-rf", "--one-file-system", "--", *doomed], timeout=None)


def restore(
    image: Path, mountpoint: Path, quick: bool = False, meter: Meter | None = None
) -> Format:
    """Make the slot's tree equal to ``image``.

    ``quick``: the slot holds this very image already, changed only by its guest, so
    rsync may skip files whose size and mtime match. Two different images can hold
    files of equal size and mtime but other content (reproducible builds clamp
    mtimes), so any other restore compares content (--checksum).
    """
    fmt = detect(image)
    if fmt == Format.DIRECTORY:
        compare = [] if quick else ["--checksum"]
        # P protects the slot's own lost+found from --delete.
        _rsync(
            [*RSYNC, "--delete", *compare, "--filter=P /lost+found", f"{image}/", f"{mountpoint}/"],
            meter,
        )
    elif fmt.is_disk:
        raise OperationError(f"{image} is a {fmt.value} image, not a tree")
    else:
        empty(mountpoint)
        extract_archive(image, fmt, mountpoint, meter)
    return fmt


def extract_archive(
    archive: Path, fmt: Format, mountpoint: Path, meter: Meter | None = None
) -> None:
    total = archive.stat().st_size
    if fmt.is_tar:
        pipeline(
            decompressor(fmt, archive),
            ["tar", "-x", "-p", *TAR_KEEP, "-f", "-", "-C", str(mountpoint)],
            meter=meter,
            total=total,
        )
    elif fmt.is_cpio:
        pipeline(
            decompressor(fmt, archive),
            ["cpio", "-i", "-d", "-m", "-u", "--no-absolute-filenames", "--quiet"],
            consumer_cwd=mountpoint,
            meter=meter,
            total=total,
        )
    else:
        raise OperationError(f"{archive}: cannot extract a {fmt.value}")


def lay_over(insert: Path, mountpoint: Path, meter: Meter | None = None) -> Format:
    """Copy ``insert`` over the slot's tree without deleting anything."""
    fmt = detect(insert)
    if fmt == Format.DIRECTORY:
        _rsync([*RSYNC, f"{insert}/", f"{mountpoint}/"], meter)
    elif fmt.is_tar:
        check_members(insert, fmt, mountpoint)
        extract_archive(insert, fmt, mountpoint, meter)
    else:
        raise OperationError(
            f"insert {insert}: {fmt.value} archives cannot be inserted",
            "use a directory or a tar archive",
        )
    return fmt


def capture(
    mountpoint: Path, inside: PurePosixPath, fmt: Format, dest: Path, meter: Meter | None = None
) -> None:
    """Save ``inside`` (relative to the slot's root) into ``dest`` as ``fmt``.

    Paths keep their place relative to the root (``usr/local/...``), so an insert of
    the result lands where it came from.
    """
    source = mountpoint / inside
    if not source.exists():
        raise OperationError(f"/{inside} does not exist in the slot's tree")
    if fmt == Format.DIRECTORY:
        dest.mkdir(parents=True)
        dest.chmod(0o755)
        # -R with "/./" keeps the path below that marker.
        _rsync([*RSYNC, "-R", f"{mountpoint}/./{inside}", f"{dest}/"], meter)
        return
    argv, env = compressor(fmt)
    pipeline(
        ["tar", "-c", *TAR_KEEP, "--sparse", "-f", "-", "-C", str(mountpoint), str(inside)],
        argv,
        env=env,
        output=dest,
        meter=meter,
        total=_used_bytes(mountpoint) if str(inside) == "." else None,
    )


def _used_bytes(mountpoint: Path) -> int:
    """What the whole filesystem holds: what tar will read of it, near enough for a bar."""
    info = os.statvfs(mountpoint)
    return (info.f_blocks - info.f_bfree) * info.f_frsize


def check_members(archive: Path, fmt: Format, mountpoint: Path) -> None:
    """Refuse an archive that would write outside the slot's tree, before writing anything."""
    root = Path(os.path.realpath(mountpoint))
    links: set[PurePosixPath] = set()
    with _tar_stream(archive, fmt) as stream:
        for member in stream:
            name = PurePosixPath(member.name)
            problem = _member_problem(name, member, links, root)
            if problem:
                raise OperationError(
                    f"insert {archive.name}: member '{member.name}' {problem}; nothing was written",
                    "fix the archive",
                )
            if member.issym():
                links.add(PurePosixPath(os.path.normpath(name)))


def _member_problem(
    name: PurePosixPath, member: tarfile.TarInfo, links: set[PurePosixPath], root: Path
) -> str | None:
    if name.is_absolute():
        return "has an absolute path"
    if ".." in name.parts:
        return "has '..' in its path"
    if member.islnk() and (member.linkname.startswith("/") or ".." in member.linkname.split("/")):
        return f"is a hard link to '{member.linkname}' outside the archive's tree"
    clean = PurePosixPath(os.path.normpath(name))
    for parent in list(clean.parents)[:-1]:
        if parent in links:
            return f"is reached through the symlink '{parent}' in the same archive"
        on_disk = root / parent
        if on_disk.is_symlink():
            target = Path(os.path.realpath(on_disk))
            if target != root and root not in target.parents:
                return (
                    f"is reached through the symlink /{parent} -> "
                    f"{on_disk.readlink()}, which points outside the slot's tree"
                )
    return None


class _tar_stream:
    """Iterate an archive's members in one pass, whatever its compression."""

    def __init__(self, archive: Path, fmt: Format) -> None:
        self.archive = archive
        self.fmt = fmt
        self.child: subprocess.Popen[bytes] | None = None
        self.tar: tarfile.TarFile | None = None

    def __enter__(self) -> tarfile.TarFile:
        source: IO[bytes]
        if self.fmt == Format.TAR_ZST:
            self.child = subprocess.Popen(
                decompressor(self.fmt, self.archive),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
            assert self.child.stdout is not None
            source, mode = self.child.stdout, "r|"
        else:
            source = self.archive.open("rb")
            mode = {Format.TAR_GZ: "r|gz", Format.TAR_BZ2: "r|bz2"}.get(self.fmt, "r|")
        try:
            self.tar = tarfile.open(fileobj=source, mode=mode)  # type: ignore[call-overload]
        except tarfile.TarError as exc:
            source.close()
            raise OperationError(f"{self.archive}: not a readable tar archive: {exc}") from None
        return self.tar

    def __exit__(self, *_exc: object) -> None:
        if self.tar is not None:
            fileobj = self.tar.fileobj
            self.tar.close()
            if fileobj is not None:
                fileobj.close()
        if self.child is not None:
            self.child.kill()
            self.child.wait()
