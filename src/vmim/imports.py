"""Bringing trees and archives into the image store, as they are or as disk images."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vmim import atomic
from vmim.deploy import StoreResult
from vmim.errors import UsageError
from vmim.images import bases, diskimage, trees
from vmim.images.formats import SUFFIXES, Format, detect
from vmim.images.store import check_name
from vmim.run import run

if TYPE_CHECKING:
    from vmim.api import Manager


def import_image(
    manager: Manager,
    name: str,
    source: Path,
    disk: bool = False,
    size: str = "4G",
    fs: str = "ext4",
    partitioned: bool = False,
    force: bool = False,
) -> StoreResult:
    """Bring a tree or an archive into the image store, as it is or as a disk image."""
    if not source.exists():
        raise UsageError(
            f"{source} does not exist", "--from takes a directory, an archive or a disk image"
        )
    store_ = manager.images
    fmt = Format.RAW_DISK if disk else detect(source)
    if fmt.is_disk:
        target = store_.target(name, fmt)
    else:
        target = store_.root_path() / (check_name(name) + _suffix(source, fmt))
    others = store_.claim(name, force)
    if fmt.is_disk:
        # Disk images become bases: written under a temporary name, named by digest.
        root = target.parent
        scratch = bases.scratch(root, name)
        try:
            if disk:
                with diskimage.tree_of(source) as tree:
                    diskimage.build(tree, scratch, diskimage.parse_size(size), fs, partitioned)
            else:
                run(["cp", "--reflink=auto", "--sparse=always", source, scratch], timeout=None)
            bases.publish(scratch, fmt, root, target)
        finally:
            scratch.unlink(missing_ok=True)
    else:
        with atomic.publishing(target, replace=force) as temp:
            if fmt == Format.DIRECTORY:
                temp.mkdir()
                temp.chmod(0o755)
                run([*trees.RSYNC, f"{source}/", f"{temp}/"], timeout=None)
            else:
                run(["cp", "--reflink=auto", "--sparse=always", source, temp], timeout=None)
    store_.drop_replaced(others, target)
    described = store_.describe(target)
    return StoreResult(
        "",
        name,
        str(target),
        described.format,
        described.size,
        bool(others),
        f"imported {name} ({described.format}, {described.size} bytes) at {target}",
    )


def _suffix(source: Path, fmt: Format) -> str:
    if fmt == Format.DIRECTORY:
        return ""
    for suffix in SUFFIXES:
        if source.name.endswith(suffix):
            return suffix
    return ""
