"""The one-line redeploy on real libvirt: what the guest sees after each reset."""

from __future__ import annotations

import json

from tests.e2e.conftest import MakeHost
from tests.helpers import vmim
from vmim.testbed.guest import make_root_tree


def test_deploy_boot_store_and_deploy_again(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-deploy"], marker="initial")
    slot = "vmim-e2e-deploy"
    images = host.base / "images"
    make_root_tree(images / "A", "image-A", write="written by the guest of A")
    make_root_tree(images / "B", "image-B")

    first = vmim("deploy", slot, "A", "--up", "--wait-ready", config=host.config)
    assert first.returncode == 0, first.stderr
    assert f"{slot}: ready: vmim-guest: ready" in first.stdout
    console = host.console(slot)
    assert "vmim-guest: marker image-A" in console
    assert "vmim-guest: wrote /root/guest-wrote" in console
    assert "found /root/guest-wrote" not in console  # a fresh tree

    down = vmim("down", slot, config=host.config)
    assert down.returncode == 0, down.stderr
    stored = vmim("store", slot, "C", config=host.config)
    assert stored.returncode == 0, stored.stderr

    second = vmim("deploy", slot, "B", "--up", "--wait-ready", config=host.config)
    assert second.returncode == 0, second.stderr
    console = host.console(slot)
    assert "vmim-guest: marker image-B" in console
    assert "guest-wrote" not in console

    # deploy stops the running guest itself, then resets it to what the first guest left.
    third = vmim("--json", "deploy", slot, "C", "--up", "--wait-ready", config=host.config)
    assert third.returncode == 0, third.stderr
    result = json.loads(third.stdout)["result"]
    assert (result["format"], result["state"]) == ("tar.zst", "running")
    assert [s["name"] for s in result["steps"]] == [
        "stop",
        "restore",
        "release",
        "start",
        "ready",
    ]
    console = host.console(slot)
    assert "vmim-guest: marker image-A" in console
    assert "vmim-guest: found /root/guest-wrote written by the guest of A" in console

    listing = json.loads(vmim("--json", "list", slot, config=host.config).stdout)["slots"][0]
    assert (listing["image"], listing["state"], listing["mounted"]) == ("C", "running", None)
    assert vmim("kill", slot, config=host.config).returncode == 0


def test_deploy_with_an_insert_and_a_slot_not_yet_defined(e2e_host: MakeHost) -> None:
    host = e2e_host(["vmim-e2e-undef"], define=False)
    slot = "vmim-e2e-undef"
    make_root_tree(host.base / "images" / "A", "image-A")
    note = host.base / "extracts" / "note"
    (note / "root").mkdir(parents=True)
    (note / "root" / "note").write_text("laid over by vmim\n")
    # No domain in libvirt yet: it counts as stopped, so a deploy without --up works.
    result = vmim("deploy", slot, "A", "--insert", "note", config=host.config)
    assert result.returncode == 0, result.stderr
    assert vmim("mount", slot, config=host.config).returncode == 0
    try:
        assert (host.base / "mnt" / slot / "root" / "note").read_text() == "laid over by vmim\n"
        assert (host.base / "mnt" / slot / "etc" / "vmim-marker").read_text() == "image-A\n"
    finally:
        assert vmim("release", slot, config=host.config).returncode == 0
