"""libvirt connections, domain state and lifecycle, waiting through events.

Waiting for a domain to stop listens to libvirt's lifecycle events on a
background event loop instead of sleeping and polling, so ``down`` returns
the moment the guest powers off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import libvirt

from vmim.errors import HypervisorError

log = logging.getLogger(__name__)


class DomainState(StrEnum):
    RUNNING = "running"
    BLOCKED = "blocked"
    PAUSED = "paused"
    SHUTTING_DOWN = "shutting down"
    SHUT_OFF = "shut off"
    CRASHED = "crashed"
    SUSPENDED = "pmsuspended"
    NO_STATE = "no state"
    NOT_DEFINED = "not defined"

    @property
    def active(self) -> bool:
        """True while a guest process exists (its disk is in use)."""
        return self not in (DomainState.SHUT_OFF, DomainState.NOT_DEFINED, DomainState.CRASHED)


_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: DomainState.NO_STATE,
    libvirt.VIR_DOMAIN_RUNNING: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: DomainState.BLOCKED,
    libvirt.VIR_DOMAIN_PAUSED: DomainState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: DomainState.SHUTTING_DOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: DomainState.SHUT_OFF,
    libvirt.VIR_DOMAIN_CRASHED: DomainState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: DomainState.SUSPENDED,
}

_loop_lock = threading.Lock()
_loop_started = False


def _ignore_libvirt_error(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; vmim reports them itself."""


def _ensure_event_loop() -> None:
    """Start libvirt's default event loop once per process, before any connection."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.registerErrorHandler(_ignore_libvirt_error, None)
        libvirt.virEventRegisterDefaultImpl()

        def loop() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=loop, name="libvirt-events", daemon=True).start()
        _loop_started = True


def _message(exc: libvirt.libvirtError) -> str:
    return str(exc.get_error_message() or exc).strip()


class Hypervisor:
    """One libvirt connection; domains are addressed by name."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        _ensure_event_loop()
        try:
            self._conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise HypervisorError(
                f"cannot connect to libvirt at {uri}: {_message(exc)}",
                "is libvirtd running (libvirtd -d)? may this user open that URI?",
            ) from None

    def close(self) -> None:
        try:
            self._conn.close()
        except libvirt.libvirtError as exc:
            log.debug("closing %s: %s", self.uri, _message(exc))

    def _lookup(self, name: str) -> Any | None:
        try:
            return self._conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise self._error(f"cannot look up domain '{name}'", exc) from None

    def _error(self, what: str, exc: libvirt.libvirtError) -> HypervisorError:
        return HypervisorError(f"{what} at {self.uri}: {_message(exc)}")

    def _require(self, name: str) -> Any:
        dom = self._lookup(name)
        if dom is None:
            raise HypervisorError(
                f"domain '{name}' is not defined at {self.uri}",
                f"define it first (virsh -c {self.uri} define FILE)",
            )
        return dom

    def state(self, name: str) -> DomainState:
        dom = self._lookup(name)
        if dom is None:
            return DomainState.NOT_DEFINED
        return self._state_of(dom, name)

    def _state_of(self, dom: Any, name: str) -> DomainState:
        try:
            code = dom.state()[0]
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return DomainState.NOT_DEFINED
            raise self._error(f"cannot read the state of '{name}'", exc) from None
        return _STATES.get(code, DomainState.NO_STATE)

    def uuid(self, name: str) -> str | None:
        dom = self._lookup(name)
        return str(dom.UUIDString()) if dom is not None else None

    def define(self, xml: str) -> None:
        """Define (or redefine) a persistent domain; libvirt's refusal as HypervisorError."""
        try:
            self._conn.defineXML(xml)
        except libvirt.libvirtError as exc:
            raise HypervisorError(_message(exc)) from None

    def undefine(self, name: str) -> None:
        dom = self._require(name)
        self._call(f"cannot undefine '{name}'", dom.undefine)

    def start(self, name: str) -> None:
        dom = self._require(name)
        self._call(f"cannot start '{name}'", dom.create)

    def resume(self, name: str) -> None:
        dom = self._require(name)
        self._call(f"cannot resume '{name}'", dom.resume)

    def destroy(self, name: str) -> None:
        dom = self._require(name)
        try:
            dom.destroy()
        except libvirt.libvirtError as exc:
            # It may have stopped on its own between our look and the destroy.
            if self._state_of(dom, name).active:
                raise self._error(f"cannot destroy '{name}'", exc) from None

    def shutdown_and_wait(self, name: str, timeout: float) -> bool:
        """Ask the guest to power off (ACPI) and wait for it; False if it did not in time."""
        dom = self._require(name)
        stopped = threading.Event()

        def on_event(_conn: Any, _dom: Any, event: int, _detail: int, _opaque: Any) -> None:
            if event in (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_UNDEFINED):
                stopped.set()

        callback_id = self._conn.domainEventRegisterAny(
            dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None
        )
        try:
            if not self._state_of(dom, name).active:
                return True
            try:
                dom.shutdown()
            except libvirt.libvirtError as exc:
                if not self._state_of(dom, name).active:
                    return True
                raise self._error(f"cannot shut down '{name}'", exc) from None
            deadline = time.monotonic() + timeout
            # The event ends the wait; the state check guards against a missed event.
            while self._state_of(dom, name).active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                stopped.wait(min(remaining, 5.0))
            return True
        finally:
            try:
                self._conn.domainEventDeregisterAny(callback_id)
            except libvirt.libvirtError as exc:
                log.debug("deregistering event callback: %s", _message(exc))

    def _call(self, what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except libvirt.libvirtError as exc:
            raise self._error(what, exc) from None
