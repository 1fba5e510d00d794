"""The Python API of vmim: everything the command line can do.

``Manager`` works on one loaded configuration. It prints nothing and never
exits: it returns result dataclasses and raises ``VmimError`` subclasses that
carry their message and exit code.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vmim import atomic, deploy, domainxml, exports, imports, locking, mounts, state
from vmim import config as config_mod
from vmim.config import Config, SlotConfig
from vmim.deploy import DeployResult, DiskResult, StoreResult
from vmim.disks import disk_for, mountpoint_for
from vmim.domainxml import DomainXml, DomainXmlError
from vmim.errors import HypervisorError, OperationError, StateError, UsageError, VmimError
from vmim.hypervisor import DomainState, Hypervisor
from vmim.images import lifecycle
from vmim.images.store import Image, Store
from vmim.progress import Meter


@dataclass(frozen=True)
class SlotStatus:
    name: str
    uri: str
    store_type: str
    state: str
    mounted: str | None
    locked_by: locking.Holder | None
    image: str | None = None
    deployed_at: str | None = None
    dirty: bool = False

    @property
    def free(self) -> bool:
        return self.locked_by is None and not DomainState(self.state).active


@dataclass(frozen=True)
class Outcome:
    """One slot of a parallel deploy: its result, or the error that stopped it."""

    slot: str
    result: DeployResult | None
    error: str | None
    exit_code: int


@dataclass(frozen=True)
class ActionResult:
    slot: str
    action: str
    before: str
    after: str
    changed: bool
    message: str


class Manager:
    def __init__(self, cfg: Config, lock_wait: float = 0.0) -> None:
        self.config = cfg
        self.lock_wait = lock_wait
        self._hypervisors: dict[str, Hypervisor] = {}
        self._connecting = threading.Lock()
        self.images = Store(cfg.images, "image", "vmimages")
        self.inserts = Store(cfg.extracts, "insert", "vmextracts")

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str] | None = None, lock_wait: float = 0.0
    ) -> Manager:
        return cls(config_mod.load(path), lock_wait=lock_wait)

    def close(self) -> None:
        for hypervisor in self._hypervisors.values():
            hypervisor.close()
        self._hypervisors.clear()

    def __enter__(self) -> Manager:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- helpers -------------------------------------------------------------------------

    def hypervisor(self, slot: SlotConfig) -> Hypervisor:
        # Parallel deploys share one connection per URI (libvirt connections are thread-safe).
        with self._connecting:
            hypervisor = self._hypervisors.get(slot.uri)
            if hypervisor is None:
                hypervisor = self._hypervisors[slot.uri] = Hypervisor(slot.uri)
            return hypervisor

    def resolve(self, names: Iterable[str] | None) -> list[SlotConfig]:
        """Slots by name, all checked before any work starts; all slots when ``names`` is None."""
        if names is None:
            return list(self.config.slots.values())
        return [self.config.slot(name) for name in names]

    @contextlib.contextmanager
    def lease(self, slot: SlotConfig) -> Iterator[locking.Holder]:
        with locking.lease(self.config.statedir, slot.name, wait=self.lock_wait) as me:
            yield me

    def state(self, slot: SlotConfig) -> DomainState:
        return self.hypervisor(slot).state(slot.name)

    def mounted_at(self, slot: SlotConfig) -> Path | None:
        mountpoint = mountpoint_for(slot, self.config.statedir)
        return mountpoint if mounts.mount_at(mountpoint) is not None else None

    # -- read-only verbs -----------------------------------------------------------------

    def status(self, names: Sequence[str] | None = None) -> list[SlotStatus]:
        out = []
        for slot in self.resolve(names):
            mounted = self.mounted_at(slot)
            record = state.load(self.config.statedir, slot.name)
            out.append(
                SlotStatus(
                    name=slot.name,
                    uri=slot.uri,
                    store_type=slot.store_type,
                    state=self.state(slot).value,
                    mounted=str(mounted) if mounted else None,
                    locked_by=locking.holder(self.config.statedir, slot.name),
                    image=record.image,
                    deployed_at=record.deployed_at,
                    dirty=record.dirty,
                )
            )
        return out

    def locked(self) -> list[str]:
        """Names of the slots whose lease some process holds (asks no hypervisor)."""
        statedir = self.config.statedir
        return [name for name in self.config.slots if locking.holder(statedir, name)]

    def free(self) -> list[SlotStatus]:
        return [s for s in self.status() if s.free]

    # -- lifecycle -----------------------------------------------------------------------

    def up(self, names: Sequence[str], force: bool = False) -> list[ActionResult]:
        results = []
        for slot in self.resolve(names):
            with self.lease(slot):
                results.append(self._up(slot, force))
        return results

    def down(
        self, names: Sequence[str], timeout: float | None = None, force: bool = True
    ) -> list[ActionResult]:
        results = []
        for slot in self.resolve(names):
            with self.lease(slot):
                results.append(self._down(slot, timeout, force))
        return results

    def kill(self, names: Sequence[str]) -> list[ActionResult]:
        results = []
        for slot in self.resolve(names):
            with self.lease(slot):
                results.append(self._kill(slot))
        return results

    def restart(
        self, names: Sequence[str], timeout: float | None = None, force: bool = True
    ) -> list[ActionResult]:
        results = []
        for slot in self.resolve(names):
            with self.lease(slot):
                before = self.state(slot)
                self._down(slot, timeout, force)
                started = self._up(slot, force=False)
                results.append(
                    ActionResult(
                        slot.name,
                        "restart",
                        before.value,
                        started.after,
                        True,
                        f"{slot.name}: restarted",
                    )
                )
        return results

    def _up(self, slot: SlotConfig, force: bool) -> ActionResult:
        hv = self.hypervisor(slot)
        before = hv.state(slot.name)
        if before in (DomainState.RUNNING, DomainState.BLOCKED):
            return ActionResult(
                slot.name, "up", before.value, before.value, False, f"{slot.name}: already running"
            )
        mounted = self.mounted_at(slot)
        if mounted is not None:
            raise StateError(
                f"slot '{slot.name}': its disk is mounted on the host at {mounted}",
                f"run 'vmim release {slot.name}' first; a guest must never boot a mounted disk",
            )
        record = state.load(self.config.statedir, slot.name)
        if record.dirty and not force:
            raise StateError(
                f"slot '{slot.name}' is dirty: '{record.operation}' stopped at {record.step} "
                f"({record.since}); its disk may hold a half-written tree",
                f"deploy it again, or 'vmim up --force {slot.name}' to boot it as it is",
            )
        disk = disk_for(slot, self.config.statedir) if slot.hostdisk is not None else None
        if disk is not None and disk.made_by_deploy and not disk.domain_disk().exists():
            raise StateError(
                f"slot '{slot.name}' has no disk yet: {disk.domain_disk()} is made by its "
                "first deploy",
                f"run 'vmim deploy {slot.name} IMAGE' first",
            )
        self._ensure_defined(slot, before)
        if before == DomainState.PAUSED:
            hv.resume(slot.name)
            message = "resumed"
        else:
            hv.start(slot.name)
            message = "started"
        after = hv.state(slot.name)
        return ActionResult(
            slot.name, "up", before.value, after.value, True, f"{slot.name}: {message}"
        )

    def _down(self, slot: SlotConfig, timeout: float | None, force: bool) -> ActionResult:
        hv = self.hypervisor(slot)
        before = hv.state(slot.name)
        if not before.active:
            return ActionResult(
                slot.name,
                "down",
                before.value,
                before.value,
                False,
                f"{slot.name}: already {before.value}",
            )
        if before == DomainState.PAUSED:
            # A paused guest cannot see the ACPI power button.
            hv.resume(slot.name)
        limit = slot.shutdown_timeout if timeout is None else timeout
        if hv.shutdown_and_wait(slot.name, limit):
            message = "shut down"
        elif force:
            hv.destroy(slot.name)
            message = f"did not shut down within {limit:g} s; destroyed"
        else:
            raise OperationError(
                f"slot '{slot.name}' did not shut down within {limit:g} s",
                f"raise --timeout, drop --no-force, or 'vmim kill {slot.name}'",
            )
        after = hv.state(slot.name)
        return ActionResult(
            slot.name, "down", before.value, after.value, True, f"{slot.name}: {message}"
        )

    def _kill(self, slot: SlotConfig) -> ActionResult:
        hv = self.hypervisor(slot)
        before = hv.state(slot.name)
        if not before.active:
            return ActionResult(
                slot.name,
                "kill",
                before.value,
                before.value,
                False,
                f"{slot.name}: already {before.value}",
            )
        hv.destroy(slot.name)
        after = hv.state(slot.name)
        return ActionResult(
            slot.name, "kill", before.value, after.value, True, f"{slot.name}: destroyed"
        )

    # -- domain definitions ---------------------------------------------------------------

    def xml_path(self, slot: SlotConfig) -> Path:
        """Where the XML vmim last defined for the slot is kept."""
        return self.config.statedir / "xml" / f"{slot.name}.xml"

    def domain_xml(self, name: str) -> DomainXml:
        """The XML ``define`` would give libvirt, keeping a defined domain's UUID."""
        slot = self.config.slot(name)
        return domainxml.render(slot, self.config, self.hypervisor(slot).uuid(slot.name))

    def define(self, names: Sequence[str]) -> list[ActionResult]:
        results = []
        for slot in self.resolve(names):
            with self.lease(slot):
                results.append(self._define(slot, self.state(slot)))
        return results

    def undefine(self, names: Sequence[str]) -> list[ActionResult]:
        results = []
        for slot in self.resolve(names):
            with self.lease(slot):
                hv = self.hypervisor(slot)
                before = hv.state(slot.name)
                if before == DomainState.NOT_DEFINED:
                    message = f"{slot.name}: not defined"
                elif before.active:
                    raise StateError(
                        f"slot '{slot.name}' is {before.value}: it is not undefined while it runs",
                        f"run 'vmim down {slot.name}' first",
                    )
                else:
                    hv.undefine(slot.name)
                    message = f"{slot.name}: undefined"
                self.xml_path(slot).unlink(missing_ok=True)
                after = hv.state(slot.name).value
                results.append(
                    ActionResult(
                        slot.name,
                        "undefine",
                        before.value,
                        after,
                        before != DomainState.NOT_DEFINED,
                        message,
                    )
                )
        return results

    def _define(self, slot: SlotConfig, before: DomainState) -> ActionResult:
        hv = self.hypervisor(slot)
        made = domainxml.render(slot, self.config, hv.uuid(slot.name))
        if before.active:
            changed = self._xml_changed(slot, made)
            note = (
                "the new definition applies when vmim next starts it"
                if changed
                else "its definition is current"
            )
            return ActionResult(
                slot.name,
                "define",
                before.value,
                before.value,
                False,
                f"{slot.name}: {before.value}, not redefined; {note}",
            )
        try:
            hv.define(made.xml)
        except HypervisorError as error:
            raise DomainXmlError(
                f"libvirt refused the domain XML of slot '{slot.name}' from {made.origin}: "
                f"{error.message}"
            ) from None
        atomic.write_text(self.xml_path(slot), made.xml)
        verb = "defined" if before == DomainState.NOT_DEFINED else "redefined"
        return ActionResult(
            slot.name,
            "define",
            before.value,
            hv.state(slot.name).value,
            True,
            f"{slot.name}: {verb} from {made.origin}",
        )

    def _xml_changed(self, slot: SlotConfig, made: DomainXml) -> bool:
        try:
            return self.xml_path(slot).read_text(encoding="utf-8") != made.xml
        except FileNotFoundError:
            return True

    def _ensure_defined(self, slot: SlotConfig, state_now: DomainState) -> None:
        """Before a start: define a missing domain; redefine one vmim made if its XML changed.

        A domain that vmim did not define (no XML of it under the state dir) is left as
        it is: hand-made definitions are the operator's; 'vmim define' takes one over.
        """
        if state_now == DomainState.NOT_DEFINED:
            self._define(slot, state_now)
            return
        if state_now.active or not self.xml_path(slot).exists():
            return
        made = domainxml.render(slot, self.config, self.hypervisor(slot).uuid(slot.name))
        if self._xml_changed(slot, made):
            self._define(slot, state_now)

    # -- disks and images ----------------------------------------------------------------

    def list_images(self) -> list[Image]:
        """Images (with the base each is and the slots reading it), bare bases, inserts."""
        found = lifecycle.describe(self.config, self.images) if self.config.images else []
        if self.config.extracts:
            found += self.inserts.all()
        return found

    def remove_image(self, name: str, insert: bool = False) -> lifecycle.Removed:
        """Remove an image or insert; an image whose base a slot reads is refused."""
        return lifecycle.remove(self.config, self.inserts if insert else self.images, name)

    def gc(self, dry_run: bool = False) -> lifecycle.Collected:
        """Delete bases nothing uses and temporary files left by killed writers."""
        return lifecycle.gc(self.config, self.images, dry_run)

    def verify(self) -> list[tuple[str, str | None]]:
        """Re-read every base and compare it with its digest."""
        return lifecycle.verify_all(self.images)

    def export_image(
        self,
        image: str,
        name: str,
        fmt: str = "tar.zst",
        partition: int | None = None,
        force: bool = False,
        meter: Meter | None = None,
    ) -> StoreResult:
        """Write the tree inside disk image ``image`` as tree image ``name``."""
        return exports.export_image(self, image, name, fmt, partition, force, meter)

    def mount(self, name: str) -> DiskResult:
        return deploy.mount(self, self.config.slot(name))

    def release(self, name: str) -> DiskResult:
        return deploy.release(self, self.config.slot(name))

    def insert(self, name: str, inserts: Sequence[str], meter: Meter | None = None) -> DiskResult:
        return deploy.insert(self, self.config.slot(name), inserts, meter)

    def store(
        self,
        name: str,
        image: str,
        fmt: str | None = None,
        force: bool = False,
        meter: Meter | None = None,
        compress: bool = False,
    ) -> StoreResult:
        """Save a slot as ``image``: its tree as an archive, or (qcow2/raw) its disk as a base."""
        return deploy.store(self, self.config.slot(name), image, fmt, force, meter, compress)

    def extract(
        self,
        name: str,
        path: str,
        extract_name: str,
        fmt: str = "tar.zst",
        force: bool = False,
        meter: Meter | None = None,
    ) -> StoreResult:
        return deploy.extract(self, self.config.slot(name), path, extract_name, fmt, force, meter)

    def deploy(
        self,
        name: str,
        image: str,
        inserts: Sequence[str] = (),
        up: bool = False,
        wait_ready: bool = False,
        timeout: float | None = None,
        ready_timeout: float = 300.0,
        meter: Meter | None = None,
    ) -> DeployResult:
        return deploy.deploy(
            self,
            self.config.slot(name),
            image,
            inserts,
            up,
            wait_ready,
            timeout,
            ready_timeout,
            meter,
        )

    def import_image(
        self,
        name: str,
        source: Path,
        disk: bool = False,
        size: str = "4G",
        fs: str = "ext4",
        partitioned: bool = False,
        force: bool = False,
    ) -> StoreResult:
        return imports.import_image(self, name, source, disk, size, fs, partitioned, force)

    def deploy_many(
        self,
        pairs: Sequence[tuple[str, str]],
        inserts: Sequence[str] = (),
        up: bool = False,
        wait_ready: bool = False,
        timeout: float | None = None,
        ready_timeout: float = 300.0,
        jobs: int = 4,
        meters: Mapping[str, Meter] | None = None,
    ) -> list[Outcome]:
        """Deploy several slots at once, each under its own lease; one outcome per slot.

        Slot and image names are all checked before any slot is touched; after that a
        failure in one slot stops neither the others nor the report.
        """
        names = [slot for slot, _ in pairs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise UsageError(f"slot '{duplicates[0]}' is named twice", "one image per slot")
        self.resolve(names)
        for _, image in pairs:
            self.images.find(image)

        def one(pair: tuple[str, str]) -> Outcome:
            slot, image = pair
            try:
                result = self.deploy(
                    slot, image, inserts, up, wait_ready, timeout, ready_timeout,
                    (meters or {}).get(slot),
                )  # fmt: skip
            except VmimError as error:
                return Outcome(slot, None, str(error), error.exit_code)
            return Outcome(slot, result, None, 0)

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(one, pairs))
