"""Boot the tiny guest under qemu:///system and drive it with the vmim command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import MakeHost
from tests.helpers import vmim
from vmim.testbed.guest import READY_LINE
from vmim.testbed.host import TestHost


def state(host: TestHost, slot: str) -> str:
    result = vmim("--json", "list", slot, config=host.config)
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["slots"][0]["state"])


def test_up_boots_the_guest_and_down_shuts_it_off_gracefully(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-up"], marker="image-A")
    assert state(host, "vmim-e2e-up") == "shut off"

    up = vmim("up", "vmim-e2e-up", config=host.config)
    assert (up.returncode, up.stdout) == (0, "vmim-e2e-up: started\n"), up.stderr
    console = host.wait_console("vmim-e2e-up")
    assert "vmim-guest: marker image-A" in console
    assert state(host, "vmim-e2e-up") == "running"

    again = vmim("up", "vmim-e2e-up", config=host.config)
    assert again.stdout == "vmim-e2e-up: already running\n"

    started = time.monotonic()
    down = vmim("down", "vmim-e2e-up", "--timeout", "60", config=host.config)
    took = time.monotonic() - started
    assert (down.returncode, down.stdout) == (0, "vmim-e2e-up: shut down\n"), down.stderr
    # The guest heard the ACPI power button and powered itself off: not destroyed.
    assert "vmim-guest: power button, powering off" in host.console("vmim-e2e-up")
    assert took < 30
    assert state(host, "vmim-e2e-up") == "shut off"

    idle = vmim("down", "vmim-e2e-up", config=host.config)
    assert (idle.returncode, idle.stdout) == (0, "vmim-e2e-up: already shut off\n")


def test_kill_destroys_a_running_guest(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-kill"])
    assert vmim("up", "vmim-e2e-kill", config=host.config).returncode == 0
    host.wait_console("vmim-e2e-kill")
    kill = vmim("kill", "vmim-e2e-kill", config=host.config)
    assert (kill.returncode, kill.stdout) == (0, "vmim-e2e-kill: destroyed\n")
    assert state(host, "vmim-e2e-kill") == "shut off"
    assert "power button" not in host.console("vmim-e2e-kill")


def test_the_seed_flags_start_and_kill_a_guest(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-seed"])
    seed_tool = Path(sys.executable).with_name("vmimagemanager")
    up = subprocess.run(
        [seed_tool, "-c", str(host.config), "-b", "vmim-e2e-seed", "-u"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (up.returncode, up.stdout) == (0, "vmim-e2e-seed: started\n"), up.stderr
    host.wait_console("vmim-e2e-seed")
    kill = subprocess.run(
        [seed_tool, "--config", str(host.config), "--box", "vmim-e2e-seed", "--kill"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (kill.returncode, kill.stdout) == (0, "vmim-e2e-seed: destroyed\n"), kill.stderr
    assert state(host, "vmim-e2e-seed") == "shut off"


def test_down_destroys_a_guest_that_ignores_the_button_unless_no_force(
    e2e_host: MakeHost,
) -> None:
    host = e2e_host(["vmim-e2e-deaf"], cmdline_extra="vmim.acpi=ignore")
    assert vmim("up", "vmim-e2e-deaf", config=host.config).returncode == 0
    host.wait_console("vmim-e2e-deaf")

    refused = vmim("down", "vmim-e2e-deaf", "--timeout", "2", "--no-force", config=host.config)
    assert refused.returncode == 1
    assert "did not shut down within 2 s" in refused.stderr
    assert state(host, "vmim-e2e-deaf") == "running"

    forced = vmim("down", "vmim-e2e-deaf", "--timeout", "2", config=host.config)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == "vmim-e2e-deaf: did not shut down within 2 s; destroyed\n"
    assert state(host, "vmim-e2e-deaf") == "shut off"


def test_restart_boots_the_guest_again(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-restart"])
    assert vmim("up", "vmim-e2e-restart", config=host.config).returncode == 0
    host.wait_console("vmim-e2e-restart")
    result = vmim("restart", "vmim-e2e-restart", config=host.config)
    assert result.returncode == 0, result.stderr
    # The console log starts anew at each boot (append='off'): a new boot reached ready.
    host.wait_console("vmim-e2e-restart", READY_LINE)
    assert "power button" not in host.console("vmim-e2e-restart")
    assert state(host, "vmim-e2e-restart") == "running"
    assert vmim("kill", "vmim-e2e-restart", config=host.config).returncode == 0


def _holding_down(host: TestHost, slot: str, timeout: str) -> subprocess.Popen[str]:
    """A vmim process that holds the slot's lease while it waits for a deaf guest."""
    child = subprocess.Popen(
        [sys.executable, "-m", "vmim", "--config", str(host.config), "down", slot,
         "--timeout", timeout, "--no-force"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listing = json.loads(vmim("--json", "list", slot, config=host.config).stdout)
        if listing["slots"][0]["locked_by"]:
            return child
        time.sleep(0.05)
    child.kill()
    raise AssertionError("the first vmim never took the lease")


def test_two_vmim_processes_on_one_slot(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-lock"], cmdline_extra="vmim.acpi=ignore")
    slot = "vmim-e2e-lock"
    assert vmim("up", slot, config=host.config).returncode == 0
    host.wait_console(slot)

    first = _holding_down(host, slot, "4")
    listing = json.loads(vmim("--json", "list", slot, config=host.config).stdout)
    holder = listing["slots"][0]["locked_by"]
    assert holder["pid"] == first.pid
    assert f"down {slot}" in holder["command"]

    second = vmim("kill", slot, config=host.config)
    assert second.returncode == 3
    assert f"slot '{slot}' is locked by pid {first.pid}" in second.stderr
    assert "--wait" in second.stderr

    waited = vmim("kill", slot, "--wait", "60", config=host.config)
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout == f"{slot}: destroyed\n"
    assert first.wait(timeout=30) == 1  # its graceful shutdown timed out, as asked
    assert state(host, slot) == "shut off"


def test_a_sigkilled_holder_leaves_the_slot_free(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-sigkill"], cmdline_extra="vmim.acpi=ignore")
    slot = "vmim-e2e-sigkill"
    assert vmim("up", slot, config=host.config).returncode == 0
    host.wait_console(slot)
    first = _holding_down(host, slot, "300")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    free = vmim("kill", slot, config=host.config)
    assert free.returncode == 0, free.stderr
    assert state(host, slot) == "shut off"
