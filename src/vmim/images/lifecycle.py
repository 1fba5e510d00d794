"""Which slots use which base, and removing images and bases without breaking a slot.

A qcow2 slot reads its base for as long as its overlay exists, so a base is
"in use" while an overlay of one of the configured slots names it as its
backing file. Only the slots of the loaded configuration are known: a store
shared by several configurations needs ``gc`` run with care (README says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from vmim import atomic
from vmim.config import Config
from vmim.errors import OperationError
from vmim.images import bases
from vmim.images.store import Image, Store


@dataclass(frozen=True)
class Removed:
    name: str
    paths: list[str]
    message: str


@dataclass(frozen=True)
class Collected:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    freed: int = 0
    dry_run: bool = False
    message: str = ""


def base_users(cfg: Config) -> dict[Path, list[str]]:
    """Base path -> the slots whose overlay reads it."""
    users: dict[Path, list[str]] = {}
    for slot in cfg.slots.values():
        if slot.store_type != "qcow2" or slot.hostdisk is None:
            continue
        backing = bases.backing_file(slot.hostdisk)
        if backing is not None:
            users.setdefault(backing, []).append(slot.name)
    return users


def _named(store: Store) -> dict[Path, list[Path]]:
    """Base path -> the store entries (image names) that point at it."""
    named: dict[Path, list[Path]] = {}
    for entry in store.paths():
        base = bases.of_image(entry)
        if base is not None:
            named.setdefault(base.path, []).append(entry)
    return named


def describe(cfg: Config, store: Store) -> list[Image]:
    """The store's images with their base and users, then bases that no name points at."""
    if store.root is None:
        return []
    users = base_users(cfg)
    found = []
    named = set()
    for image in store.all():
        base = bases.of_image(image.path)
        if base is None:
            found.append(image)
            continue
        named.add(base.path)
        found.append(replace(image, base=base.short, used_by=users.get(base.path, [])))
    for base in bases.all_bases(store.root):
        if base.path not in named:
            unnamed = replace(store.describe(base.path), name=base.short, kind="base")
            found.append(
                replace(unnamed, format=base.format.value, base=base.short,
                        used_by=users.get(base.path, []))
            )  # fmt: skip
    return found


def remove(cfg: Config, store: Store, name: str) -> Removed:
    """Remove image ``name``; refused while a slot's overlay reads the base it names."""
    path = store.find(name)
    base = bases.of_image(path)
    if base is None:
        atomic.remove(path)
        atomic.fsync_dir(path.parent)
        return Removed(name, [str(path)], f"removed {store.kind} {name}")
    with bases.guarded(base.path.parent, exclusive=True):
        return _remove_base_name(cfg, store, name, path, base)


def _remove_base_name(
    cfg: Config, store: Store, name: str, path: Path, base: bases.Base
) -> Removed:
    others = [p for p in _named(store).get(base.path, []) if p != path]
    slots = base_users(cfg).get(base.path, [])
    if slots and not others:
        raise OperationError(
            f"image '{name}' is in use: slot(s) {', '.join(sorted(slots))} are overlays "
            f"on its base {base.path.name}",
            "deploy other images into them first, then remove it",
        )
    atomic.remove(path)
    atomic.fsync_dir(path.parent)
    return Removed(
        name, [str(path)], f"removed {store.kind} {name} (its base goes at the next 'vmim gc')"
    )


def gc(cfg: Config, store: Store, dry_run: bool = False) -> Collected:
    """Delete bases no name points at and no slot reads, and temporary files of dead writers."""
    if store.root is None or not store.root.is_dir():
        return Collected(dry_run=dry_run, message="nothing to collect")
    with bases.guarded(bases.folder(store.root), exclusive=True):
        return _collect(cfg, store, store.root, dry_run)


def _collect(cfg: Config, store: Store, root: Path, dry_run: bool) -> Collected:
    named = _named(store)
    users = base_users(cfg)
    removed: list[str] = []
    kept: list[str] = []
    freed = 0
    folder = bases.folder(root)
    garbage = atomic.stale_temps(root) + atomic.stale_temps(folder)
    for base in bases.all_bases(root):
        if base.path in named or base.path in users:
            kept.append(base.path.name)
        else:
            garbage.append(base.path)
    for path in garbage:
        try:
            freed += path.lstat().st_blocks * 512
        except OSError:
            continue
        removed.append(str(path))
        if not dry_run:
            atomic.remove(path)
            bases.forget(path)
    if removed and not dry_run:
        atomic.fsync_dir(folder if folder.is_dir() else root)
    verb = "would free" if dry_run else "freed"
    return Collected(
        removed=removed,
        kept=kept,
        freed=freed,
        dry_run=dry_run,
        message=f"{len(removed)} unreferenced file(s), {verb} {freed} bytes; "
        f"{len(kept)} base(s) in use",
    )


def verify_all(store: Store) -> list[tuple[str, str | None]]:
    """Re-read every base; (base file name, error or None)."""
    results: list[tuple[str, str | None]] = []
    if store.root is None:
        return results
    for base in bases.all_bases(store.root):
        try:
            bases.verify(base, full=True)
        except OperationError as error:
            results.append((base.path.name, error.message))
        else:
            results.append((base.path.name, None))
    return results
