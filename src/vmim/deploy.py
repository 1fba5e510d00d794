"""The redeploy pipeline and the disk verbs it is made of.

``deploy`` runs stop -> mount -> restore -> inserts -> release -> start, in that
order and never another, under the slot's lease. Each step is written to the
slot's record before it runs, so a process killed midway leaves the slot
marked dirty, and the next ``release`` or ``deploy`` undoes its mounts.
The disk is released whatever happens: a failed deploy never leaves a slot
mounted, and never starts it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from vmim import atomic, state
from vmim.config import SlotConfig
from vmim.disks import Disk, disk_for
from vmim.domainxml import console_log
from vmim.errors import OperationError, StateError, UsageError, VmimError
from vmim.images import bases, trees
from vmim.images.formats import Format, detect, writable
from vmim.images.store import Store
from vmim.progress import Meter, qemu_img_parser
from vmim.run import run, run_metered

if TYPE_CHECKING:
    from vmim.api import Manager

log = logging.getLogger(__name__)

DEFAULT_READY_PATTERN = r"vmim-guest: ready"


@dataclass
class Step:
    name: str
    seconds: float


@dataclass
class DeployResult:
    slot: str
    image: str
    format: str
    inserts: list[str]
    state: str
    steps: list[Step] = field(default_factory=list)
    ready: str | None = None
    message: str = ""


@dataclass(frozen=True)
class DiskResult:
    slot: str
    action: str
    mountpoint: str
    changed: bool
    details: list[str]
    message: str


@dataclass(frozen=True)
class StoreResult:
    slot: str
    name: str
    path: str
    format: str
    size: int
    replaced: bool
    message: str


class _Timer:
    def __init__(self) -> None:
        self.steps: list[Step] = []

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps.append(Step(name, round(time.monotonic() - started, 3)))


def _require_stopped(manager: Manager, slot: SlotConfig, doing: str) -> None:
    current = manager.state(slot)
    if current.active:
        raise StateError(
            f"slot '{slot.name}' is {current.value}: cannot {doing} while its domain runs",
            f"run 'vmim down {slot.name}' first",
        )


@contextlib.contextmanager
def _mounted(disk: Disk) -> Iterator[Path]:
    """The slot's tree, mounted for the block; left as found (mounted or not) afterwards."""
    was_mounted = disk.is_mounted()
    mountpoint = disk.mount()
    try:
        yield mountpoint
    finally:
        if not was_mounted:
            disk.release()


def mount(manager: Manager, slot: SlotConfig) -> DiskResult:
    disk = disk_for(slot, manager.config.statedir)
    with manager.lease(slot):
        if disk.is_mounted():
            return DiskResult(
                slot.name,
                "mount",
                str(disk.mountpoint),
                False,
                [],
                f"{slot.name}: already mounted at {disk.mountpoint}",
            )
        _require_stopped(manager, slot, "mount its disk")
        disk.mount()
    return DiskResult(
        slot.name,
        "mount",
        str(disk.mountpoint),
        True,
        [disk.describe()],
        f"{slot.name}: mounted {disk.describe()} at {disk.mountpoint}",
    )


def release(manager: Manager, slot: SlotConfig) -> DiskResult:
    disk = disk_for(slot, manager.config.statedir)
    with manager.lease(slot):
        done = disk.release()
    message = "; ".join(done) if done else "nothing mounted"
    return DiskResult(
        slot.name, "release", str(disk.mountpoint), bool(done), done, f"{slot.name}: {message}"
    )


def insert(
    manager: Manager, slot: SlotConfig, names: Sequence[str], meter: Meter | None = None
) -> DiskResult:
    paths = [manager.inserts.find(n) for n in names]
    disk = disk_for(slot, manager.config.statedir)
    with manager.lease(slot):
        _require_stopped(manager, slot, "insert into it")
        with _mounted(disk) as mountpoint:
            for path in paths:
                trees.lay_over(path, mountpoint, meter)
        record = state.load(manager.config.statedir, slot.name)
        record.inserts = [*record.inserts, *names]
        state.save(manager.config.statedir, slot.name, record)
    return DiskResult(
        slot.name,
        "insert",
        str(disk.mountpoint),
        True,
        list(names),
        f"{slot.name}: inserted {', '.join(names)}",
    )


