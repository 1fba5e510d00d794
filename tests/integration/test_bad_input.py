"""Bad input: one clear line naming the thing and the way out; the slot left as it was."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import vmim
from tests.integration.conftest import Host


def slot_record(host: Host, slot: str) -> dict[str, object]:
    return dict(json.loads(vmim("--json", "list", slot, config=host.config).stdout)["slots"][0])


def test_unknown_image_suggests_near_names(host: Host) -> None:
    (host.images / "debian-12").mkdir()
    (host.images / "ubuntu-24.tar.zst").write_bytes(b"")
    result = vmim("deploy", "img", "debian12", config=host.config)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"vmim: error: no image named 'debian12' in {host.images} (did you mean debian-12?)"
    )
    assert slot_record(host, "img")["image"] is None


def test_image_of_unknown_format_is_refused_before_touching_the_slot(host: Host) -> None:
    (host.images / "weird.img").write_bytes(os.urandom(4096))
    result = vmim("deploy", "img", "weird.img", config=host.config)
    assert result.returncode == 1
    assert f"{host.images / 'weird.img'}: unknown image format" in result.stderr
    record = slot_record(host, "img")
    assert (record["dirty"], record["mounted"]) == (False, None)
    listing = json.loads(vmim("--json", "images", config=host.config).stdout)["images"]
    assert [(i["name"], i["format"]) for i in listing] == [("weird", "unknown")]


def test_missing_tool_names_its_debian_package(host: Host, tmp_path: Path) -> None:
    (host.images / "golden").mkdir()
    # A PATH that has every tool but rsync: a real missing program, not a simulated one.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("mount", "umount", "losetup", "sfdisk", "tar", "zstd", "rm", "mkswap"):
        found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    result = vmim("deploy", "img", "golden", config=host.config,
                  env={"PATH": f"{bin_dir}:{Path(sys.executable).parent}"})  # fmt: skip
    assert result.returncode == 1
    assert "required program 'rsync' not found" in result.stderr
    assert "apt-get install rsync" in result.stderr
    assert "failed at restore" in result.stderr
    assert slot_record(host, "img")["mounted"] is None


def test_partition_number_the_table_does_not_have(host: Host) -> None:
    text = host.config.read_text().replace(
        "partition = 1\nmount = mnt/img", "partition = 3\nmount = mnt/img"
    )
    host.config.write_text(text)
    (host.images / "golden").mkdir()
    result = vmim("deploy", "img", "golden", config=host.config)
    assert result.returncode == 1
    assert f"{host.base / 'img.disk'} has no partition 3 (partitions: 1)" in result.stderr
    assert "check 'partition' at" in result.stderr and "vmim.cfg:" in result.stderr


def test_hostdisk_that_does_not_exist(host: Host) -> None:
    text = host.config.read_text().replace("HostDisk = img.disk", "HostDisk = gone.disk")
    host.config.write_text(text)
    result = vmim("mount", "img", config=host.config)
    assert result.returncode == 1
    assert f"HostDisk {host.base / 'gone.disk'} does not exist" in result.stderr


def test_locked_slot_is_exit_3_and_deploy_waits_with_wait(host: Host) -> None:
    (host.images / "golden").mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path;"
         "from vmim import locking\nwith locking.lease(Path(sys.argv[1]), 'img'):\n"
         "    print('held', flush=True); time.sleep(1.5)", str(host.statedir)],
        stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    refused = vmim("deploy", "img", "golden", config=host.config)
    assert refused.returncode == 3
    assert f"slot 'img' is locked by pid {holder.pid}" in refused.stderr
    waited = vmim("deploy", "img", "golden", "--wait", "30", config=host.config)
    assert waited.returncode == 0, waited.stderr
    holder.wait()


def test_disk_verbs_refuse_a_running_domain(tmp_path: Path) -> None:
    node = tmp_path / "node.xml"
    node.write_text(
        "<node><domain type='test'><name>run1</name><memory>1024</memory>"
        "<os><type>hvm</type></os></domain></node>"
    )
    (tmp_path / "images" / "golden").mkdir(parents=True)
    cfg = tmp_path / "vmim.cfg"
    cfg.write_text(
        f"[vmim.local]\nvmemulator = test://{node}\nstatedir = state\n"
        "vmimages = images\n[vmim.vm.1]\nHostName = run1\nstore_type = diskimage\n"
        "HostDisk = none.img\npartition = 1\nmount = mnt\n"
    )
    for argv in (["mount", "run1"], ["store", "run1", "x"], ["insert", "run1", "golden"]):
        result = vmim(*argv, config=cfg)
        if argv[0] == "insert":
            assert result.returncode == 2  # no vmextracts configured: said before anything
            assert "no insert store configured (set vmextracts in [vmim.local])" in result.stderr
            continue
        assert result.returncode == 1, argv
        assert "slot 'run1' is running: cannot" in result.stderr
        assert "run 'vmim down run1' first" in result.stderr
