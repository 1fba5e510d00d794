"""Hosts on libvirt's test driver: a fresh driver file per test, so no state leaks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vmim import config
from vmim.api import Manager

DOMAIN = """  <domain type='test'>
    <name>{name}</name>
    <memory unit='MiB'>128</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
  </domain>
"""


def driver_host(tmp_path: Path, defined: list[str], slots: list[str]) -> Path:
    """Write a test-driver node with ``defined`` domains (all running) and a config."""
    node = tmp_path / "node.xml"
    node.write_text("<node>\n" + "".join(DOMAIN.format(name=n) for n in defined) + "</node>\n")
    sections = "".join(
        f"[vmim.vm.{n}]\nHostName = {n}\nmount = {tmp_path / 'mnt' / n}\n" for n in slots
    )
    cfg = tmp_path / "vmim.cfg"
    cfg.write_text(
        f"[vmim.local]\nvmemulator = test://{node}\nstatedir = {tmp_path / 'state'}\n"
        f"shutdown_timeout = 10\n{sections}"
    )
    return cfg


@pytest.fixture
def host_config(tmp_path: Path) -> Path:
    return driver_host(tmp_path, ["s1", "s2"], ["s1", "s2", "s3"])


@pytest.fixture
def manager(host_config: Path) -> Iterator[Manager]:
    with Manager(config.load(host_config)) as m:
        yield m
