"""Per-slot records in the state directory: what was deployed, and unfinished work.

A deploy writes its step before doing it, so a process killed in the middle
leaves a record that says the slot is dirty and what may still be mounted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vmim import atomic


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SlotRecord:
    image: str | None = None
    image_id: str | None = None  # device:inode of the image; a replaced image gets a new one
    deployed_at: str | None = None
    inserts: list[str] = field(default_factory=list)
    step: str | None = None  # the step under way; None when the last operation finished
    dirty: bool = False  # the slot's disk may hold a half-restored tree
    operation: str | None = None
    since: str | None = None


def record_path(statedir: Path, slot: str) -> Path:
    return statedir / "slots" / f"{slot}.json"


def load(statedir: Path, slot: str) -> SlotRecord:
    path = record_path(statedir, slot)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SlotRecord()
    except (OSError, ValueError):
        # An unreadable record is treated as unfinished work: the safe reading.
        return SlotRecord(dirty=True, step="unknown")
    known = {k: v for k, v in data.items() if k in SlotRecord.__dataclass_fields__}
    return SlotRecord(**known)


def save(statedir: Path, slot: str, record: SlotRecord) -> None:
    atomic.write_text(record_path(statedir, slot), json.dumps(asdict(record), indent=2) + "\n")


def image_id(path: Path) -> str:
    info = path.stat()
    return f"{info.st_dev}:{info.st_ino}"
