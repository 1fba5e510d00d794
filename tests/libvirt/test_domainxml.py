"""Domain XML from templates: golden files, overrides, UUIDs, and every refusal."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import libvirt
import pytest

from tests.helpers import REPO, vmim
from vmim import config, domainxml
from vmim.api import Manager
from vmim.domainxml import DomainXmlError

GOLDEN = REPO / "tests" / "data" / "golden"
REGENERATE = os.environ.get("VMIM_REGENERATE_GOLDEN") == "1"
CASES = {"kvm": "golden-kvm", "qemu": "golden-qemu", "xen-pv": "golden-xen-pv",
         "xen-hvm": "golden-xen-hvm"}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_xml_matches_its_golden_file(case: str) -> None:
    cfg = config.load(GOLDEN / "slots.cfg")
    made = domainxml.render(cfg.slot(CASES[case]), cfg)
    golden = GOLDEN / f"{case}.xml"
    if REGENERATE:
        golden.write_text(made.xml)
    assert made.xml == golden.read_text(), f"regenerate with VMIM_REGENERATE_GOLDEN=1 ({case})"


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_golden_file_is_accepted_by_libvirt(case: str) -> None:
    xml = (GOLDEN / f"{case}.xml").read_text()
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXML(xml)
        assert dom.name() == CASES[case]
        dom.undefine()
    finally:
        conn.close()
    assert shutil.which("virt-xml-validate"), "libvirt-clients (virt-xml-validate) missing"
    check = subprocess.run(["virt-xml-validate", str(GOLDEN / f"{case}.xml"), "domain"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_seed_example_slots_get_xml_libvirt_accepts(tmp_path: Path) -> None:
    seed = (REPO / "tests" / "data" / "seed-example.cfg").read_text()
    last = seed.rindex("[vmim.vm.2]")
    fixed = tmp_path / "seed.cfg"
    fixed.write_text(seed[:last] + "[vmim.vm.3]" + seed[last + len("[vmim.vm.2]") :])
    conn = libvirt.open("test:///default")
    try:
        for slot in ("DebianStable", "pong", "exampleImageBased"):
            result = vmim("xml", slot, config=fixed)
            assert result.returncode == 0, result.stderr
            # The seed's xenconftemplate was an xm file that this host does not have.
            assert "using the built-in template" in result.stderr
            conn.defineXML(result.stdout).undefine()
    finally:
        conn.close()


def host(tmp_path: Path, extra: str = "", slot_extra: str = "", defined: str = "") -> Path:
    node = tmp_path / "node.xml"
    node.write_text(f"<node>{defined}</node>\n")
    cfg = tmp_path / "vmim.cfg"
    cfg.write_text(
        f"[vmim.local]\nvmemulator = test://{node}\nstatedir = state\n{extra}\n"
        f"[vmim.vm.1]\nHostName = s1\nstore_type = diskimage\nHostDisk = /srv/s1.img\n"
        f"partition = 1\nmac = 02:00:00:00:00:01\n{slot_extra}\n"
        "[vmim.vm.2]\nHostName = s2\nstore_type = partition\nroot = /dev/vg/s2\n"
        "mac = 02:00:00:00:00:02\n"
    )
    return cfg


CUSTOM = """<domain type='test'>
  <name>{{ name }}</name>
  <uuid>{{ uuid }}</uuid>
  <!-- custom template: {{ slot.section }} -->
  <memory unit='MiB'>{{ memory_mib }}</memory>
  <os><type>hvm</type></os>
  <devices>
    <disk type='{{ disk.type }}' device='disk'><source file='{{ disk.path }}'/>
      <target dev='vda'/></disk>
  </devices>
