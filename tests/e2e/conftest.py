"""Real libvirtd, real QEMU (software emulation), the tiny guest from Debian packages."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import libvirt
import pytest

from tests.helpers import require_libvirtd
from vmim.testbed.guest import TestGuest
from vmim.testbed.host import TestHost, make_host, open_folder

E2E_ROOT = Path("/var/tmp/vmim-e2e")


@pytest.fixture(scope="session")
def guest() -> TestGuest:
    require_libvirtd()
    built = TestGuest()
    if not built.built:
        pytest.fail("the test guest is not built: run scripts/setup.sh (it builds it)")
    return built


MakeHost = Callable[..., TestHost]


@pytest.fixture
def e2e_host(guest: TestGuest, request: pytest.FixtureRequest) -> Iterator[MakeHost]:
    """Make a host of real slots under /var/tmp (libvirt's qemu user must reach it)."""
    made: list[TestHost] = []
    base = E2E_ROOT / request.node.name[:60]

    def make(names: list[str], **kwargs: object) -> TestHost:
        if base.exists():
            shutil.rmtree(base)
        host = make_host(base, guest, names, **kwargs)  # type: ignore[arg-type]
        made.append(host)
        return host

    yield make
    for host in made:
        host.undefine()
        shutil.rmtree(host.base, ignore_errors=True)


def remove_domain(name: str) -> None:
    """Destroy and undefine a domain a test made, if it is there."""
    conn = libvirt.open("qemu:///system")
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


def one_slot_config(
    base: Path, guest: TestGuest, slot: str, store_type: str, disk: Path, images: Path
) -> Path:
    """A configuration of one slot booting the tiny guest from ``disk`` (partition 1)."""
    config = base / "vmim.cfg"
    config.write_text(f"""[vmim.local]
vmemulator = qemu:///system
statedir = {base / "state"}
vmimages = {open_folder(images)}
[vmim.vm.1]
HostName = {slot}
store_type = {store_type}
HostDisk = {disk}
partition = 1
mount = {base / "mnt"}
virt_type = qemu
memory = 128
kernel = {guest.kernel}
initrd = {guest.initrd}
cmdline = console=ttyS0 root=/dev/vda1 quiet
console_log = {open_folder(base / "console") / "slot.log"}
""")
    return config


def console(config: Path) -> str:
    """What the slot of a ``one_slot_config`` printed on its serial console."""
    return (config.parent / "console" / "slot.log").read_text(errors="replace")
