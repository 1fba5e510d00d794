"""Several slots reset at once, each under its own lease, one result per slot."""

from __future__ import annotations

import json
import os

from tests.helpers import vmim
from tests.integration.conftest import Host
from tests.integration.test_images import tree_of
from tests.manifest import differences, manifest
from tests.trees import rich_tree


def test_parallel_deploy_resets_each_slot_and_reports_each(host: Host) -> None:
    rich_tree(host.images / "one", marker="one")
    rich_tree(host.images / "two", marker="two")
    result = vmim("--json", "deploy", "img=one", "blk=two", "--jobs", "2", config=host.config)
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)["results"]
    assert [(o["slot"], o["result"]["image"], o["error"]) for o in outcomes] == [
        ("img", "one", None), ("blk", "two", None)]  # fmt: skip
    assert differences(manifest(host.images / "one"), tree_of(host, "img")) == []
    assert differences(manifest(host.images / "two"), tree_of(host, "blk")) == []


def test_one_failing_slot_stops_neither_the_others_nor_the_report(host: Host) -> None:
    (host.images / "small").mkdir()
    (host.images / "small" / "file").write_text("fits\n")
    (host.images / "huge").mkdir()
    chunk = os.urandom(1 << 20)
    for i in range(40):
        (host.images / "huge" / f"f{i}").write_bytes(chunk[i:] + chunk[:i])
    result = vmim("deploy", "tiny=huge", "img=small", config=host.config)
    assert result.returncode == 1
    assert result.stdout.startswith("img: deployed small")
    assert "vmim: error: tiny: deploy of 'huge' into slot 'tiny' failed at restore" in result.stderr
    slots = {s["name"]: s for s in json.loads(vmim("--json", "list", config=host.config).stdout)
             ["slots"]}  # fmt: skip
    assert (slots["img"]["image"], slots["img"]["dirty"]) == ("small", False)
    assert slots["tiny"]["dirty"] is True


def test_pairs_are_checked_before_any_slot_is_touched(host: Host) -> None:
    (host.images / "small").mkdir()
    for argv, message in (
        (["img=small", "blk=nope"], "no image named 'nope'"),
        (["img=small", "ghost=small"], "unknown slot 'ghost'"),
        (["img=small", "img=small"], "slot 'img' is named twice"),
        (["img", "small", "blk"], "cannot read 'img'"),
    ):
        result = vmim("deploy", *argv, config=host.config)
        assert result.returncode == 2, argv
        assert message in result.stderr, (argv, result.stderr)
    listing = json.loads(vmim("--json", "list", config=host.config).stdout)["slots"]
    assert all(s["image"] is None for s in listing)
