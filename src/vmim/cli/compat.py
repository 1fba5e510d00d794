"""``vmimagemanager``: the seed tool's flags, translated to vmim verbs.

The seed parsed ``getopt`` flags and acted in a fixed order whatever the
order on the command line; so does this: stop (``-k``, ``-d``), then the disk
work (``-s``, ``-e``, ``-r``, ``-i``), then ``-u``. Listing flags (``-l``,
``-L``, ``-f``, ``-m``) print and stop, as they did.
"""

from __future__ import annotations

import getopt
import sys
from collections.abc import Sequence

import click

from vmim.api import Manager
from vmim.cli.main import main as vmim_main
from vmim.errors import EXIT_USAGE, VmimError

SHORT = "b:s:r:e:i:c:udlLhvkzyfm"
LONG = [
    "box=", "store=", "restore=", "extract=", "insert=", "config=", "up", "down",
    "list-boxes", "list-images", "help", "version", "kill", "tgz", "rsync", "free", "locked",
    "extract-directory=", "mount", "release",
]  # fmt: skip

USAGE = """usage: vmimagemanager [-c FILE] [-b SLOT]... [-k|-d] [-u] | -l | -f | -m
  -c, --config FILE      configuration file
  -b, --box SLOT         the slot to act on (repeatable)
  -d, --down             shut the slot down           (vmim down SLOT)
  -k, --kill             destroy the slot's domain    (vmim kill SLOT)
  -u, --up               start the slot               (vmim up SLOT)
  -l, --list-boxes       print the slot names         (vmim list)
  -f, --free             print free slots             (vmim free)
  -m, --locked           print locked slots
  -v, --version          print the version
Not yet in this version: -r/--restore, -i/--insert, -s/--store, -e/--extract,
--extract-directory, -L/--list-images, -z/--tgz, -y/--rsync, --mount, --release."""

PENDING = {
    "-r", "--restore", "-i", "--insert", "-s", "--store", "-e", "--extract",
    "--extract-directory", "-L", "--list-images", "-z", "--tgz", "-y", "--rsync",
    "--mount", "--release",
}  # fmt: skip


def translate(argv: Sequence[str]) -> list[list[str]]:
    """The vmim command lines that do what the seed's flags asked, in the seed's order."""
    try:
        opts, rest = getopt.gnu_getopt(list(argv), SHORT, LONG)
    except getopt.GetoptError as exc:
        raise click.UsageError(f"{exc}; see vmimagemanager --help") from None
    if rest:
        raise click.UsageError(f"unexpected argument {rest[0]!r}; name slots with -b SLOT")
    flags = {flag for flag, _ in opts}
    pending = sorted(flags & PENDING)
    if pending:
        raise click.UsageError(
            f"{pending[0]} is not supported by this version of vmimagemanager yet"
        )
    common: list[str] = []
    boxes: list[str] = []
    for flag, value in opts:
        if flag in ("-c", "--config"):
            common = ["--config", value]
        elif flag in ("-b", "--box"):
            boxes.append(value)
    if flags & {"-h", "--help"}:
        return [["--help-compat"]]
    if flags & {"-v", "--version"}:
        return [["--version"]]
    if flags & {"-l", "--list-boxes"}:
        return [[*common, "list", *boxes]]
    if flags & {"-f", "--free"}:
        return [[*common, "free"]]
    if flags & {"-m", "--locked"}:
        return [[*common, "--locked-compat"]]
    steps: list[list[str]] = []
    if flags & {"-k", "--kill"}:
        steps.append([*common, "kill", *boxes])
    elif flags & {"-d", "--down"}:
        steps.append([*common, "down", *boxes])
    if flags & {"-u", "--up"}:
        steps.append([*common, "up", *boxes])
    if not steps:
        raise click.UsageError("nothing to do; see vmimagemanager --help")
    if not boxes:
        raise click.UsageError("name the slot with -b SLOT")
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        steps = translate(args)
    except click.UsageError as error:
        click.echo(f"vmimagemanager: error: {error.message}", err=True)
        return EXIT_USAGE
    for step in steps:
        if step == ["--help-compat"]:
            click.echo(USAGE)
            return 0
        if "--locked-compat" in step:
            code = _print_locked(step)
        else:
            code = vmim_main(step, prog_name="vmimagemanager")
        if code != 0:
            return code
    return 0


def _print_locked(step: list[str]) -> int:
    path = step[step.index("--config") + 1] if "--config" in step else None
    try:
        with Manager.from_file(path) as manager:
            for name in manager.locked():
                click.echo(name)
    except VmimError as error:
        click.echo(f"vmimagemanager: error: {error}", err=True)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
