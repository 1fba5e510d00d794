"""The configuration model and its loader (the seed's INI format).

``[vmim.local]`` holds host-wide settings and defaults for every slot,
``[vmim.defaults]`` (optional) more defaults, and each ``[vmim.vm.<anything>]``
section one slot. A slot's own keys override the defaults. Every error names
the file, the line and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from vmim import inifile
from vmim.errors import ConfigError

DEFAULT_CONFIG = Path("/etc/vmimagemanager/vmimagemanager.cfg")
DEFAULT_STATEDIR = Path("/var/lib/vmimagemanager")
DEFAULT_URI = "qemu:///system"
ENV_CONFIG = "VMIM_CFG"

LOCAL = "vmim.local"
DEFAULTS = "vmim.defaults"
SLOT_PREFIX = "vmim.vm."

STORE_TYPES = ("partition", "kpartx", "diskimage", "qcow2", "reflink")
VIRT_TYPES = ("kvm", "qemu", "xen")

# Keys that only make sense host-wide.
HOST_KEYS = frozenset(
    {"vmimages", "vmextracts", "vmconfdir", "xenconftemplate", "statedir", "vmemulator"}
)
# Keys a slot may carry; [vmim.local] and [vmim.defaults] may set any of them as defaults.
SLOT_KEYS = frozenset(
    {
        "hostname", "store_type", "root", "swap", "mount", "host", "mac", "ip",
        "hostdisk", "partition", "memory", "vcpus", "virt_type", "uri", "template",
        "domain_xml", "kernel", "initrd", "cmdline", "bridge", "network",
        "console_log", "shutdown_timeout", "ready_pattern", "arch", "machine", "bootloader",
    }
)  # fmt: skip
_PATH_KEYS = frozenset(
    {"vmimages", "vmextracts", "vmconfdir", "xenconftemplate", "statedir", "template",
     "domain_xml", "kernel", "initrd", "mount", "hostdisk", "console_log"}
)  # fmt: skip
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_SIZE = re.compile(r"^(?P<n>\d+)\s*(?P<unit>[kmgt]?)(?:i?b)?$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")

T = TypeVar("T")


@dataclass(frozen=True)
class Setting:
    """One resolved value and where it came from, for error messages."""

    value: str | list[str]
    path: str
    line: int
    section: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class SlotConfig:
    """One slot: a fixed place for one VM on one libvirt host."""

    name: str
    section: str
    uri: str
    store_type: str
    virt_type: str
    memory_mib: int
    vcpus: int
    shutdown_timeout: float
    macs: tuple[str, ...] = ()
    root: str | None = None
    swap: str | None = None
    mount: Path | None = None
    host: str | None = None
    hostdisk: Path | None = None
    partition: int | None = None
    kernel: Path | None = None
    initrd: Path | None = None
    cmdline: str | None = None
    template: Path | None = None
    domain_xml: Path | None = None
    bridge: str | None = None
    network: str | None = None
    console_log: Path | None = None
    ready_pattern: str | None = None
    arch: str | None = None
    machine: str | None = None
    bootloader: str | None = None
    settings: Mapping[str, Setting] = field(default_factory=dict, repr=False, compare=False)
    origin: str = ""  # file:line of the slot's section

    def where(self, key: str) -> str:
        """``file:line`` of ``key`` for this slot, or of its section."""
        setting = self.settings.get(key)
        return setting.where if setting else f"{self.origin} [{self.section}]"


@dataclass(frozen=True)
class Config:
    path: Path
    statedir: Path
    images: Path | None
    extracts: Path | None
    confdir: Path | None
    template: Path | None
    slots: Mapping[str, SlotConfig]
    warnings: tuple[str, ...] = ()

    def slot(self, name: str) -> SlotConfig:
        from vmim.errors import UnknownSlotError

        try:
            return self.slots[name]
        except KeyError:
            known = ", ".join(self.slots) or "none"
            raise UnknownSlotError(
                f"unknown slot '{name}' in {self.path}", f"known slots: {known}"
            ) from None


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config``, then ``$VMIM_CFG``, then the system path."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    return DEFAULT_CONFIG


def load(path: str | os.PathLike[str] | None = None) -> Config:
    config_path = find_config_path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{config_path}: no such configuration file",
            f"pass --config FILE or set ${ENV_CONFIG}",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{config_path}: cannot read the configuration: {reason}") from None
    return loads(text, config_path)


def loads(text: str, path: Path) -> Config:
    shown = str(path)
    sections = inifile.parse(text, shown)
    warnings: list[str] = []
    base = path.parent

    def settings_of(section: inifile.Section) -> dict[str, Setting]:
        out: dict[str, Setting] = {}
        for key, entry in section.entries.items():
            out[key] = Setting(_value(entry, shown, section.name), shown, entry.line, section.name)
        return out

    local: dict[str, Setting] = {}
    defaults: dict[str, Setting] = {}
    slot_sections: list[tuple[inifile.Section, dict[str, Setting]]] = []
    for section in sections:
        lowered = section.name.lower()
        if lowered == LOCAL:
            local = settings_of(section)
            _warn_unknown(section, HOST_KEYS | SLOT_KEYS, shown, warnings)
        elif lowered == DEFAULTS:
            defaults = settings_of(section)
            _warn_unknown(section, SLOT_KEYS, shown, warnings)
        elif lowered.startswith(SLOT_PREFIX):
            slot_sections.append((section, settings_of(section)))
            _warn_unknown(section, SLOT_KEYS, shown, warnings)
        else:
            warnings.append(f"{shown}:{section.line}: unknown section [{section.name}] ignored")

    def host_path(key: str) -> Path | None:
        setting = local.get(key)
        return _path(setting, base) if setting else None

    inherited = {k: v for k, v in local.items() if k in SLOT_KEYS}
    inherited.update(defaults)
    host_uri = local.get("vmemulator")
    if host_uri is not None and "uri" not in inherited:
        inherited["uri"] = host_uri

    slots: dict[str, SlotConfig] = {}
    first_line: dict[str, Setting] = {}
    for section, own in slot_sections:
        merged = dict(inherited)
        merged.update(own)
        slot = _slot(section, merged, base, shown)
        previous = first_line.get(slot.name)
        if previous is not None:
            here = merged["hostname"]
            raise ConfigError(
                f"{here.where}: key 'HostName': slot name '{slot.name}' is used by "
                f"[{previous.section}] (line {previous.line}) and [{section.name}] "
                f"(line {here.line})",
                "each slot needs its own HostName",
            )
        first_line[slot.name] = merged["hostname"]
        slots[slot.name] = slot

    statedir = host_path("statedir") or DEFAULT_STATEDIR
    return Config(
        path=path,
        statedir=statedir,
        images=host_path("vmimages"),
        extracts=host_path("vmextracts"),
        confdir=host_path("vmconfdir"),
        template=host_path("template") or host_path("xenconftemplate"),
        slots=slots,
        warnings=tuple(warnings),
    )


def _warn_unknown(
    section: inifile.Section, known: frozenset[str], path: str, warnings: list[str]
) -> None:
    for key, entry in section.entries.items():
        if key not in known:
            warnings.append(f"{path}:{entry.line}: unknown key '{key}' in [{section.name}] ignored")


def _value(entry: inifile.Entry, path: str, section: str) -> str | list[str]:
    raw = entry.raw
    if inifile.is_list(raw):
        try:
            return inifile.parse_list(raw)
        except ValueError as exc:
            raise ConfigError(
                f"{path}:{entry.line}: key '{entry.key}' in [{section}]: {exc}",
                'write lists as ["a", "b"]',
            ) from None
    if raw and raw[0] in "\"'" and (len(raw) < 2 or raw[-1] != raw[0]):
        raise ConfigError(
            f"{path}:{entry.line}: key '{entry.key}' in [{section}]: unclosed quote {raw[0]}"
        )
    return inifile.unquote(raw)


def _slot(
    section: inifile.Section, merged: dict[str, Setting], base: Path, path: str
) -> SlotConfig:
    def fail(key: str, problem: str, hint: str | None = None) -> ConfigError:
        setting = merged.get(key)
        where = setting.where if setting else f"{path}:{section.line}"
        return ConfigError(f"{where}: key '{key}' in [{section.name}]: {problem}", hint)

    def text(key: str) -> str | None:
        setting = merged.get(key)
        if setting is None:
            return None
        if isinstance(setting.value, list):
            raise fail(key, "expected a single value, found a list")
        return setting.value or None

    def number(key: str, parse: Callable[[str], T], default: T, what: str) -> T:
        raw = text(key)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            raise fail(key, f"{raw!r} is not {what}") from None

    def path_of(key: str) -> Path | None:
        setting = merged.get(key)
        return _path(setting, base) if setting and text(key) else None

    name = text("hostname")
    if name is None:
        raise ConfigError(
            f"{path}:{section.line}: section [{section.name}] has no HostName",
            "every slot needs HostName = <domain name>",
        )
    if not _NAME.match(name):
        raise fail("hostname", f"{name!r} is not a usable domain name (letters, digits, _.+-)")

    store_type = (text("store_type") or "partition").lower()
    if store_type not in STORE_TYPES:
        raise fail(
            "store_type", f"unknown store_type {store_type!r}", f"known: {', '.join(STORE_TYPES)}"
        )
    virt_type = (text("virt_type") or "kvm").lower()
    if virt_type not in VIRT_TYPES:
        raise fail(
            "virt_type", f"unknown virt_type {virt_type!r}", f"known: {', '.join(VIRT_TYPES)}"
        )

    partition = number("partition", _positive_int, None, "a positive whole number")
    memory = number("memory", _mebibytes, 512, "a memory size (MiB, or with a K/M/G suffix)")
    vcpus = number("vcpus", _positive_int, 1, "a positive whole number")
    timeout = number("shutdown_timeout", _seconds, 180.0, "a number of seconds")

    macs_setting = merged.get("mac")
    macs: list[str] = []
    if macs_setting is not None:
        raw_macs = macs_setting.value
        macs = [raw_macs] if isinstance(raw_macs, str) else list(raw_macs)
        macs = [m.lower() for m in macs if m]
        for mac in macs:
            if not _MAC.match(mac):
                raise fail("mac", f"{mac!r} is not a MAC address like 02:00:00:00:00:01")
            if int(mac[:2], 16) & 1:
                raise fail("mac", f"{mac} is a multicast address", "the first octet must be even")

    return SlotConfig(
        name=name,
        section=section.name,
        uri=text("uri") or DEFAULT_URI,
        store_type=store_type,
        virt_type=virt_type,
        memory_mib=memory,
        vcpus=vcpus,
        shutdown_timeout=timeout,
        macs=tuple(macs),
        root=text("root"),
        swap=text("swap"),
        mount=path_of("mount"),
        host=text("host"),
        hostdisk=path_of("hostdisk"),
        partition=partition,
        kernel=path_of("kernel"),
        initrd=path_of("initrd"),
        cmdline=text("cmdline"),
        template=path_of("template"),
        domain_xml=path_of("domain_xml"),
        bridge=text("bridge"),
        network=text("network"),
        console_log=path_of("console_log"),
        ready_pattern=text("ready_pattern"),
        arch=text("arch"),
        machine=text("machine"),
        bootloader=text("bootloader"),
        settings=merged,
        origin=f"{path}:{section.line}",
    )


def _path(setting: Setting, base: Path) -> Path:
    if isinstance(setting.value, list):
        raise ConfigError(f"{setting.where}: expected a path, found a list")
    # Relative paths are read against the config file's folder, as an operator expects.
    return base / setting.value


def _positive_int(raw: str) -> int:
    value = int(raw.strip())
    if value <= 0:
        raise ValueError(raw)
    return value


def _seconds(raw: str) -> float:
    value = float(raw.strip())
    if not value >= 0 or value == float("inf"):
        raise ValueError(raw)
    return value


def _mebibytes(raw: str) -> int:
    match = _SIZE.match(raw.strip())
    if match is None:
        raise ValueError(raw)
    factor = {"": 1, "m": 1, "k": 1 / 1024, "g": 1024, "t": 1024 * 1024}
    value = int(int(match.group("n")) * factor[match.group("unit").lower()])
    if value <= 0:
        raise ValueError(raw)
    return value
