"""A progress bar with bytes and rate for a person at a terminal; nothing for scripts."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import vmim
from tests.integration.conftest import Host, QcowHost

BYTES_AND_RATE = re.compile(r"\d+(\.\d+)?/\d+(\.\d+)? [kMG]?B\S* +\d+(\.\d+)? [KMG]i?B/s")


def on_a_terminal(host: Host | QcowHost, *args: str) -> str:
    """Run vmim with a pseudo-terminal as stdout and stderr; return what it showed."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "vmim", "--config", str(host.config), *args],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, close_fds=True,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )  # fmt: skip
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert child.wait() == 0, shown.decode(errors="replace")
    return shown.decode(errors="replace")


def big_image(root: Path) -> Path:
    root.mkdir()
    chunk = os.urandom(1 << 20)
    for i in range(120):
        (root / f"part{i:03d}").write_bytes(chunk[i:] + chunk[:i])
    return root


@pytest.mark.parametrize("fmt", ["directory", "tar.zst"])
def test_deploy_shows_bytes_and_rate_on_a_terminal(host: Host, fmt: str) -> None:
    image = big_image(host.images / "big")
    if fmt == "tar.zst":
        subprocess.run(["tar", "--zstd", "-cf", str(host.images / "packed.tar.zst"), "-C",
                        str(image), "."], check=True)  # fmt: skip
    name = "big" if fmt == "directory" else "packed"
    shown = on_a_terminal(host, "deploy", "blk", name)
    assert BYTES_AND_RATE.search(shown), shown[-2000:]
    assert "blk: deployed" in shown


def test_no_progress_when_not_a_terminal_or_with_json(host: Host) -> None:
    big_image(host.images / "big")
    piped = vmim("deploy", "blk", "big", config=host.config)
    assert piped.returncode == 0
    assert piped.stderr == ""
    assert piped.stdout.startswith("blk: deployed big")
    shown = on_a_terminal(host, "--json", "store", "blk", "saved")
    assert not BYTES_AND_RATE.search(shown)
    assert '"command": "store"' in shown


def test_a_parallel_deploy_shows_one_display_with_a_bar_per_slot(host: Host) -> None:
    image = host.images / "mid"
    image.mkdir()
    chunk = os.urandom(1 << 20)
    for i in range(50):
        (image / f"part{i:03d}").write_bytes(chunk[i:] + chunk[:i])
    shown = on_a_terminal(host, "deploy", "blk=mid", "img=mid")
    assert "deploy mid to blk" in shown and "deploy mid to img" in shown
    assert BYTES_AND_RATE.search(shown), shown[-2000:]
    assert "blk: deployed mid" in shown and "img: deployed mid" in shown


def test_flattening_a_qcow2_slot_shows_bytes_and_rate(qhost: QcowHost) -> None:
    (qhost.base / "t").mkdir()
    imported = vmim("import", "golden", "--from", str(qhost.base / "t"), "--disk", "--size",
                    "64M", "--partitioned", config=qhost.config)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert vmim("deploy", "q", "golden", config=qhost.config).returncode == 0
    shown = on_a_terminal(qhost, "store", "q", "flat")
    assert BYTES_AND_RATE.search(shown), shown[-2000:]
    assert "q: stored image flat (qcow2 base sha256:" in shown