def store(
    manager: Manager,
    slot: SlotConfig,
    name: str,
    fmt_name: str | None = None,
    force: bool = False,
    meter: Meter | None = None,
    compress: bool = False,
) -> StoreResult:
    disk = disk_for(slot, manager.config.statedir)
    if fmt_name is None:
        # A qcow2 slot's natural image is a new base: flattening it is one sequential copy.
        fmt_name = "qcow2" if disk.needs_base else "tar.zst"
    fmt = writable(fmt_name, disks=True)
    if fmt.is_disk:
        return _save_disk(manager, slot, disk, name, fmt, force, compress, meter)
    if compress:
        raise UsageError("--compress is for qcow2 images", "tar.zst and tar.gz are compressed")
    return _save(
        manager, slot, manager.images, name, fmt, PurePosixPath("."), force, "store", meter
    )


def _save_disk(
    manager: Manager,
    slot: SlotConfig,
    disk: Disk,
    name: str,
    fmt: Format,
    force: bool,
    compress: bool,
    meter: Meter | None,
) -> StoreResult:
    """Flatten the slot's whole disk into a new base image and point ``name`` at it."""
    source = disk.disk_file()
    if source is None:
        raise UsageError(
            f"slot '{slot.name}' ({slot.store_type}) has no disk file to save as a "
            f"{fmt.value} image",
            "store its tree instead: --format tar.zst",
        )
    if compress and fmt != Format.QCOW2:
        raise UsageError("--compress is for qcow2 images", "add --format qcow2")
    target = manager.images.target(name, fmt)
    store_root = target.parent
    others = manager.images.claim(name, force)
    with manager.lease(slot):
        _require_stopped(manager, slot, "store from it")
        if not source.exists():
            raise OperationError(
                f"slot '{slot.name}': {source} does not exist", "deploy an image into it first"
            )
        # A mounted qcow2 slot is held open (and locked) by its raw view.
        disk.release()
        scratch = bases.scratch(store_root, name)
        try:
            out_fmt = "qcow2" if fmt == Format.QCOW2 else "raw"
            convert: list[str | Path] = [
                "qemu-img", "convert", "-f", disk.domain_format(), "-O", out_fmt,
                *(["-c"] if compress else []), source, scratch,
            ]  # fmt: skip
            if meter is None:
                run(convert, timeout=None)
            else:
                size = bases.virtual_size(source)
                run_metered([*convert[:2], "-p", *convert[2:]], meter, size,
                            parse=qemu_img_parser(size))  # fmt: skip
            base = bases.publish(scratch, fmt, store_root, target, meter)
        finally:
            scratch.unlink(missing_ok=True)
    manager.images.drop_replaced(others, target)
    return StoreResult(
        slot.name,
        name,
        str(target),
        fmt.value,
        base.path.stat().st_size,
        bool(others),
        f"{slot.name}: {'replaced' if others else 'stored'} image {name} "
        f"({fmt.value} base {base.short}) at {target}",
    )


def extract(
    manager: Manager,
    slot: SlotConfig,
    path: str,
    name: str,
    fmt_name: str = "tar.zst",
    force: bool = False,
    meter: Meter | None = None,
) -> StoreResult:
    fmt = writable(fmt_name)
    inside = PurePosixPath(path)
    if not inside.is_absolute() or ".." in inside.parts:
        raise UsageError(f"extract path {path!r} must be absolute, without '..'", "e.g. /usr/local")
    relative = inside.relative_to("/") if inside != PurePosixPath("/") else PurePosixPath(".")
    return _save(manager, slot, manager.inserts, name, fmt, relative, force, "extract", meter)


def _save(
    manager: Manager,
    slot: SlotConfig,
    store_: Store,
    name: str,
    fmt: Format,
    inside: PurePosixPath,
    force: bool,
    action: str,
    meter: Meter | None = None,
) -> StoreResult:
    target = store_.target(name, fmt)
    others = store_.claim(name, force)
    disk = disk_for(slot, manager.config.statedir)
    with manager.lease(slot):
        _require_stopped(manager, slot, f"{action} from it")
        for stale in atomic.stale_temps(target.parent):
            atomic.remove(stale)
        with _mounted(disk) as mountpoint, atomic.publishing(target, replace=force) as temp:
            trees.capture(mountpoint, inside, fmt, temp, meter)
    store_.drop_replaced(others, target)
    size = store_.describe(target).size
    return StoreResult(
        slot.name,
        name,
        str(target),
        fmt.value,
        size,
        bool(others),
        f"{slot.name}: {'replaced' if others else 'stored'} {store_.kind} "
        f"{name} ({fmt.value}, {size} bytes) at {target}",
    )


