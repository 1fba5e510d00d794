"""Shared test helpers: probes for what the machine can do, and running the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def vmim(
    *args: str, config: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``vmim`` command in a child process."""
    argv = [sys.executable, "-m", "vmim"]
    if config is not None:
        argv += ["--config", str(config)]
    full_env = dict(os.environ)
    full_env.pop("VMIM_CFG", None)
    full_env.update(env or {})
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


def require_libvirtd() -> None:
    require_root()
    if shutil.which("virsh") is None:
        pytest.skip("libvirt clients not installed")
    probe = subprocess.run(
        ["virsh", "-c", "qemu:///system", "version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"libvirtd not reachable at qemu:///system: {probe.stderr.strip()}")
