"""The image store and the extracts store: named images, found and listed."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vmim import atomic
from vmim.atomic import TEMP_MARK
from vmim.errors import OperationError, UsageError
from vmim.images.formats import SUFFIX_OF, SUFFIXES, Format, detect


class UnknownImageError(UsageError):
    """No image (or insert) of that name."""


@dataclass(frozen=True)
class Image:
    name: str
    path: Path
    format: str  # a Format value, or "unknown"
    size: int
    modified: str
    kind: str  # "image", "insert", or "base" (a base no image name points at)
    base: str | None = None  # "sha256:<12 hex>" for an image that is a base
    used_by: list[str] = field(default_factory=list)  # slots whose overlay reads the base


def base_name(entry: str) -> str:
    for suffix in SUFFIXES:
        if entry.endswith(suffix) and len(entry) > len(suffix):
            return entry[: -len(suffix)]
    return entry


def tree_size(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                total += (Path(folder) / name).lstat().st_size
            except OSError:
                continue
    return total


def check_name(name: str, kind: str = "image") -> str:
    if not name or name.startswith(".") or "/" in name or "\0" in name:
        raise UsageError(f"{name!r} is not a usable {kind} name", "no '/', no leading '.'")
    return name


class Store:
    def __init__(self, root: Path | None, kind: str, key: str) -> None:
        self.root = root
        self.kind = kind
        self.key = key  # the config key that names this store, for messages

    def root_path(self) -> Path:
        """The store's folder, made when missing."""
        root = self._require_root()
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _require_root(self) -> Path:
        if self.root is None:
            raise UsageError(f"no {self.kind} store configured", f"set {self.key} in [vmim.local]")
        return self.root

    def _entries(self) -> list[Path]:
        root = self._require_root()
        if not root.is_dir():
            return []
        return sorted(
            p for p in root.iterdir() if not p.name.startswith(".") and TEMP_MARK not in p.name
        )

    def describe(self, path: Path) -> Image:
        try:
            fmt: str = detect(path).value
        except OperationError:
            fmt = "unknown"
        stat = path.stat()
        return Image(
            name=base_name(path.name) if not path.is_dir() else path.name,
            path=path,
            format=fmt,
            size=tree_size(path),
            modified=datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds"),
            kind=self.kind,
        )

    def all(self) -> list[Image]:
        return [self.describe(p) for p in self._entries()]

    def find(self, name: str) -> Path:
        """The path of ``name``: an exact entry, or the one whose name is ``name`` + a suffix."""
        root = self._require_root()
        exact = root / name
        if "/" not in name and (exact.exists() or exact.is_symlink()):
            return exact
        entries = self._entries()
        hits = [p for p in entries if base_name(p.name) == name]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise UsageError(
                f"{self.kind} name '{name}' is ambiguous in {root}: "
                + ", ".join(p.name for p in hits),
                "name the one you mean with its full file name",
            )
        names = sorted({base_name(p.name) for p in entries})
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"see 'vmim images' ({root})"
        raise UnknownImageError(f"no {self.kind} named '{name}' in {root}", hint)

    def target(self, name: str, fmt: Format) -> Path:
        """Where a new ``name`` in ``fmt`` goes."""
        root = self._require_root()
        root.mkdir(parents=True, exist_ok=True)
        return root / (check_name(name, self.kind) + SUFFIX_OF[fmt])

    def paths(self) -> list[Path]:
        """Every entry of the store, without looking inside (cheap, unlike ``all``)."""
        return self._entries()

    def existing(self, name: str) -> list[Path]:
        return [p for p in self._entries() if base_name(p.name) == name or p.name == name]

    def claim(self, name: str, force: bool) -> list[Path]:
        """The entries ``name`` already has (in any format); refused unless ``force``."""
        others = self.existing(name)
        if others and not force:
            raise OperationError(
                f"{self.kind} '{name}' exists already ({others[0]})", "add --force to replace it"
            )
        return others

    def drop_replaced(self, others: list[Path], target: Path) -> None:
        """Remove what ``claim`` found, now that ``target`` holds ``name`` in its new format."""
        for other in others:
            if other != target:
                atomic.remove(other)
