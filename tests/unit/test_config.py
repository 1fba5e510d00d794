"""The seed's INI format: what loads, and the one-line error for each kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import REPO, vmim
from vmim import config
from vmim.errors import ConfigError, UnknownSlotError

SEED = REPO / "tests" / "data" / "seed-example.cfg"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vmim.cfg"
    path.write_text(text)
    return path


def load_text(tmp_path: Path, text: str) -> config.Config:
    return config.load(write(tmp_path, text))


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    return str(caught.value)


def test_seed_example_gives_the_duplicate_section_error() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(SEED)
    message = str(caught.value)
    assert f"{SEED}:28:" in message
    assert "[vmim.vm.2] appears twice (lines 17 and 28)" in message


def test_seed_example_with_the_duplicate_fixed_loads_as_documented(tmp_path: Path) -> None:
    text = SEED.read_text().replace("[vmim.vm.2]\nstore_type", "[vmim.vm.3]\nstore_type")
    cfg = load_text(tmp_path, text)
    assert list(cfg.slots) == ["DebianStable", "pong", "exampleImageBased"]
    assert cfg.images == Path("/server/vmstore/images")
    assert cfg.extracts == Path("/server/vmstore/extracts")
    assert cfg.template == Path("/etc/vmimagemanager/vmimagemanager-xen.template")
    stable = cfg.slots["DebianStable"]
    assert stable.store_type == "partition"
    assert stable.root == "/dev/hda5"
    assert stable.swap == "/dev/hda10"
    assert stable.mount == Path("/mnt/virt.yokel.org")
    assert stable.host == "virt.yokel.org"
    assert stable.macs == ("02:11:62:22:21:13",)
    assert stable.uri == "qemu:///system"
    pong = cfg.slots["pong"]
    assert pong.store_type == "kpartx"
    assert pong.mount is None  # commented out in the seed
    image_based = cfg.slots["exampleImageBased"]
    assert image_based.hostdisk == Path("/dev/mapper/vg.01-hudson_slave_vm01")
    assert image_based.partition == 1
    assert cfg.warnings == ()


def test_values_quoted_or_not_and_keys_in_any_case(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        "[VMIM.LOCAL]\nVMEMULATOR = test:///default\nStateDir: 'state'\n"
        "[vmim.vm.a]\nhostname = alpha\nMAC = 02:00:00:00:00:01\nMemory = 1G\nVCPUS='2'\n",
    )
    slot = cfg.slots["alpha"]
    assert slot.uri == "test:///default"
    assert slot.macs == ("02:00:00:00:00:01",)
    assert slot.memory_mib == 1024
    assert slot.vcpus == 2
    assert cfg.statedir == tmp_path / "state"  # relative to the config file


def test_defaults_from_local_and_defaults_sections_and_slot_overrides(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        "[vmim.local]\nmemory = 256\nvirt_type = qemu\nvcpus = 2\n"
        "[vmim.defaults]\nmemory = 384\n"
        "[vmim.vm.1]\nHostName = one\n"
        "[vmim.vm.2]\nHostName = two\nmemory = 1024\nvirt_type = kvm\n",
    )
    one, two = cfg.slots["one"], cfg.slots["two"]
    assert (one.memory_mib, one.virt_type, one.vcpus) == (384, "qemu", 2)
    assert (two.memory_mib, two.virt_type, two.vcpus) == (1024, "kvm", 2)


def test_lists_in_all_spellings(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        "[vmim.vm.1]\nHostName=a\nmac=[\"02:00:00:00:00:01\", '02:00:00:00:00:02',"
        "02:00:00:00:00:03]\n",
    )
    assert cfg.slots["a"].macs == ("02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[vmim.vm.1]\nstore_type=partition\n", "vmim.cfg:1: section [vmim.vm.1] has no HostName"),
        (
            "[vmim.vm.1]\nHostName=a\n\n[vmim.vm.2]\nHostName=a\n",
            "vmim.cfg:5: key 'HostName': slot name 'a' is used by [vmim.vm.1] (line 2) and "
            "[vmim.vm.2] (line 5)",
        ),
        ("[vmim.vm.1]\nHostName=a\npartition=0\n", "vmim.cfg:3: key 'partition' in [vmim.vm.1]"),
        ("[vmim.vm.1]\nHostName=a\npartition=x1\n", "'x1' is not a positive whole number"),
        (
            "[vmim.vm.1]\nHostName=a\nstore_type=zfs\n",
            "vmim.cfg:3: key 'store_type' in [vmim.vm.1]: unknown store_type 'zfs' (known: "
            "partition, kpartx, diskimage, qcow2, reflink)",
        ),
        (
            '[vmim.vm.1]\nHostName=a\nmac=["02:00:00:00:00:01"\n',
            "vmim.cfg:3: key 'mac' in [vmim.vm.1]: a list must start with '[' and end with ']'",
        ),
        ('[vmim.vm.1]\nHostName=a\nmac=["02:00:00:00:00:01]\n', "unclosed quote"),
        ("[vmim.vm.1]\nHostName=a\nmac=[a b, c]\n", "vmim.cfg:3: key 'mac'"),
        ("[vmim.vm.1]\nHostName=a\nmac=03:00:00:00:00:01\n", "multicast"),
        ("[vmim.vm.1]\nHostName=a\nmac=nonsense\n", "'nonsense' is not a MAC address"),
        ("[vmim.vm.1]\nHostName=a\nmemory=lots\n", "vmim.cfg:3: key 'memory'"),
        ('[vmim.vm.1]\nHostName="a\n', "vmim.cfg:2: key 'hostname' in [vmim.vm.1]: unclosed quote"),
        ("HostName=a\n", "vmim.cfg:1: key 'HostName' stands before any [section]"),
        ("[vmim.vm.1]\nHostName a\n", "vmim.cfg:2: cannot read this line: HostName a"),
        (
            "[vmim.vm.1]\nHostName=a\nhostname=b\n",
            "vmim.cfg:3: key 'hostname' appears twice in [vmim.vm.1] (lines 2 and 3)",
        ),
        ("[vmim.vm.1]\nHostName=a\nvirt_type=vmware\n", "unknown virt_type 'vmware'"),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


def test_unknown_keys_and_sections_warn_with_their_lines(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "[vmim.vm.1]\nHostName=a\ncolour=blue\n[other]\nx=1\n")
    assert list(cfg.slots) == ["a"]
    assert any("vmim.cfg:3: unknown key 'colour' in [vmim.vm.1]" in w for w in cfg.warnings)
    assert any("vmim.cfg:4: unknown section [other]" in w for w in cfg.warnings)


def test_unknown_slot_lists_the_known_ones(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "[vmim.vm.1]\nHostName=a\n[vmim.vm.2]\nHostName=b\n")
    with pytest.raises(UnknownSlotError, match="unknown slot 'c'.*known slots: a, b"):
        cfg.slot("c")


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMIM_CFG", str(tmp_path / "env.cfg"))
    assert config.find_config_path("explicit.cfg") == Path("explicit.cfg")
    assert config.find_config_path(None) == tmp_path / "env.cfg"
    monkeypatch.delenv("VMIM_CFG")
    assert config.find_config_path(None) == Path("/etc/vmimagemanager/vmimagemanager.cfg")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such configuration file.*--config FILE"):
        config.load(tmp_path / "absent.cfg")
    binary = tmp_path / "binary.cfg"
    binary.write_bytes(b"\xff\xfe[vmim\x00")
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        config.load(binary)
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        config.load(tmp_path)  # a directory


def test_cli_reports_a_config_error_in_one_line_with_exit_2() -> None:
    result = vmim("list", config=SEED)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "appears twice (lines 17 and 28)" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_finds_the_config_through_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[vmim.vm.1]\nHostName=a\ncolour=blue\n")
    result = vmim("--json", "free", env={"VMIM_CFG": str(path), "LIBVIRT_DEFAULT_URI": ""})
    # The slot's URI is qemu:///system; what matters here is that the file was found and read.
    assert "unknown key 'colour'" in result.stderr


value_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(sorted(config.SLOT_KEYS | config.HOST_KEYS)),
    value=value_text,
)
def test_garbage_in_any_value_is_a_config_error_or_loads(key: str, value: str) -> None:
    text = f"[vmim.local]\nstatedir=/tmp/x\n[vmim.vm.1]\nHostName=slot1\n{key}={value}\n"
    if key == "hostname":
        text = f"[vmim.vm.1]\n{key}={value}\n"
    try:
        cfg = config.loads(text, Path("/etc/vmim.cfg"))
    except ConfigError as error:
        assert str(error).startswith("/etc/vmim.cfg:")
        assert "\n" not in str(error)
    else:
        assert len(cfg.slots) == 1
