"""Inserts and extracts: laid over the slot's tree, never outside it."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.helpers import vmim
from tests.integration.conftest import Host
from tests.integration.test_images import tree_of
from tests.manifest import differences, manifest
from tests.trees import rich_tree


def make_tar(path: Path, members: list[tarfile.TarInfo], data: bytes = b"evil\n") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if member.isreg():
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)
    return path


def regular(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def test_inserts_lay_over_without_deleting(host: Host) -> None:
    rich_tree(host.images / "golden")
    overlay = host.extracts / "overlay"
    (overlay / "etc").mkdir(parents=True)
    (overlay / "etc" / "marker").write_text("overlaid\n")
    (overlay / "root").mkdir()
    (overlay / "root" / "note").write_text("from a directory insert\n")
    make_tar(host.extracts / "archived.tar.gz", [regular("opt/added")], b"from a tar\n")

    result = vmim("--json", "deploy", "img", "golden", "--insert", "overlay",
                  "--insert", "archived", config=host.config)  # fmt: skip
    assert result.returncode == 0, result.stderr
    steps = [s["name"] for s in json.loads(result.stdout)["result"]["steps"]]
    assert steps == ["stop", "restore", "insert overlay", "insert archived", "release"]
    tree = tree_of(host, "img")
    golden = manifest(host.images / "golden")
    assert set(golden) - set(tree) == set()  # nothing deleted
    assert tree["etc/marker"][5] != golden["etc/marker"][5]  # the insert won
    assert vmim("mount", "img", config=host.config).returncode == 0
    try:
        mnt = host.mountpoint("img")
        assert (mnt / "opt" / "added").read_text() == "from a tar\n"
        assert (mnt / "root" / "note").read_text() == "from a directory insert\n"
    finally:
        assert vmim("release", "img", config=host.config).returncode == 0
    slot = json.loads(vmim("--json", "list", "img", config=host.config).stdout)["slots"][0]
    assert slot["image"] == "golden"


def test_extract_then_insert_lands_at_the_same_place(host: Host) -> None:
    tree = rich_tree(host.images / "golden")
    local = tree / "usr" / "local"
    rich_tree(local / "share", marker="local", bulk_files=5)
    assert vmim("deploy", "blk", "golden", config=host.config).returncode == 0

    extracted = vmim("--json", "extract", "blk", "/usr/local", "local", config=host.config)
    assert extracted.returncode == 0, extracted.stderr
    assert json.loads(extracted.stdout)["result"]["path"] == str(host.extracts / "local.tar.zst")

    (host.images / "bare").mkdir()
    assert vmim("deploy", "img", "bare", "--insert", "local", config=host.config).returncode == 0
    assert vmim("mount", "img", config=host.config).returncode == 0
    try:
        got = manifest(host.mountpoint("img") / "usr" / "local")
    finally:
        assert vmim("release", "img", config=host.config).returncode == 0
    assert differences(manifest(local), got) == []


def test_extract_of_a_missing_path_and_a_relative_path(host: Host) -> None:
    (host.images / "bare").mkdir()
    assert vmim("deploy", "img", "bare", config=host.config).returncode == 0
    missing = vmim("extract", "img", "/no/such", "x", config=host.config)
    assert missing.returncode == 1 and "/no/such does not exist" in missing.stderr
    relative = vmim("extract", "img", "usr", "x", config=host.config)
    assert relative.returncode == 2 and "must be absolute" in relative.stderr
    assert list(host.extracts.iterdir()) == []


def hostile_cases(outside: Path) -> dict[str, tuple[list[tarfile.TarInfo], str]]:
    return {
        "absolute": ([regular(f"{outside}/absolute")], "has an absolute path"),
        "dotdot": ([regular("etc/../../escape")], "has '..' in its path"),
        "symlink-in-archive": (
            [link("sneaky", str(outside)), regular("sneaky/through-link")],
            "is reached through the symlink 'sneaky' in the same archive",
        ),
        "symlink-in-slot": ([regular("outward/planted")], "points outside the slot's tree"),
        "hardlink": ([link("etc/pw", "/etc/passwd", hard=True)], "is a hard link to"),
    }


@pytest.mark.parametrize(
    "case", ["absolute", "dotdot", "symlink-in-archive", "symlink-in-slot", "hardlink"]
)
def test_hostile_insert_archives_are_refused_and_write_nothing(host: Host, case: str) -> None:
    outside = Path(f"/tmp/vmim-outside-{uuid.uuid4().hex}")
    outside.mkdir()
    try:
        golden = rich_tree(host.images / "golden")
        (golden / "outward").symlink_to(outside)  # a symlink in the slot that leaves it
        members, reason = hostile_cases(outside)[case]
        make_tar(host.extracts / "hostile.tar.gz", [regular("first-member"), *members])
        assert vmim("deploy", "img", "golden", config=host.config).returncode == 0
        before = tree_of(host, "img")

        result = vmim("insert", "img", "hostile", config=host.config)
        assert result.returncode == 1
        assert reason in result.stderr
        assert "nothing was written" in result.stderr
        assert list(outside.iterdir()) == []
        assert not Path("/escape").exists()
        assert differences(before, tree_of(host, "img")) == []
    finally:
        for child in outside.iterdir():
            child.unlink()
        outside.rmdir()
