"""Domain XML for a slot: from a Jinja2 template, or the slot's own file, checked before use.

Choice, first match wins: the slot's ``domain_xml`` (used as it is, the seed's
"hand customized version"); the slot's ``template``; the host's ``template``
(or the seed's ``xenconftemplate``); the built-in template for the slot's
``virt_type`` (``kvm`` for kvm and qemu, ``xen-pv`` or ``xen-hvm`` for xen).

Building XML never touches libvirt; what libvirt is then given has been parsed
and checked: its name is the slot's, its disk is the slot's disk, its MACs are
unicast and no other slot of the host uses them.
"""

from __future__ import annotations

import logging
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from vmim.config import Config, SlotConfig
from vmim.disks import disk_for
from vmim.errors import UsageError

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
BUILTIN = {"kvm": "kvm.xml.j2", "xen-pv": "xen-pv.xml.j2", "xen-hvm": "xen-hvm.xml.j2"}
_UUID_NAMESPACE = uuid.UUID("9b1f7a52-3c1e-4c55-8a43-6f1a0c2b7e10")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class DomainXmlError(UsageError):
    """The slot's domain XML cannot be made, or is wrong; nothing was defined."""


@dataclass(frozen=True)
class DiskSource:
    path: str
    type: str  # "file" or "block"
    format: str = "raw"


@dataclass(frozen=True)
class DomainXml:
    slot: str
    xml: str
    origin: str  # the template or file it came from, for messages
    uuid: str


def stable_uuid(slot: SlotConfig) -> str:
    """The UUID a slot's domain gets when libvirt has none for it yet: the same every time."""
    return str(uuid.uuid5(_UUID_NAMESPACE, f"{slot.uri}\0{slot.name}"))


def console_log(slot: SlotConfig, statedir: Path) -> Path:
    return slot.console_log or statedir / "console" / f"{slot.name}.log"


def disk_source(slot: SlotConfig, statedir: Path) -> DiskSource:
    disk = disk_for(slot, statedir)
    path = disk.domain_disk()
    block = path.is_block_device() if path.exists() else str(path).startswith("/dev/")
    return DiskSource(
        path=str(path), type="block" if block else "file", format=disk.domain_format()
    )


def variables(slot: SlotConfig, cfg: Config, domain_uuid: str) -> dict[str, Any]:
    """Everything a template may use; README lists them."""
    return {
        "name": slot.name,
        "uuid": domain_uuid,
        "memory_mib": slot.memory_mib,
        "vcpus": slot.vcpus,
        "virt_type": slot.virt_type,
        "arch": slot.arch or "x86_64",
        "machine": slot.machine or "pc",
        "disk": disk_source(slot, cfg.statedir),
        "macs": list(slot.macs),
        "bridge": slot.bridge,
        "network": slot.network,
        "kernel": slot.kernel,
        "initrd": slot.initrd,
        "cmdline": slot.cmdline,
        "bootloader": slot.bootloader,
        "console_log": console_log(slot, cfg.statedir),
        "host": slot.host,
        "slot": slot,
    }


def _template_path(slot: SlotConfig, cfg: Config) -> tuple[Path, str]:
    """The template file and how to name it in messages."""
    if slot.template is not None:
        builtin = BUILTIN.get(slot.template.name)
        if builtin and not slot.template.exists():
            return TEMPLATES / builtin, f"built-in template {slot.template.name}"
        return slot.template, str(slot.template)
    if cfg.template is not None:
        usable = _usable_host_template(cfg.template)
        if usable:
            return cfg.template, str(cfg.template)
    if slot.virt_type == "xen":
        name = "xen-pv" if slot.kernel or slot.bootloader else "xen-hvm"
    else:
        name = "kvm"
    return TEMPLATES / BUILTIN[name], f"built-in template {name}"