</domain>
"""


def test_per_slot_template_replaces_the_global_one(tmp_path: Path) -> None:
    (tmp_path / "global.xml.j2").write_text(CUSTOM.replace("custom", "global"))
    (tmp_path / "mine.xml.j2").write_text(CUSTOM)
    cfg = host(tmp_path, extra="template = global.xml.j2", slot_extra="template = mine.xml.j2")
    s1, s2 = vmim("xml", "s1", config=cfg), vmim("xml", "s2", config=cfg)
    assert "<!-- custom template: vmim.vm.1 -->" in s1.stdout
    assert "<!-- global template: vmim.vm.2 -->" in s2.stdout


def test_per_slot_domain_xml_is_used_as_it_is(tmp_path: Path) -> None:
    literal = tmp_path / "s1.xml"
    literal.write_text("<domain type='test'><name>s1</name><memory>1024</memory>"
                       "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
                       "<source file='/srv/s1.img'/><target dev='vda'/></disk></devices>"
                       "</domain>")  # fmt: skip
    cfg = host(tmp_path, slot_extra=f"domain_xml = {literal}")
    result = vmim("xml", "s1", config=cfg)
    assert result.stdout == literal.read_text() + "\n"


def test_uuid_is_stable_and_kept_across_redefinitions(tmp_path: Path) -> None:
    (tmp_path / "mine.xml.j2").write_text(CUSTOM)
    cfg_path = host(tmp_path, slot_extra="template = mine.xml.j2")
    with Manager(config.load(cfg_path)) as manager:
        first = manager.domain_xml("s1").uuid
        assert manager.domain_xml("s1").uuid == first
        assert [r.message for r in manager.define(["s1"])] == [
            f"s1: defined from {tmp_path / 'mine.xml.j2'}"
        ]
        hv = manager.hypervisor(manager.config.slot("s1"))
        assert hv.uuid("s1") == first
        redefined = manager.define(["s1"])[0]
        assert redefined.message.startswith("s1: redefined")
        assert hv.uuid("s1") == first
        assert (
            manager.xml_path(manager.config.slot("s1")).read_text() == manager.domain_xml("s1").xml
        )
        undefined = manager.undefine(["s1"])[0]
        assert (undefined.message, undefined.after) == ("s1: undefined", "not defined")


def test_a_domain_defined_by_hand_keeps_its_uuid_when_vmim_takes_it_over(tmp_path: Path) -> None:
    (tmp_path / "mine.xml.j2").write_text(CUSTOM)
    hand = ("<domain type='test'><name>s1</name><uuid>11111111-2222-3333-4444-555555555555"
            "</uuid><memory>1024</memory><os><type>hvm</type></os></domain>")  # fmt: skip
    cfg_path = host(tmp_path, slot_extra="template = mine.xml.j2", defined=hand)
    with Manager(config.load(cfg_path)) as manager:
        manager.kill(["s1"])
        assert manager.domain_xml("s1").uuid == "11111111-2222-3333-4444-555555555555"
        # up leaves a domain vmim did not define alone...
        manager.up(["s1"])
        assert not manager.xml_path(manager.config.slot("s1")).exists()
        # ...and refuses to redefine it while it runs.
        running = manager.define(["s1"])[0]
        assert running.changed is False
        assert (
            "not redefined; the new definition applies when vmim next starts it" in running.message
        )


def test_up_defines_a_missing_domain_and_redefines_a_changed_one(tmp_path: Path) -> None:
    (tmp_path / "mine.xml.j2").write_text(CUSTOM)
    cfg_path = host(tmp_path, slot_extra="template = mine.xml.j2")
    with Manager(config.load(cfg_path)) as manager:
        assert manager.up(["s1"])[0].after == "running"
        dom = manager.hypervisor(manager.config.slot("s1"))._conn.lookupByName("s1")
        assert dom.maxMemory() == 512 * 1024
        manager.down(["s1"])
    cfg_path.write_text(
        cfg_path.read_text().replace("HostName = s1\n", "HostName = s1\nmemory = 1G\n")
    )
    with Manager(config.load(cfg_path)) as manager:
        # The test driver keeps no state between connections: define again, then change.
        manager.define(["s1"])
        manager.xml_path(manager.config.slot("s1")).write_text("older\n")
        assert manager.up(["s1"])[0].after == "running"
        dom = manager.hypervisor(manager.config.slot("s1"))._conn.lookupByName("s1")
        assert dom.maxMemory() == 1024 * 1024


BAD_TEMPLATES = {
    "syntax": ("<domain>\n{% if name %}\n</domain>\n",
               "mine.xml.j2:2: syntax error: Unexpected end of template"),
    "undefined": ("<domain><name>{{ nonsense }}</name></domain>",
                  "'nonsense' is undefined (slot 's1')"),
    "not-xml": ("<domain><name>{{ name }}</name>", "the domain XML does not parse"),
    "wrong-name": (CUSTOM.replace("{{ name }}", "other"),
                   "names the domain 'other', not the slot's HostName 's1'"),
    "wrong-disk": (CUSTOM.replace("{{ disk.path }}", "/srv/other.img"),
                   "the domain XML's disk is /srv/other.img, not the slot's disk /srv/s1.img"),
    "multicast-mac": (CUSTOM.replace("<devices>", "<devices><interface type='network'>"
                      "<source network='default'/><mac address='03:00:00:00:00:01'/></interface>"),
                      "MAC '03:00:00:00:00:01' is not a unicast MAC address"),
    "duplicate-mac": (CUSTOM.replace("<devices>", "<devices><interface type='network'>"
                      "<source network='default'/><mac address='02:00:00:00:00:02'/></interface>"),
                      "MAC 02:00:00:00:00:02 is used by slot 's2' too"),
    "libvirt-refuses": (CUSTOM.replace("<memory unit='MiB'>", "<memory unit='lots'>"),
                        "libvirt refused the domain XML of slot 's1' from"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_bad_templates_are_exit_2_and_define_nothing(tmp_path: Path, case: str) -> None:
    text, message = BAD_TEMPLATES[case]
    (tmp_path / "mine.xml.j2").write_text(text)
    cfg = host(tmp_path, slot_extra="template = mine.xml.j2")
    for verb in (["define", "s1"], ["up", "s1"]):
        result = vmim(*verb, config=cfg)
        assert result.returncode == 2, (case, verb, result.stderr)
        assert message in result.stderr, (case, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert "not defined" in vmim("list", "s1", config=cfg).stdout
    assert not (tmp_path / "state" / "xml" / "s1.xml").exists()


def test_a_missing_per_slot_template_names_the_key(tmp_path: Path) -> None:
    cfg = host(tmp_path, slot_extra="template = absent.xml.j2")
    result = vmim("xml", "s1", config=cfg)
    assert result.returncode == 2
    assert f"template {tmp_path / 'absent.xml.j2'} does not exist" in result.stderr
    with pytest.raises(DomainXmlError):
        domainxml.render(config.load(cfg).slot("s1"), config.load(cfg))
