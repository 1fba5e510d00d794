"""Domain XML for the tiny test guest, used until a slot's domain comes from its template."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr


def tiny_domain_xml(
    name: str,
    *,
    kernel: Path,
    initrd: Path,
    disk: Path,
    console_log: Path,
    cmdline: str = "console=ttyS0 root=/dev/vda1 quiet",
    virt_type: str = "qemu",
    memory_mib: int = 128,
) -> str:
    """A direct-kernel-boot domain with one virtio disk and a logged serial console.

    ``<acpi/>`` is what lets the guest hear the power button of a graceful shutdown.
    """
    return f"""<domain type={quoteattr(virt_type)}>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file={quoteattr(str(disk))}/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'>
      <log file={quoteattr(str(console_log))} append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'/>
  </devices>
</domain>
"""
