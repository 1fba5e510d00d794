"""Turning a disk image back into a tree archive, so one image serves every kind of slot."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from vmim import atomic, mounts
from vmim.deploy import StoreResult
from vmim.disks import rawview
from vmim.disks.image import Extent, loop_mount, partitions
from vmim.errors import UsageError
from vmim.images import bases, trees
from vmim.images.formats import Format, detect, writable
from vmim.progress import Meter
from vmim.run import run

if TYPE_CHECKING:
    from vmim.api import Manager


def _extent(raw: Path, image: str, partition: int | None) -> Extent:
    table = partitions(raw)
    if partition is None:
        if not table:
            return Extent(offset=0, size=None)
        if len(table) == 1:
            return next(iter(table.values()))
        raise UsageError(
            f"image '{image}' has {len(table)} partitions "
            f"({', '.join(str(n) for n in sorted(table))})",
            "name the root filesystem's with --partition N",
        )
    if partition not in table:
        have = ", ".join(str(n) for n in sorted(table)) or "none"
        raise UsageError(
            f"image '{image}' has no partition {partition} (partitions: {have})",
            "leave out --partition for a whole-disk filesystem",
        )
    return table[partition]


@contextlib.contextmanager
def mounted_read_only(
    path: Path, fmt: Format, image: str, partition: int | None, workdir: Path
) -> Iterator[Path]:
    """The filesystem of disk image ``path``, mounted read-only for the block."""
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if fmt == Format.QCOW2:
            raw = stack.enter_context(rawview.served(path, "qcow2", workdir, writable=False))
        else:
            raw = path
        extent = _extent(raw, image, partition)
        mountpoint = Path(tempfile.mkdtemp(prefix="export-", dir=workdir))
        stack.callback(mountpoint.rmdir)
        loop_mount(raw, extent, mountpoint, read_only=True)
        try:
            yield mountpoint
        finally:
            while mounts.mount_at(mountpoint) is not None:
                run(["umount", mountpoint], timeout=300)


def export_image(
    manager: Manager,
    image: str,
    name: str,
    fmt_name: str = "tar.zst",
    partition: int | None = None,
    force: bool = False,
    meter: Meter | None = None,
) -> StoreResult:
    """Write the tree inside disk image ``image`` as image ``name`` (an archive or directory)."""
    store_ = manager.images
    path = store_.find(image)
    fmt = detect(path)
    if not fmt.is_disk:
        raise UsageError(f"image '{image}' is a {fmt.value} image already, not a disk image")
    out = writable(fmt_name)
    target = store_.target(name, out)
    others = store_.claim(name, force)
    base = bases.of_image(path)
    if base is not None:
        bases.verify(base)
    workdir = manager.config.statedir / "mnt"
    with (
        mounted_read_only(path, fmt, image, partition, workdir) as tree,
        atomic.publishing(target, replace=force) as temp,
    ):
        trees.capture(tree, PurePosixPath("."), out, temp, meter)
    store_.drop_replaced(others, target)
    size = store_.describe(target).size
    return StoreResult(
        "",
        name,
        str(target),
        out.value,
        size,
        bool(others),
        f"exported {image} as {name} ({out.value}, {size} bytes) at {target}",
    )
