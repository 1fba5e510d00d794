"""Domain lifecycle through the API against libvirt's test driver."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import require_root, vmim
from vmim.api import Manager
from vmim.errors import ConfigError, SlotLockedError, StateError, UnknownSlotError


def states(manager: Manager) -> dict[str, str]:
    return {s.name: s.state for s in manager.status()}


def test_status_shows_each_domain_state(manager: Manager) -> None:
    manager.kill(["s2"])
    assert states(manager) == {"s1": "running", "s2": "shut off", "s3": "not defined"}
    s1 = manager.status(["s1"])[0]
    assert s1.uri.startswith("test://")
    assert s1.mounted is None
    assert s1.locked_by is None


def test_down_is_graceful_and_idempotent(manager: Manager) -> None:
    first = manager.down(["s1"])[0]
    assert (first.before, first.after, first.changed) == ("running", "shut off", True)
    assert first.message == "s1: shut down"
    again = manager.down(["s1"])[0]
    assert (again.changed, again.message) == (False, "s1: already shut off")
    undefined = manager.down(["s3"])[0]
    assert undefined.message == "s3: already not defined"


def test_up_starts_resumes_and_is_idempotent(manager: Manager) -> None:
    assert manager.up(["s1"])[0].message == "s1: already running"
    manager.kill(["s1"])
    started = manager.up(["s1"])[0]
    assert (started.before, started.after) == ("shut off", "running")
    dom = manager.hypervisor(manager.config.slot("s1"))._conn.lookupByName("s1")
    dom.suspend()
    assert states(manager)["s1"] == "paused"
    assert manager.up(["s1"])[0].message == "s1: resumed"
    assert states(manager)["s1"] == "running"


def test_up_on_an_undefined_slot_without_a_disk_says_what_is_missing(manager: Manager) -> None:
    # up defines a missing domain from the slot's template, which needs the slot's disk.
    with pytest.raises(
        ConfigError,
        match=r"vmim.cfg:\d+ \[vmim.vm.s3\]: slot 's3' has store_type "
        "partition but neither 'root' nor 'HostDisk'",
    ):
        manager.up(["s3"])
    assert states(manager)["s3"] == "not defined"


def test_down_resumes_a_paused_domain_first(manager: Manager) -> None:
    manager.hypervisor(manager.config.slot("s1"))._conn.lookupByName("s1").suspend()
    result = manager.down(["s1"])[0]
    assert (result.before, result.after) == ("paused", "shut off")


def test_kill_and_restart(manager: Manager) -> None:
    killed = manager.kill(["s1", "s2"])
    assert [r.message for r in killed] == ["s1: destroyed", "s2: destroyed"]
    assert manager.kill(["s1"])[0].message == "s1: already shut off"
    restarted = manager.restart(["s1"])[0]
    assert (restarted.before, restarted.after) == ("shut off", "running")
    assert states(manager)["s1"] == "running"


def test_unknown_slot_fails_before_any_work(manager: Manager) -> None:
    with pytest.raises(UnknownSlotError, match="known slots: s1, s2, s3"):
        manager.kill(["s1", "nope"])
    assert states(manager)["s1"] == "running"


def test_free_excludes_running_and_locked_slots(manager: Manager, host_config: Path) -> None:
    manager.kill(["s1", "s2"])
    assert [s.name for s in manager.free()] == ["s1", "s2", "s3"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from vmim import locking\nwith locking.lease(Path(sys.argv[1]), 's2'):\n"
            "    print('held', flush=True); time.sleep(30)",
            str(manager.config.statedir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert [s.name for s in manager.free()] == ["s1", "s3"]
        locked = manager.status(["s2"])[0].locked_by
        assert locked is not None and locked.pid == holder.pid
        with pytest.raises(SlotLockedError, match=f"pid {holder.pid}"):
            manager.up(["s2"])
        result = vmim("list", config=host_config)
        assert f"pid {holder.pid}" in result.stdout
    finally:
        holder.kill()
        holder.wait()


def test_up_refuses_while_the_disk_is_mounted(manager: Manager, tmp_path: Path) -> None:
    require_root()
    manager.kill(["s1"])
    mountpoint = tmp_path / "mnt" / "s1"
    mountpoint.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mountpoint)], check=True)
    try:
        assert manager.status(["s1"])[0].mounted == str(mountpoint)
        with pytest.raises(StateError, match="its disk is mounted on the host at"):
            manager.up(["s1"])
        assert states(manager)["s1"] == "shut off"
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
