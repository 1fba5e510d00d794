"""A slot section is all a host needs: the domain comes from the built-in template."""

from __future__ import annotations

import json

import libvirt

from tests.e2e.conftest import MakeHost
from tests.helpers import vmim
from vmim.testbed.guest import make_root_tree


def max_memory_mib(uri: str, name: str) -> int:
    conn = libvirt.open(uri)
    try:
        return int(conn.lookupByName(name).maxMemory()) // 1024
    finally:
        conn.close()


def test_up_defines_from_the_template_and_redefines_after_a_change(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-tpl"], define=False, marker="from-template")
    slot = "vmim-e2e-tpl"
    assert json.loads(vmim("--json", "list", slot, config=host.config).stdout)["slots"][0][
        "state"] == "not defined"  # fmt: skip

    up = vmim("up", slot, config=host.config)
    assert up.returncode == 0, up.stderr
    assert "vmim-guest: marker from-template" in host.wait_console(slot)
    assert max_memory_mib(host.uri, slot) == 128
    assert vmim("down", slot, config=host.config).returncode == 0

    host.config.write_text(host.config.read_text().replace("memory = 128", "memory = 192"))
    assert "<memory unit='MiB'>192</memory>" in vmim("xml", slot, config=host.config).stdout
    again = vmim("up", slot, config=host.config)
    assert again.returncode == 0, again.stderr
    assert max_memory_mib(host.uri, slot) == 192
    assert "vmim-guest: ready" in host.wait_console(slot)
    assert vmim("kill", slot, config=host.config).returncode == 0


def test_deploy_up_on_a_fresh_host_defines_deploys_and_boots(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-fresh"], define=False)
    slot = "vmim-e2e-fresh"
    make_root_tree(host.base / "images" / "A", "image-A")
    result = vmim("deploy", slot, "A", "--up", "--wait-ready", config=host.config)
    assert result.returncode == 0, result.stderr
    assert "vmim-guest: marker image-A" in host.console(slot)
    assert vmim("kill", slot, config=host.config).returncode == 0
    undefined = vmim("undefine", slot, config=host.config)
    assert (undefined.returncode, undefined.stdout) == (0, f"{slot}: undefined\n")