def deploy(
    manager: Manager,
    slot: SlotConfig,
    image: str,
    inserts: Sequence[str] = (),
    up: bool = False,
    wait_ready: bool = False,
    timeout: float | None = None,
    ready_timeout: float = 300.0,
    meter: Meter | None = None,
) -> DeployResult:
    # Everything that can be checked is checked before the slot is touched.
    image_path = manager.images.find(image)
    fmt = detect(image_path)
    insert_paths = [manager.inserts.find(n) for n in inserts]
    if wait_ready and not up:
        raise UsageError("--wait-ready needs --up")
    statedir = manager.config.statedir
    disk = disk_for(slot, statedir)
    if not disk.accepts(fmt):
        raise UsageError(
            f"image '{image}' is a {fmt.value} image; slot '{slot.name}' ({slot.store_type}) "
            + ("restores trees" if not disk.accepts(Format.RAW_DISK) else "cannot take it"),
            "deploy disk images into qcow2 or reflink slots (reflink: raw only), "
            "trees anywhere; 'vmim export' makes a tree of a disk image",
        )
    if fmt.is_disk:
        base = bases.of_image(image_path)
        if base is not None:
            bases.verify(base, meter=meter)
        elif disk.needs_base:
            raise UsageError(
                f"image '{image}' ({image_path}) is not a base image; a {slot.store_type} "
                "slot is an overlay on an image that must never change",
                f"make it one: vmim import {image} --from {image_path} --force",
            )
    for name, path in zip(inserts, insert_paths, strict=True):
        if detect(path).is_disk:
            raise UsageError(f"insert '{name}' is a disk image; inserts are trees")
    timer = _Timer()
    with manager.lease(slot):
        with timer.step("stop"):
            manager._down(slot, timeout, force=True)
        record = state.load(statedir, slot.name)
        identity = state.image_id(image_path)
        quick = not record.dirty and record.image_id == identity and not record.inserts
        record.dirty, record.operation, record.since = True, f"deploy {image}", state.now()
        try:
            with timer.step("restore"):
                _record_step(statedir, slot, record, "restore")
                disk.release()  # whatever an earlier crash left
                disk.restore(image_path, quick=quick, meter=meter)
            for name, path in zip(inserts, insert_paths, strict=True):
                with timer.step(f"insert {name}"):
                    _record_step(statedir, slot, record, f"insert {name}")
                    trees.lay_over(path, disk.mount(), meter)
            _record_step(statedir, slot, record, "release")
        except VmimError as error:
            failed_at = record.step
            _release_quietly(disk)
            raise OperationError(
                f"deploy of '{image}' into slot '{slot.name}' failed at {failed_at}: "
                f"{error.message}",
                "the slot is marked dirty and released; deploy again to recover"
                + (f" ({error.hint})" if error.hint else ""),
            ) from error
        except BaseException:
            _release_quietly(disk)
            raise
        with timer.step("release"):
            disk.release()
        state.save(
            statedir,
            slot.name,
            state.SlotRecord(
                image=image, image_id=identity, deployed_at=state.now(), inserts=list(inserts)
            ),
        )
        ready = None
        if up:
            with timer.step("start"):
                console = _clear_console(slot, statedir) if wait_ready else None
                manager._up(slot, force=False)
            if console is not None:
                with timer.step("ready"):
                    ready = _wait_ready(slot, console, ready_timeout)
        after = manager.state(slot).value
    return DeployResult(
        slot.name,
        image,
        fmt.value,
        list(inserts),
        after,
        timer.steps,
        ready,
        f"{slot.name}: deployed {image}" + (" and started" if up else ""),
    )


def _record_step(statedir: Path, slot: SlotConfig, record: state.SlotRecord, step: str) -> None:
    record.step = step
    state.save(statedir, slot.name, record)


def _release_quietly(disk: Disk) -> None:
    """Release after a failure; a second failure is logged, never hides the first."""
    try:
        disk.release()
    except VmimError as error:
        log.error("%s: could not release the disk after a failure: %s", disk.slot.name, error)


def _clear_console(slot: SlotConfig, statedir: Path) -> Path:
    console = console_log(slot, statedir)
    # An old boot's "ready" must not count for this one.
    console.unlink(missing_ok=True)
    return console


def _wait_ready(slot: SlotConfig, console: Path, timeout: float) -> str:
    pattern = re.compile(slot.ready_pattern or DEFAULT_READY_PATTERN)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = console.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            if pattern.search(line):
                return line.strip()
        time.sleep(0.05)
    raise OperationError(
        f"slot '{slot.name}' did not print /{pattern.pattern}/ on its console ({console}) "
        f"within {timeout:g} s",
        "the guest is left running; see its console log",
    )
