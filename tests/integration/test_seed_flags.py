"""The seed's disk flags through the vmimagemanager command, on real disks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import Host
from tests.manifest import differences, manifest
from tests.trees import rich_tree

SEED_TOOL = Path(sys.executable).with_name("vmimagemanager")


def seed(host: Host, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SEED_TOOL, "-c", str(host.config), *args], capture_output=True,
                          text=True, check=False)  # fmt: skip


def test_restore_insert_store_extract_mount_release(host: Host) -> None:
    rich_tree(host.images / "golden")
    (host.extracts / "overlay" / "root").mkdir(parents=True)
    (host.extracts / "overlay" / "root" / "note").write_text("overlay\n")

    restored = seed(host, "-b", "img", "-r", "golden", "-i", "overlay")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("img: deployed golden")

    stored = seed(host, "-b", "img", "-s", "saved", "-z")
    assert stored.returncode == 0, stored.stderr
    assert (host.images / "saved.tar.gz").is_file()

    extracted = seed(host, "-b", "img", "-e", "home", "--extract-directory", "/home", "-y")
    assert extracted.returncode == 0, extracted.stderr
    assert (host.extracts / "home" / "home" / "user" / "secret").read_text() == "mine\n"

    listed = seed(host, "-L")
    assert listed.returncode == 0
    assert {"golden", "saved", "overlay", "home"} <= set(listed.stdout.split())

    assert seed(host, "-b", "img", "--mount").returncode == 0
    try:
        mnt = host.base / "mnt" / "img"
        assert (mnt / "root" / "note").read_text() == "overlay\n"
        expected = manifest(host.images / "golden")
        got = manifest(mnt)
        got.pop("root/note")
        got.pop("root")
        assert differences(expected, got) == []
    finally:
        assert seed(host, "-b", "img", "--release").returncode == 0
