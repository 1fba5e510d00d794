"""The demo: a host with one file-backed slot and the tiny guest, driven by ``vmim``.

It deploys an image, boots it and shows what the guest printed, stores what the
guest left as a new image, resets the slot to another image and back again.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from vmim.testbed.guest import TestGuest, make_root_tree
from vmim.testbed.host import TestHost, make_host

DEFAULT_DIR = Path("/var/tmp/vmim-demo")
SLOT = "vmim-demo1"


def _vmim(config: Path, *args: str) -> None:
    argv = [sys.executable, "-m", "vmim", "--config", str(config), *args]
    print(f"\n$ vmim --config {config} {shlex.join(args)}", flush=True)
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def _console(host: TestHost) -> None:
    print(f"--- what {SLOT} printed on its serial console ---")
    lines = host.wait_console(SLOT).splitlines()
    print("\n".join(line for line in lines if "vmim-guest" in line))
    print("---", flush=True)


def run_demo(guest: TestGuest, base: Path) -> int:
    if base.exists():
        shutil.rmtree(base)
    host = make_host(base, guest, [SLOT], marker="empty slot")
    make_root_tree(base / "images" / "demo-A", "demo image A",
                   write="hello, written by the guest of demo-A")  # fmt: skip
    make_root_tree(base / "images" / "demo-B", "demo image B")
    print(f"demo host in {base}: config {host.config}")
    print(host.config.read_text())
    try:
        _vmim(host.config, "images")
        _vmim(host.config, "list")
        _vmim(host.config, "deploy", SLOT, "demo-A", "--up", "--wait-ready")
        _console(host)
        _vmim(host.config, "down", SLOT)
        _vmim(host.config, "store", SLOT, "demo-A-after")
        _vmim(host.config, "deploy", SLOT, "demo-B", "--up", "--wait-ready")
        _console(host)
        _vmim(host.config, "deploy", SLOT, "demo-A-after", "--up", "--wait-ready")
        _console(host)
        _vmim(host.config, "list")
        _vmim(host.config, "down", SLOT)
        _vmim(host.config, "--json", "list")
    finally:
        host.undefine()
    return 0
