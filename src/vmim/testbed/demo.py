"""The demo: a host with one file-backed slot holding the tiny guest, driven by ``vmim``."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from vmim.testbed.guest import TestGuest
from vmim.testbed.host import make_host

DEFAULT_DIR = Path("/var/tmp/vmim-demo")
SLOT = "vmim-demo1"


def _vmim(config: Path, *args: str) -> None:
    argv = [sys.executable, "-m", "vmim", "--config", str(config), *args]
    print(f"\n$ vmim --config {config} {shlex.join(args)}", flush=True)
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def run_demo(guest: TestGuest, base: Path) -> int:
    if base.exists():
        shutil.rmtree(base)
    host = make_host(base, guest, [SLOT], marker="demo image A")
    print(f"demo host in {base}: config {host.config}")
    print(host.config.read_text())
    try:
        _vmim(host.config, "list")
        _vmim(host.config, "up", SLOT)
        console = host.wait_console(SLOT)
        print(f"\n--- what {SLOT} printed on its serial console ---")
        print("\n".join(line for line in console.splitlines() if "vmim-guest" in line))
        print("---")
        _vmim(host.config, "list")
        _vmim(host.config, "down", SLOT)
        _vmim(host.config, "--json", "list")
    finally:
        host.undefine()
    return 0
