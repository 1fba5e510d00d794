"""The seed's flags map to vmim verbs, in the seed's order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from vmim.cli.compat import translate


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-b", "s1", "-d"], [["down", "s1"]]),
        (
            ["-b", "s1", "-r", "img", "-i", "a", "-i", "b", "-u"],
            [["deploy", "s1", "img", "--insert", "a", "--insert", "b", "--up"]],
        ),
        (
            ["-u", "-s", "saved", "-z", "-b", "s1", "-d"],
            [["down", "s1"], ["store", "s1", "saved", "--format", "tar.gz"], ["up", "s1"]],
        ),
        (
            ["-b", "s1", "-e", "local", "--extract-directory", "/usr/local", "-y"],
            [["extract", "s1", "/usr/local", "local", "--format", "rsync"]],
        ),
        (["-b", "s1", "-i", "x"], [["insert", "s1", "x"]]),
        (["-b", "s1", "--mount"], [["mount", "s1"]]),
        (["-b", "s1", "--release"], [["release", "s1"]]),
        (["-L"], [["images"]]),
        (
            ["-u", "-b", "s1", "-c", "f.cfg", "-k"],
            [["--config", "f.cfg", "kill", "s1"], ["--config", "f.cfg", "up", "s1"]],
        ),
        (
            ["--box=s1", "--box", "s2", "--down", "--up"],
            [["down", "s1"], ["up", "s1"], ["down", "s2"], ["up", "s2"]],
        ),
        (["-l"], [["list"]]),
        (["--list-boxes", "-c", "x"], [["--config", "x", "list"]]),
        (["-f"], [["free"]]),
        (["-m"], [["--locked-compat"]]),
        (["-v"], [["--version"]]),
    ],
)
def test_flags_translate_to_verbs(argv: list[str], expected: list[list[str]]) -> None:
    assert translate(argv) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-x"], "option -x not recognized"),
        (["-u"], "name the slot with -b SLOT"),
        (["-b", "s1"], "nothing to do"),
        (["-b", "s1", "-e", "x"], "-e NAME and --extract-directory DIR go together"),
        (["-b", "s1", "-u", "extra"], "unexpected argument 'extra'"),
    ],
)
def test_bad_flags_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(click.UsageError, match=message):
        translate(argv)


def run_compat(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from vmim.cli.compat import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )


def test_list_free_and_locked_print_names_like_the_seed(tmp_path: Path) -> None:
    node = tmp_path / "node.xml"
    node.write_text(
        "<node><domain type='test'><name>s1</name><memory>1024</memory>"
        "<os><type>hvm</type></os></domain></node>"
    )
    cfg = tmp_path / "vmim.cfg"
    cfg.write_text(
        f"[vmim.local]\nvmemulator = test://{node}\nstatedir = {tmp_path}/state\n"
        "[vmim.vm.1]\nHostName = s1\n[vmim.vm.2]\nHostName = s2\n"
    )
    assert run_compat("-c", str(cfg), "-f").stdout == "s2\n"
    assert run_compat("-c", str(cfg), "-m").stdout == ""
    listing = run_compat("-c", str(cfg), "-l")
    assert listing.returncode == 0 and "s1" in listing.stdout and "s2" in listing.stdout
    bad = run_compat("-c", str(cfg), "-b", "nope", "-u")
    assert bad.returncode == 2
    assert "unknown slot 'nope'" in bad.stderr
    assert run_compat("-h").stdout.startswith("usage: vmimagemanager")
