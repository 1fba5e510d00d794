"""Per-slot leases, exercised with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vmim import locking
from vmim.errors import SlotLockedError

HOLD = """
import sys, time
from pathlib import Path
from vmim import locking
with locking.lease(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def hold(statedir: Path, slot: str, seconds: float) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(statedir), slot, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_free_slot_has_no_holder(tmp_path: Path) -> None:
    assert locking.holder(tmp_path, "s1") is None
    with locking.lease(tmp_path, "s1") as me:
        assert me.pid == os.getpid()
    assert locking.holder(tmp_path, "s1") is None


def test_a_held_slot_names_its_holder_and_refuses_others(tmp_path: Path) -> None:
    child = hold(tmp_path, "s1", 30)
    try:
        holder = locking.holder(tmp_path, "s1")
        assert holder is not None
        assert holder.pid == child.pid
        assert holder.command.endswith("s1 30")
        with pytest.raises(SlotLockedError, match=f"slot 's1' is locked by pid {child.pid}") as err:
            with locking.lease(tmp_path, "s1"):
                pass
        assert err.value.exit_code == 3
        with locking.lease(tmp_path, "s2"):  # other slots are independent
            pass
    finally:
        child.kill()
        child.wait()


def test_wait_gets_the_slot_when_the_holder_finishes(tmp_path: Path) -> None:
    child = hold(tmp_path, "s1", 1.0)
    started = time.monotonic()
    with locking.lease(tmp_path, "s1", wait=20):
        waited = time.monotonic() - started
    child.wait()
    assert 0.3 < waited < 15


def test_wait_gives_up_after_its_time(tmp_path: Path) -> None:
    child = hold(tmp_path, "s1", 30)
    try:
        with (
            pytest.raises(SlotLockedError, match="after waiting 0.3 s"),
            locking.lease(tmp_path, "s1", wait=0.3),
        ):
            pass
    finally:
        child.kill()
        child.wait()


def test_a_sigkilled_holder_frees_the_slot_at_once(tmp_path: Path) -> None:
    child = hold(tmp_path, "s1", 60)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert locking.holder(tmp_path, "s1") is None
    with locking.lease(tmp_path, "s1"):
        pass


RACE = """
import sys
from pathlib import Path
from vmim import locking
state, counter = Path(sys.argv[1]), Path(sys.argv[2])
for _ in range(20):
    with locking.lease(state, "s1", wait=60):
        value = int(counter.read_text())
        counter.write_text(str(value + 1))
"""


def test_leases_serialise_concurrent_processes(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    children = [
        subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path), str(counter)])
        for _ in range(8)
    ]
    assert [c.wait(timeout=120) for c in children] == [0] * 8
    assert counter.read_text() == "160"


def test_unwritable_statedir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(Exception, match="cannot open the lock for slot 's1'"):
        with locking.lease(blocker / "state", "s1"):
            pass
