"""A throw-away vmim host: a config file, file-backed slots holding the tiny guest."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import libvirt

from vmim.errors import HypervisorError
from vmim.testbed.domain import tiny_domain_xml
from vmim.testbed.guest import READY_LINE, TestGuest, make_disk, make_root_tree


@dataclass(frozen=True)
class TestSlot:
    __test__ = False  # not a pytest test class

    name: str
    disk: Path
    mount: Path
    console_log: Path
    cmdline: str


@dataclass
class TestHost:
    __test__ = False  # not a pytest test class

    base: Path
    uri: str
    config: Path
    slots: list[TestSlot]

    def console(self, slot: str) -> str:
        log = next(s.console_log for s in self.slots if s.name == slot)
        try:
            return log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_console(self, slot: str, text: str = READY_LINE, timeout: float = 90) -> str:
        """The console log once it holds ``text``; raises after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.console(slot)
            if text in seen:
                return seen
            time.sleep(0.1)
        raise TimeoutError(
            f"{slot}: {text!r} not on the console in {timeout:g} s:\n{self.console(slot)}"
        )

    def undefine(self) -> None:
        conn = libvirt.open(self.uri)
        try:
            for slot in self.slots:
                try:
                    dom = conn.lookupByName(slot.name)
                except libvirt.libvirtError:
                    continue
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
        finally:
            conn.close()


def slot_section(slot: TestSlot, store_type: str) -> str:
    """The configuration section of ``slot``, booting partition 1 of its disk."""
    return f"""
[vmim.vm.{slot.name}]
HostName = "{slot.name}"
store_type = "{store_type}"
HostDisk = "{slot.disk}"
partition = 1
mount = "{slot.mount}"
console_log = "{slot.console_log}"
cmdline = "{slot.cmdline}"
"""


def open_folder(path: Path) -> Path:
    """Create ``path`` readable by libvirt's qemu user (it does not run as root)."""
    path.mkdir(parents=True, exist_ok=True)
    Path(path).chmod(0o755)
    return path


def make_host(
    base: Path,
    guest: TestGuest,
    names: list[str],
    *,
    uri: str = "qemu:///system",
    marker: str = "A",
    cmdline_extra: str = "",
    define: bool = True,
    statedir: Path | None = None,
) -> TestHost:
    open_folder(base)
    tree = make_root_tree(base / f"tree-{marker}", marker)
    slots: list[TestSlot] = []
    sections = []
    for name in names:
        disk = make_disk(base / f"{name}.img", tree)
        mount = base / "mnt" / name
        console_log = open_folder(base / "console") / f"{name}.log"
        cmdline = f"console=ttyS0 root=/dev/vda1 quiet {cmdline_extra}".strip()
        slots.append(TestSlot(name, disk, mount, console_log, cmdline))
        sections.append(slot_section(slots[-1], "diskimage"))
    config = base / "vmim.cfg"
    config.write_text(
        f"""# A vmim host made by vmim.testbed.
[vmim.local]
vmemulator = "{uri}"
statedir = "{statedir or base / "state"}"
vmimages = "{base / "images"}"
vmextracts = "{base / "extracts"}"
virt_type = "qemu"
memory = 128
kernel = "{guest.kernel}"
initrd = "{guest.initrd}"
"""
        + "".join(sections)
    )
    host = TestHost(base=base, uri=uri, config=config, slots=slots)
    if define:
        define_slots(host, guest)
    return host


def define_slots(host: TestHost, guest: TestGuest) -> None:
    try:
        conn = libvirt.open(host.uri)
    except libvirt.libvirtError as exc:
        raise HypervisorError(f"cannot connect to {host.uri}: {exc}") from None
    try:
        for slot in host.slots:
            xml = tiny_domain_xml(
                slot.name,
                kernel=guest.kernel,
                initrd=guest.initrd,
                disk=slot.disk,
                console_log=slot.console_log,
                cmdline=slot.cmdline,
            )
            conn.defineXML(xml)
    finally:
        conn.close()
