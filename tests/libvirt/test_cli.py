"""The vmim command against libvirt's test driver: output, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import vmim


def test_list_json_document(host_config: Path) -> None:
    result = vmim("--json", "list", config=host_config)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [s["name"] for s in document["slots"]] == ["s1", "s2", "s3"]
    first = document["slots"][0]
    assert set(first) == {
        "name", "uri", "store_type", "state", "mounted", "locked_by", "image", "deployed_at",
        "dirty",
    }  # fmt: skip
    assert (first["state"], first["mounted"], first["locked_by"]) == ("running", None, None)
    assert document["slots"][2]["state"] == "not defined"


def test_list_table_for_humans(host_config: Path) -> None:
    result = vmim("list", config=host_config)
    assert result.returncode == 0
    header, *rows = result.stdout.strip().splitlines()
    assert header.split() == ["SLOT", "HOST", "STATE", "DISK", "LOCKED", "BY", "IMAGE"]
    assert rows[0].split()[:3] == ["s1", f"test://{host_config.parent}/node.xml", "running"]
    assert "released" in rows[0]


def test_free_lists_only_slots_not_running(host_config: Path) -> None:
    result = vmim("free", config=host_config)
    assert result.stdout.split() == ["s3"]
    assert json.loads(vmim("--json", "free", config=host_config).stdout) == {"free": ["s3"]}


def test_lifecycle_verbs_print_what_they_did(host_config: Path) -> None:
    down = vmim("down", "s1", "s2", config=host_config)
    assert (down.returncode, down.stdout) == (0, "s1: shut down\ns2: shut down\n")
    kill = vmim("--json", "kill", "s1", "s3", config=host_config)
    results = json.loads(kill.stdout)["results"]
    assert [(r["slot"], r["changed"], r["after"]) for r in results] == [
        ("s1", True, "shut off"),
        ("s3", False, "not defined"),
    ]
    quiet = vmim("-q", "restart", "s1", config=host_config)
    assert (quiet.returncode, quiet.stdout) == (0, "")


def test_unknown_slot_is_exit_2_naming_the_known_ones(host_config: Path) -> None:
    result = vmim("up", "nope", config=host_config)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"vmim: error: unknown slot 'nope' in {host_config} (known slots: s1, s2, s3)"
    )


def test_json_errors_are_a_document_too(host_config: Path) -> None:
    result = vmim("--json", "up", "nope", config=host_config)
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert (error["type"], error["exit_code"]) == ("UnknownSlotError", 2)


def test_unreachable_libvirt_is_exit_1_with_uri_and_hint(tmp_path: Path) -> None:
    uri = f"qemu+unix:///system?socket={tmp_path}/no-such-socket"
    cfg = tmp_path / "vmim.cfg"
    cfg.write_text(f"[vmim.local]\nvmemulator = {uri}\n[vmim.vm.1]\nHostName = s1\n")
    result = vmim("list", config=cfg)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert f"cannot connect to libvirt at {uri}" in line
    assert "no-such-socket" in line  # libvirt's own words
    assert "is libvirtd running" in line


def test_verbose_shows_the_traceback(host_config: Path) -> None:
    result = vmim("-v", "up", "nope", config=host_config)
    assert "Traceback" in result.stderr
    assert result.returncode == 2


def test_usage_errors_are_exit_2(host_config: Path) -> None:
    assert vmim("up", config=host_config).returncode == 2
    assert vmim("frobnicate", config=host_config).returncode == 2
    assert vmim("down", "s1", "--timeout", "-1", config=host_config).returncode == 2


def test_version_and_help_on_every_verb() -> None:
    version = vmim("--version")
    assert version.returncode == 0 and "vmim, version" in version.stdout
    for verb in (
        "list",
        "free",
        "up",
        "down",
        "kill",
        "restart",
        "mount",
        "release",
        "insert",
        "images",
        "store",
        "extract",
        "deploy",
    ):
        result = vmim(verb, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout, verb
