"""Restore, store and round trips on real filesystems, with a manifest checked each time."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import vmim
from tests.integration.conftest import Host
from tests.manifest import differences, manifest
from tests.trees import rich_tree

BACKENDS = ["img", "blk"]


def archive(tree: Path, dest: Path, fmt: str) -> Path:
    """An image archive made with the plain tools, as an operator would make one."""
    keep = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls", "--sparse"]
    flags = {"tar.gz": ["-z"], "tar.zst": ["--zstd"], "tar.bz2": ["-j"]}
    if fmt in flags:
        subprocess.run(
            ["tar", "-c", *flags[fmt], *keep, "-f", str(dest), "-C", str(tree), "."], check=True
        )
    elif fmt == "cpio.bz2":
        names = subprocess.run(
            ["find", ".", "-mindepth", "1", "-print0"], cwd=tree, capture_output=True, check=True
        ).stdout
        raw = subprocess.run(
            ["cpio", "-o", "-0", "-H", "newc", "--quiet"],
            cwd=tree,
            input=names,
            capture_output=True,
            check=True,
        ).stdout
        dest.write_bytes(
            subprocess.run(["bzip2", "-c"], input=raw, capture_output=True, check=True).stdout
        )
    return dest


def tree_of(host: Host, slot: str) -> dict[str, tuple[object, ...]]:
    """Mount the slot through vmim, read its manifest, release it."""
    assert vmim("mount", slot, config=host.config).returncode == 0
    try:
        return manifest(host.mountpoint(slot))
    finally:
        assert vmim("release", slot, config=host.config).returncode == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fmt", ["directory", "tar.gz", "tar.zst", "tar.bz2", "cpio.bz2"])
def test_deploy_restores_every_format_exactly(host: Host, backend: str, fmt: str) -> None:
    source = rich_tree(host.base / "source", marker=fmt)
    if fmt == "directory":
        image = source.rename(host.images / "golden")
    else:
        image = archive(source, host.images / f"golden.{fmt}", fmt)
    # The slot holds something else first: the restore must remove it, dotfiles too.
    (host.base / "junk").mkdir()
    (host.base / "junk" / ".dotjunk").write_text("x")
    subprocess.run(["cp", "-a", str(host.base / "junk"), str(host.images / "junk")], check=True)
    assert vmim("deploy", backend, "junk", config=host.config).returncode == 0

    result = vmim("--json", "deploy", backend, "golden", config=host.config)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)["result"]
    assert document["format"] == fmt
    assert [s["name"] for s in document["steps"]] == ["stop", "restore", "release"]

    cpio = fmt == "cpio.bz2"
    expected = manifest(
        image if fmt == "directory" else source, with_xattrs=not cpio, with_dir_mtime=not cpio
    )
    got = manifest_of_cpio(host, backend) if fmt == "cpio.bz2" else tree_of(host, backend)
    assert differences(expected, got) == []
    if not cpio:  # cpio has no notion of holes
        assert sparse_blocks(host, backend) < 1024 * 1024
    listing = json.loads(vmim("--json", "list", backend, config=host.config).stdout)["slots"][0]
    assert (listing["image"], listing["dirty"], listing["mounted"]) == ("golden", False, None)


def sparse_blocks(host: Host, slot: str) -> int:
    """Bytes allocated to the 5 MB sparse file of the rich tree, in the slot."""
    assert vmim("mount", slot, config=host.config).returncode == 0
    try:
        return (host.mountpoint(slot) / "data" / "sparse").stat().st_blocks * 512
    finally:
        assert vmim("release", slot, config=host.config).returncode == 0


def manifest_of_cpio(host: Host, slot: str) -> dict[str, tuple[object, ...]]:
    # cpio (the seed's legacy format) carries no xattrs or ACLs, and its mtimes of
    # directories are those of extraction time.
    assert vmim("mount", slot, config=host.config).returncode == 0
    try:
        got = manifest(host.mountpoint(slot), with_xattrs=False, with_dir_mtime=False)
    finally:
        assert vmim("release", slot, config=host.config).returncode == 0
    return got


@pytest.mark.parametrize("fmt", ["tar.zst", "tar.gz", "rsync"])
def test_store_then_deploy_round_trip(host: Host, fmt: str) -> None:
    rich_tree(host.images / "golden")
    assert vmim("deploy", "img", "golden", config=host.config).returncode == 0
    before = tree_of(host, "img")

    stored = vmim("--json", "store", "img", "copy", "--format", fmt, config=host.config)
    assert stored.returncode == 0, stored.stderr
    result = json.loads(stored.stdout)["result"]
    assert result["format"] == ("directory" if fmt == "rsync" else fmt)
    assert Path(result["path"]).exists()
    assert not any(".vmim-tmp-" in p.name for p in host.images.iterdir())

    deployed = vmim("deploy", "blk", "copy", config=host.config)
    assert deployed.returncode == 0, deployed.stderr
    assert differences(before, tree_of(host, "blk")) == []

    images = json.loads(vmim("--json", "images", config=host.config).stdout)["images"]
    formats = {i["name"]: i["format"] for i in images}
    assert formats == {"golden": "directory", "copy": result["format"]}


def test_store_refuses_to_replace_without_force_and_replaces_with_it(host: Host) -> None:
    rich_tree(host.images / "golden", marker="one")
    assert vmim("deploy", "img", "golden", config=host.config).returncode == 0
    assert vmim("store", "img", "saved", config=host.config).returncode == 0
    again = vmim("store", "img", "saved", config=host.config)
    assert again.returncode == 1
    assert "image 'saved' exists already" in again.stderr and "--force" in again.stderr

    (host.images / "golden" / "etc" / "marker").write_text("two\n")
    assert vmim("deploy", "img", "golden", config=host.config).returncode == 0
    replaced = vmim("store", "img", "saved", "--force", "--format", "rsync", config=host.config)
    assert replaced.returncode == 0, replaced.stderr
    # Same name, new format: the old archive is gone, the directory holds the new tree.
    assert sorted(p.name for p in host.images.iterdir()) == ["golden", "saved"]
    assert (host.images / "saved" / "etc" / "marker").read_text() == "two\n"


def test_restore_keeps_lost_and_found_and_removes_dotfiles(host: Host) -> None:
    (host.images / "first").mkdir()
    (host.images / "first" / ".profile").write_text("old")
    (host.images / "second").mkdir()
    (host.images / "second" / "new").write_text("new")
    for image in ("first", "second"):
        assert vmim("deploy", "img", image, config=host.config).returncode == 0
    assert vmim("mount", "img", config=host.config).returncode == 0
    try:
        names = sorted(p.name for p in host.mountpoint("img").iterdir())
    finally:
        assert vmim("release", "img", config=host.config).returncode == 0
    assert names == ["lost+found", "new"]


def test_switching_images_compares_content_not_only_size_and_mtime(host: Host) -> None:
    # Reproducibly built images clamp mtimes: equal size and mtime, other content.
    for name, text in (("one", "content-1\n"), ("two", "content-2\n")):
        (host.images / name).mkdir()
        (host.images / name / "file").write_text(text)
        os.utime(host.images / name / "file", (1_700_000_000, 1_700_000_000))
    assert vmim("deploy", "img", "one", config=host.config).returncode == 0
    assert vmim("deploy", "img", "two", config=host.config).returncode == 0
    assert vmim("mount", "img", config=host.config).returncode == 0
    try:
        assert (host.mountpoint("img") / "file").read_text() == "content-2\n"
    finally:
        assert vmim("release", "img", config=host.config).returncode == 0


def test_redeploying_the_same_image_uses_rsync_quick_check(host: Host) -> None:
    (host.images / "one").mkdir()
    (host.images / "one" / "file").write_text("x\n")
    (host.images / "two").mkdir()

    def rsync_line(image: str) -> str:
        result = vmim("-vv", "deploy", "img", image, config=host.config)
        assert result.returncode == 0, result.stderr
        return next(line for line in result.stderr.splitlines() if "rsync" in line)

    assert "--checksum" in rsync_line("one")  # the slot held nothing known
    assert "--checksum" not in rsync_line("one")  # the same image again: quick
    assert "--checksum" in rsync_line("two")  # another image