def _usable_host_template(path: Path) -> bool:
    """The seed's xenconftemplate was an xm config file: such a file is passed over."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        log.warning("template %s does not exist; using the built-in template", path)
        return False
    except OSError as exc:
        raise DomainXmlError(f"cannot read template {path}: {exc.strerror}") from None
    if "<domain" not in text:
        log.warning(
            "template %s is not a libvirt domain XML template (an xm config file?); "
            "using the built-in template",
            path,
        )
        return False
    return True


def render(slot: SlotConfig, cfg: Config, domain_uuid: str | None = None) -> DomainXml:
    """The slot's domain XML, checked; ``domain_uuid`` keeps a defined domain's UUID."""
    the_uuid = domain_uuid or stable_uuid(slot)
    if slot.domain_xml is not None:
        origin = str(slot.domain_xml)
        try:
            text = slot.domain_xml.read_text(encoding="utf-8")
        except OSError as exc:
            raise DomainXmlError(
                f"slot '{slot.name}': cannot read domain_xml {origin}: {exc.strerror}",
                f"check 'domain_xml' at {slot.where('domain_xml')}",
            ) from None
    else:
        path, origin = _template_path(slot, cfg)
        text = _render_template(path, origin, slot, variables(slot, cfg, the_uuid))
    check(slot, cfg, text, origin)
    return DomainXml(slot=slot.name, xml=text, origin=origin, uuid=the_uuid)


def _render_template(path: Path, origin: str, slot: SlotConfig, values: dict[str, Any]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path.parent)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,  # values land in XML text and attributes
        keep_trailing_newline=True,
    )
    try:
        return env.get_template(path.name).render(values)
    except jinja2.TemplateSyntaxError as exc:
        raise DomainXmlError(
            f"template {origin}:{exc.lineno}: syntax error: {exc.message}",
            f"slot '{slot.name}'",
        ) from None
    except jinja2.UndefinedError as exc:
        raise DomainXmlError(
            f"template {origin}: {exc.message} (slot '{slot.name}')",
            "template variables are listed in the README",
        ) from None
    except jinja2.TemplateNotFound:
        raise DomainXmlError(
            f"slot '{slot.name}': template {origin} does not exist",
            f"check 'template' at {slot.where('template')}",
        ) from None


def check(slot: SlotConfig, cfg: Config, text: str, origin: str) -> None:
    """Refuse XML that is not this slot's domain, before libvirt sees it."""
    where = f"slot '{slot.name}', from {origin}"
    try:
        root = ET.fromstring(text)  # noqa: S314 - the operator's own template, not remote input
    except ET.ParseError as exc:
        raise DomainXmlError(f"the domain XML does not parse ({where}): {exc}") from None
    if root.tag != "domain":
        raise DomainXmlError(f"the domain XML's root is <{root.tag}>, not <domain> ({where})")
    name = (root.findtext("name") or "").strip()
    if name != slot.name:
        raise DomainXmlError(
            f"the domain XML names the domain '{name}', not the slot's HostName "
            f"'{slot.name}' ({where})"
        )
    expected = disk_source(slot, cfg.statedir).path
    sources = [
        source.get("file") or source.get("dev") or ""
        for source in root.findall("./devices/disk[@device='disk']/source")
    ]
    if expected not in sources:
        found = ", ".join(sources) or "none"
        raise DomainXmlError(
            f"the domain XML's disk is {found}, not the slot's disk {expected} ({where})"
        )
    others = {
        mac: other.name
        for other in cfg.slots.values()
        if other.uri == slot.uri and other.name != slot.name
        for mac in other.macs
    }
    for element in root.findall("./devices/interface/mac"):
        mac = (element.get("address") or "").lower()
        if not _MAC.match(mac) or int(mac[:2], 16) & 1:
            raise DomainXmlError(f"MAC {mac!r} is not a unicast MAC address ({where})")
        if mac in others:
            raise DomainXmlError(
                f"MAC {mac} is used by slot '{others[mac]}' too ({where})",
                "each slot of a host needs its own MACs",
            )
