"""qcow2 slots: overlays on bases named by their digest, reset by making a new overlay."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import vmim
from tests.integration.conftest import QcowHost
from tests.manifest import differences, manifest
from tests.trees import rich_tree
from vmim.images import bases


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_disk(host: QcowHost, name: str, source: Path) -> Path:
    result = vmim("--json", "import", name, "--from", str(source), "--disk", "--size", "64M",
                  "--partitioned", config=host.config)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return Path(json.loads(result.stdout)["result"]["path"])


def slot_tree(host: QcowHost, slot: str = "q") -> dict[str, tuple[object, ...]]:
    assert vmim("mount", slot, config=host.config).returncode == 0
    try:
        return manifest(host.base / "mnt" / slot)
    finally:
        assert vmim("release", slot, config=host.config).returncode == 0


def backing(overlay: Path) -> str:
    info = subprocess.run(["qemu-img", "info", "--output=json", str(overlay)],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    return str(json.loads(info)["backing-filename"])


def views_running() -> list[str]:
    """qemu-storage-daemon processes still alive (exited ones wait briefly for init as zombies)."""
    found = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True,
                           check=True).stdout  # fmt: skip
    return [line for line in found.splitlines()
            if "qemu-storage-daemon" in line and not line.startswith("Z")]  # fmt: skip


def test_import_names_the_base_by_its_digest_and_keeps_it_read_only(qhost: QcowHost) -> None:
    image = import_disk(qhost, "golden", rich_tree(qhost.base / "source"))
    assert image == qhost.images / "golden.img" and image.is_symlink()
    [base] = qhost.bases()
    assert base.name == f"sha256-{sha256(base)}.raw"
    assert image.resolve() == base
    assert base.stat().st_mode & 0o222 == 0
    listing = json.loads(vmim("--json", "images", config=qhost.config).stdout)["images"]
    assert [(i["name"], i["format"], i["base"]) for i in listing] == [
        ("golden", "raw disk", f"sha256:{sha256(base)[:12]}")
    ]


def test_deploy_mount_insert_extract_store_and_deploy_again(qhost: QcowHost) -> None:
    source = rich_tree(qhost.base / "source")
    import_disk(qhost, "golden", source)
    [base] = qhost.bases()
    before = sha256(base)
    insert = qhost.base / "extracts" / "extra"
    (insert / "opt").mkdir(parents=True)
    (insert / "opt" / "added").write_text("inserted\n")

    deployed = vmim("--json", "deploy", "q", "golden", "--insert", "extra", config=qhost.config)
    assert deployed.returncode == 0, deployed.stderr
    assert backing(qhost.overlay) == str(base)
    tree = slot_tree(qhost)
    assert differences(manifest(source), {k: v for k, v in tree.items() if "opt" not in k}) == []
    assert "opt/added" in tree
    assert views_running() == []  # release stopped the raw view

    # What a guest would do: write a file and remove one.
    assert vmim("mount", "q", config=qhost.config).returncode == 0
    (qhost.mountpoint() / "guest-was-here").write_text("x\n")
    (qhost.mountpoint() / "etc" / "marker").unlink()
    assert vmim("release", "q", config=qhost.config).returncode == 0

    extracted = vmim("extract", "q", "/opt", "opt-saved", config=qhost.config)
    assert extracted.returncode == 0, extracted.stderr
    stored = vmim("--json", "store", "q", "changed", config=qhost.config)
    assert stored.returncode == 0, stored.stderr
    result = json.loads(stored.stdout)["result"]
    assert result["format"] == "qcow2" and Path(result["path"]).is_symlink()
    changed = Path(result["path"]).resolve()
    assert changed.name == f"sha256-{sha256(changed)}.qcow2"

    # A reset drops every change; the stored image keeps them.
    assert vmim("deploy", "q", "golden", config=qhost.config).returncode == 0
    assert differences(manifest(source), slot_tree(qhost)) == []
    assert vmim("deploy", "q", "changed", config=qhost.config).returncode == 0
    assert backing(qhost.overlay) == str(changed)
    tree = slot_tree(qhost)
    assert "guest-was-here" in tree and "etc/marker" not in tree and "opt/added" in tree
    assert sha256(base) == before  # bases never change
    assert (qhost.base / "extracts" / "opt-saved.tar.zst").exists()


def test_images_shows_the_slots_on_each_base_and_remove_refuses_a_base_in_use(
    qhost: QcowHost,
) -> None:
    import_disk(qhost, "golden", rich_tree(qhost.base / "source"))
    assert vmim("deploy", "q", "golden", config=qhost.config).returncode == 0
    assert vmim("deploy", "r", "golden", config=qhost.config).returncode == 0
    listing = json.loads(vmim("--json", "images", config=qhost.config).stdout)["images"]
    assert listing[0]["used_by"] == ["q", "r"]
    table = vmim("images", config=qhost.config).stdout
    assert "q,r" in table

    refused = vmim("remove", "golden", config=qhost.config)
    assert refused.returncode == 1
    assert "image 'golden' is in use: slot(s) q, r" in refused.stderr
    assert (qhost.images / "golden.img").exists()

    # gc keeps a base a slot reads even when no name points at it any more.
    (qhost.base / "other").mkdir()
    (qhost.base / "other" / "f").write_text("other\n")
    import_disk(qhost, "other", qhost.base / "other")
    assert vmim("deploy", "q", "other", config=qhost.config).returncode == 0
    assert vmim("deploy", "r", "other", config=qhost.config).returncode == 0
    removed = vmim("remove", "golden", config=qhost.config)
    assert removed.returncode == 0, removed.stderr
    assert len(qhost.bases()) == 2
    dry = vmim("gc", "--dry-run", config=qhost.config)
    assert "would delete" in dry.stdout and len(qhost.bases()) == 2
    assert vmim("deploy", "q", "other", config=qhost.config).returncode == 0
    collected = vmim("--json", "gc", config=qhost.config)
    assert collected.returncode == 0, collected.stderr
    result = json.loads(collected.stdout)["result"]
    assert len(result["removed"]) == 1 and len(result["kept"]) == 1
    assert [b.resolve() for b in qhost.bases()] == [(qhost.images / "other.img").resolve()]
    assert differences(manifest(qhost.base / "other"), slot_tree(qhost)) == []


def test_a_corrupted_base_is_refused_by_name_and_the_slot_is_untouched(qhost: QcowHost) -> None:
    import_disk(qhost, "golden", rich_tree(qhost.base / "source"))
    (qhost.base / "other").mkdir()
    import_disk(qhost, "other", qhost.base / "other")
    assert vmim("deploy", "q", "other", config=qhost.config).returncode == 0
    before = backing(qhost.overlay)
    base = (qhost.images / "golden.img").resolve()
    with base.open("r+b") as disk:  # root writes through the read-only mode
        disk.seek(2 * 1024 * 1024)
        disk.write(b"bit rot")

    result = vmim("deploy", "q", "golden", config=qhost.config)
    assert result.returncode == 1
    assert f"base {base.name} is corrupted" in result.stderr
    assert backing(qhost.overlay) == before
    verified = vmim("verify", config=qhost.config)
    assert (
        verified.returncode == 1
        and f"{base.name}: base {base.name} is corrupted" in verified.stdout
    )


def test_a_plain_disk_image_needs_to_become_a_base_first(qhost: QcowHost) -> None:
    (qhost.base / "t").mkdir()
    (qhost.base / "t" / "f").write_text("plain\n")
    built = import_disk(qhost, "golden", qhost.base / "t")
    plain = qhost.images / "plain.img"
    subprocess.run(["cp", str(built), str(plain)], check=True)
    refused = vmim("deploy", "q", "plain", config=qhost.config)
    assert refused.returncode == 2
    assert f"image 'plain' ({plain}) is not a base image" in refused.stderr
    assert f"vmim import plain --from {plain} --force" in refused.stderr
    assert not qhost.overlay.exists()

    fixed = vmim("import", "plain", "--from", str(plain), "--force", config=qhost.config)
    assert fixed.returncode == 0, fixed.stderr
    assert plain.is_symlink() and plain.resolve() == built.resolve()  # same bytes, one base
    assert vmim("deploy", "q", "plain", config=qhost.config).returncode == 0
    assert (qhost.images / ".bases").is_dir() and len(qhost.bases()) == 1
    assert "f" in slot_tree(qhost)


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_export_turns_a_disk_image_back_into_a_tree(qhost: QcowHost, fmt: str) -> None:
    source = rich_tree(qhost.base / "source")
    import_disk(qhost, "golden", source)
    assert vmim("deploy", "q", "golden", config=qhost.config).returncode == 0
    extra = ["--compress"] if fmt == "qcow2" else []
    stored = vmim("store", "q", "disk", "--format", fmt, *extra, config=qhost.config)
    assert stored.returncode == 0, stored.stderr
    exported = vmim("--json", "export", "disk", "tree", config=qhost.config)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["result"]["format"] == "tar.zst"
    assert views_running() == []
    # The tree image serves any slot; here it goes into the overlay's filesystem.
    assert vmim("deploy", "q", "tree", config=qhost.config).returncode == 0
    tree = slot_tree(qhost)
    assert differences(manifest(source), {k: v for k, v in tree.items() if k != "lost+found"}) == []
    again = vmim("export", "disk", "tree", config=qhost.config)
    assert again.returncode == 1 and "add --force" in again.stderr


def test_up_before_the_first_deploy_says_the_slot_has_no_disk_yet(qhost: QcowHost) -> None:
    result = vmim("up", "q", config=qhost.config)
    assert result.returncode == 1
    assert f"slot 'q' has no disk yet: {qhost.overlay} is made by its first deploy" in result.stderr
    assert "vmim deploy q IMAGE" in result.stderr


def test_a_qcow2_disk_file_is_imported_as_a_qcow2_base(qhost: QcowHost) -> None:
    source = rich_tree(qhost.base / "source")
    raw = import_disk(qhost, "golden", source).resolve()
    outside = qhost.base / "golden.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(outside)],
                   check=True)  # fmt: skip
    imported = vmim("--json", "import", "q2", "--from", str(outside), config=qhost.config)
    assert imported.returncode == 0, imported.stderr
    result = json.loads(imported.stdout)["result"]
    assert result["format"] == "qcow2" and result["path"] == str(qhost.images / "q2.qcow2")
    assert (qhost.images / "q2.qcow2").resolve().name == f"sha256-{sha256(outside)}.qcow2"
    assert vmim("deploy", "q", "q2", config=qhost.config).returncode == 0
    assert differences(manifest(source), slot_tree(qhost)) == []


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["store", "q", "x", "--format", "tar.zst", "--compress"], 2,
         "--compress is for qcow2 images"),
        (["export", "tree", "x"], 2, "image 'tree' is a directory image already"),
        (["export", "golden", "x", "--partition", "9"], 2,
         "image 'golden' has no partition 9 (partitions: 1)"),
        (["remove", "nothing"], 2, "no image named 'nothing'"),
        (["deploy", "q", "nothing"], 2, "no image named 'nothing'"),
        (["mount", "q"], 1, "slot 'q': HostDisk"),
    ],
)  # fmt: skip
def test_bad_input_gets_one_line_naming_the_thing(
    qhost: QcowHost, args: list[str], code: int, says: str
) -> None:
    (qhost.images / "tree").mkdir()
    (qhost.base / "t").mkdir()
    import_disk(qhost, "golden", qhost.base / "t")
    result = vmim(*args, config=qhost.config)
    assert result.returncode == code, result.stderr
    assert says in result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert not qhost.overlay.exists() and views_running() == []


def test_gc_waits_while_a_base_is_being_added_or_put_under_a_slot(qhost: QcowHost) -> None:
    (qhost.base / "t").mkdir()
    import_disk(qhost, "golden", qhost.base / "t")
    assert vmim("remove", "golden", config=qhost.config).returncode == 0
    assert len(qhost.bases()) == 1  # no name points at it: garbage
    # What an import between adopting and linking, or a deploy making an overlay, holds.
    with bases.guarded(qhost.images / ".bases"):
        child = subprocess.Popen(
            [sys.executable, "-m", "vmim", "--config", str(qhost.config), "gc"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.0)
        assert child.poll() is None, child.communicate()
        assert len(qhost.bases()) == 1
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "1 unreferenced file(s)" in out and qhost.bases() == []
