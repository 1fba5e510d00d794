"""reflink slots on XFS and btrfs made by the tests: resets that copy nothing."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import vmim
from tests.manifest import differences, manifest
from tests.trees import rich_tree


@dataclass
class CowHost:
    base: Path
    config: Path
    images: Path

    def mountpoint(self) -> Path:
        return self.base / "mnt" / "cow"


def _mkfs(path: Path, fstype: str) -> Path:
    with path.open("wb") as f:
        f.truncate(1 << 30)
    argv = {
        "xfs": ["mkfs.xfs", "-q", "-f", "-m", "reflink=1"],
        "btrfs": ["mkfs.btrfs", "-q", "-f"],
        "ext4": ["mke2fs", "-q", "-F", "-t", "ext4"],
    }
    subprocess.run([*argv[fstype], str(path)], check=True)  # fmt: skip
    return path


@pytest.fixture(params=["xfs", "btrfs"])
def cow_host(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CowHost]:
    """A filesystem of ``request.param`` holding the image store and a reflink slot's disk."""
    yield from _cow_host(tmp_path, str(request.param))


def _cow_host(tmp_path: Path, fstype: str) -> Iterator[CowHost]:
    backing = _mkfs(tmp_path / f"{fstype}.fs", fstype)
    store_fs = tmp_path / "fs"
    store_fs.mkdir()
    subprocess.run(["mount", "-o", "loop", str(backing), str(store_fs)], check=True)
    try:
        (store_fs / "images").mkdir()
        (tmp_path / "node.xml").write_text("<node/>\n")
        cfg = tmp_path / "vmim.cfg"
        cfg.write_text(f"[vmim.local]\nvmemulator = test://{tmp_path / 'node.xml'}\n"
                       f"statedir = state\nvmimages = {store_fs / 'images'}\n"
                       f"[vmim.vm.cow]\nHostName = cow\nstore_type = reflink\n"
                       f"HostDisk = {store_fs / 'slots' / 'cow.img'}\npartition = 1\n"
                       f"mount = mnt/cow\n")  # fmt: skip
        yield CowHost(tmp_path, cfg, store_fs / "images")
    finally:
        subprocess.run(["umount", str(tmp_path / "mnt" / "cow")], capture_output=True,
                       check=False)  # fmt: skip
        subprocess.run(["umount", str(store_fs)], check=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def slot_tree(host: CowHost) -> dict[str, tuple[object, ...]]:
    assert vmim("mount", "cow", config=host.config).returncode == 0
    try:
        return manifest(host.mountpoint())
    finally:
        assert vmim("release", "cow", config=host.config).returncode == 0


def test_deploy_clones_the_disk_image_and_resets_the_guests_changes(cow_host: CowHost) -> None:
    source = rich_tree(cow_host.base / "source")
    imported = vmim("--json", "import", "golden", "--from", str(source), "--disk", "--size",
                    "64M", "--partitioned", config=cow_host.config)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    image = Path(json.loads(imported.stdout)["result"]["path"])
    assert json.loads(imported.stdout)["result"]["format"] == "raw disk"
    before = digest(image)

    for _ in range(2):
        result = vmim("--json", "deploy", "cow", "golden", config=cow_host.config)
        assert result.returncode == 0, result.stderr
        assert differences(manifest(source), slot_tree(cow_host)) == []
        # What the guest would change: a file written, a file removed.
        assert vmim("mount", "cow", config=cow_host.config).returncode == 0
        (cow_host.mountpoint() / "guest-was-here").write_text("x")
        (cow_host.mountpoint() / "etc" / "marker").unlink()
        assert vmim("release", "cow", config=cow_host.config).returncode == 0
    assert digest(image) == before  # the image never changes

    # The slot's disk shares the image's extents: cloning allocated nothing new.
    assert vmim("deploy", "cow", "golden", config=cow_host.config).returncode == 0
    shared = subprocess.run(["filefrag", "-v", str(cow_host.base / "fs" / "slots" / "cow.img")],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "shared" in shared


def test_a_tree_image_goes_into_a_reflink_slot_too(cow_host: CowHost) -> None:
    rich_tree(cow_host.base / "source")
    assert vmim("import", "disk", "--from", str(cow_host.base / "source"), "--disk", "--size",
                "64M", "--partitioned", config=cow_host.config).returncode == 0  # fmt: skip
    assert vmim("deploy", "cow", "disk", config=cow_host.config).returncode == 0
    tree = rich_tree(cow_host.images / "tree", marker="tree")
    result = vmim("deploy", "cow", "tree", config=cow_host.config)
    assert result.returncode == 0, result.stderr
    assert differences(manifest(tree), slot_tree(cow_host)) == []


@pytest.fixture
def ext4_host(tmp_path: Path) -> Iterator[CowHost]:
    yield from _cow_host(tmp_path, "ext4")


def test_reflink_on_ext4_is_refused_naming_the_filesystem(ext4_host: CowHost) -> None:
    host = ext4_host
    (host.base / "tree").mkdir()
    assert vmim("import", "golden", "--from", str(host.base / "tree"), "--disk", "--size",
                "16M", config=host.config).returncode == 0  # fmt: skip
    result = vmim("deploy", "cow", "golden", config=host.config)
    assert result.returncode == 1
    assert f"ext4 at {host.base / 'fs'} cannot share extents (reflink)" in result.stderr
    assert "store_type = qcow2" in result.stderr
    assert not (host.base / "fs" / "slots" / "cow.img").exists()  # no silent full copy


def test_a_disk_image_into_a_tree_slot_is_refused_before_anything(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "tree").mkdir()
    (tmp_path / "node.xml").write_text("<node/>\n")
    cfg = tmp_path / "vmim.cfg"
    cfg.write_text(f"[vmim.local]\nvmemulator = test://{tmp_path / 'node.xml'}\n"
                   "statedir = state\nvmimages = images\n[vmim.vm.1]\nHostName = t\n"
                   "store_type = diskimage\nHostDisk = t.img\n")  # fmt: skip
    assert vmim("import", "d", "--from", str(tmp_path / "tree"), "--disk", "--size", "16M",
                config=cfg).returncode == 0  # fmt: skip
    result = vmim("deploy", "t", "d", config=cfg)
    assert result.returncode == 2
    assert "image 'd' is a raw disk image; slot 't' (diskimage) restores trees" in result.stderr
    assert "'vmim export' makes a tree of a disk image" in result.stderr


def test_two_slots_of_one_xfs_image_mount_side_by_side(cow_host: CowHost) -> None:
    # Clones share the filesystem UUID, which XFS refuses twice unless told otherwise.
    fs = cow_host.base / "fs"
    text = cow_host.config.read_text() + (
        f"[vmim.vm.twin]\nHostName = twin\nstore_type = reflink\n"
        f"HostDisk = {fs / 'slots' / 'twin.img'}\npartition = 1\nmount = mnt/twin\n"
    )
    cow_host.config.write_text(text)
    (cow_host.base / "tree").mkdir()
    imported = vmim("import", "x", "--from", str(cow_host.base / "tree"), "--disk", "--fs",
                    "xfs", "--size", "320M", "--partitioned", config=cow_host.config)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    result = vmim("deploy", "cow=x", "twin=x", config=cow_host.config)
    assert result.returncode == 0, result.stderr
    assert vmim("mount", "cow", config=cow_host.config).returncode == 0
    try:
        second = vmim("mount", "twin", config=cow_host.config)
        assert second.returncode == 0, second.stderr
        assert vmim("release", "twin", config=cow_host.config).returncode == 0
    finally:
        assert vmim("release", "cow", config=cow_host.config).returncode == 0


def test_insert_extract_store_as_a_base_and_deploy_again(cow_host: CowHost) -> None:
    source = rich_tree(cow_host.base / "source")
    assert vmim("import", "golden", "--from", str(source), "--disk", "--size", "64M",
                "--partitioned", config=cow_host.config).returncode == 0  # fmt: skip
    golden = (cow_host.images / "golden.img").resolve()
    before = digest(golden)
    extracts = cow_host.base / "extracts"
    (extracts / "extra" / "opt").mkdir(parents=True)
    (extracts / "extra" / "opt" / "added").write_text("inserted\n")
    config = cow_host.config.read_text().replace("[vmim.vm.cow]", f"vmextracts = {extracts}\n"
                                                 "[vmim.vm.cow]")  # fmt: skip
    cow_host.config.write_text(config)

    deployed = vmim("deploy", "cow", "golden", "--insert", "extra", config=cow_host.config)
    assert deployed.returncode == 0, deployed.stderr
    tree = slot_tree(cow_host)
    assert (
        tree["opt/added"]
        and differences(
            manifest(source), {k: v for k, v in tree.items() if not k.startswith("opt")}
        )
        == []
    )
    assert vmim("extract", "cow", "/opt", "opt", config=cow_host.config).returncode == 0
    assert (extracts / "opt.tar.zst").exists()

    stored = vmim("--json", "store", "cow", "with-opt", "--format", "raw", config=cow_host.config)
    assert stored.returncode == 0, stored.stderr
    base = Path(json.loads(stored.stdout)["result"]["path"]).resolve()
    assert base.name == f"sha256-{digest(base)}.raw"
    assert vmim("deploy", "cow", "golden", config=cow_host.config).returncode == 0
    assert "opt/added" not in slot_tree(cow_host)
    assert vmim("deploy", "cow", "with-opt", config=cow_host.config).returncode == 0
    assert "opt/added" in slot_tree(cow_host)
    assert digest(golden) == before
