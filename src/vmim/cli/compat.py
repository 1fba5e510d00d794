"""``vmimagemanager``: the seed tool's flags, translated to vmim verbs.

The seed parsed ``getopt`` flags and acted in a fixed order whatever the
order on the command line; so does this: stop (``-k``, ``-d``), then the disk
work (``-s``, ``-e``, ``-r``, ``-i``), then ``-u``, slot by slot. Listing flags
(``-l``, ``-L``, ``-f``, ``-m``) print and stop, as they did.
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

USAGE = """usage: vmimagemanager [-c FILE] -b SLOT [-k|-d] [-s IMAGE] [-z|-y]
                      [-e NAME --extract-directory DIR] [-r IMAGE] [-i INSERT]... [-u]
       vmimagemanager [-c FILE] -b SLOT --mount|--release
       vmimagemanager [-c FILE] -l|-L|-f|-m
  -c, --config FILE            configuration file
  -b, --box SLOT               the slot to act on (repeatable)
  -k, --kill                   destroy the slot's domain          (vmim kill SLOT)
  -d, --down                   shut the slot down                 (vmim down SLOT)
  -s, --store IMAGE            save the slot as IMAGE             (vmim store SLOT IMAGE)
  -e, --extract NAME           save --extract-directory DIR as insert NAME
                                                                  (vmim extract SLOT DIR NAME)
  -r, --restore IMAGE          reset the slot to IMAGE            (vmim deploy SLOT IMAGE)
  -i, --insert INSERT          lay INSERT over the tree (repeatable; with -r: deploy --insert)
  -z, --tgz                    -s and -e write tar.gz             (--format tar.gz)
  -y, --rsync                  -s and -e write a directory        (--format rsync)
  -u, --up                     start the slot                     (vmim up, or deploy --up)
      --mount, --release       the slot's filesystem on the host  (vmim mount|release SLOT)
  -l, --list-boxes             the slots                          (vmim list)
  -L, --list-images            images and inserts                 (vmim images)
  -f, --free                   free slots                         (vmim free)
  -m, --locked                 locked slots
  -v, --version                the version
The work is done in this order whatever the order of the flags: kill or down, store,
extract, restore, insert, up."""


def translate(argv: Sequence[str]) -> list[list[str]]:
    """The vmim command lines that do what the seed's flags asked, in the seed's order."""
    try:
        opts, rest = getopt.gnu_getopt(list(argv), SHORT, LONG)
    except getopt.GetoptError as exc:
        raise click.UsageError(f"{exc}; see vmimagemanager --help") from None
    if rest:
        raise click.UsageError(f"unexpected argument {rest[0]!r}; name slots with -b SLOT")
    flags = {flag for flag, _ in opts}
    common: list[str] = []
    boxes: list[str] = []
    inserts: list[str] = []
    store = restore = extract = directory = None
    fmt: list[str] = []
    for flag, value in opts:
        if flag in ("-c", "--config"):
            common = ["--config", value]
        elif flag in ("-b", "--box"):
            boxes.append(value)
        elif flag in ("-i", "--insert"):
            inserts.append(value)
        elif flag in ("-s", "--store"):
            store = value
        elif flag in ("-r", "--restore"):
            restore = value
        elif flag in ("-e", "--extract"):
            extract = value
        elif flag == "--extract-directory":
            directory = value
        elif flag in ("-z", "--tgz"):
            fmt = ["--format", "tar.gz"]
        elif flag in ("-y", "--rsync"):
            fmt = ["--format", "rsync"]
    if flags & {"-h", "--help"}:
        return [["--help-compat"]]
    if flags & {"-v", "--version"}:
        return [["--version"]]
    listing = {"-l": "list", "--list-boxes": "list", "-L": "images", "--list-images": "images",
               "-f": "free", "--free": "free"}  # fmt: skip
    for flag, verb in listing.items():
        if flag in flags:
            return [[*common, verb, *(boxes if verb == "list" else [])]]
    if flags & {"-m", "--locked"}:
        return [[*common, "--locked-compat"]]
    if not boxes:
        if flags - {"-c", "--config"}:
            raise click.UsageError("name the slot with -b SLOT")
        raise click.UsageError("nothing to do; see vmimagemanager --help")
    steps: list[list[str]] = []
    for box in boxes:
        steps += _slot_steps(common, box, flags, store, extract, directory, restore, inserts, fmt)
    if not steps:
        raise click.UsageError("nothing to do; see vmimagemanager --help")
    return steps


def _slot_steps(
    common: list[str],
    box: str,
    flags: set[str],
    store: str | None,
    extract: str | None,
    directory: str | None,
    restore: str | None,
    inserts: list[str],
    fmt: list[str],
) -> list[list[str]]:
    up = bool(flags & {"-u", "--up"})
    steps: list[list[str]] = []
    if flags & {"-k", "--kill"}:
        steps.append([*common, "kill", box])
    elif flags & {"-d", "--down"}:
        steps.append([*common, "down", box])
    if flags & {"--release"}:
        steps.append([*common, "release", box])
    if store:
        steps.append([*common, "store", box, store, *fmt])
    if extract or directory:
        if not (extract and directory):
            raise click.UsageError("-e NAME and --extract-directory DIR go together")
        steps.append([*common, "extract", box, directory, extract, *fmt])
    if restore:
        step = [*common, "deploy", box, restore]
        for name in inserts:
            step += ["--insert", name]
        steps.append(step + (["--up"] if up else []))
        return steps
    if inserts:
        steps.append([*common, "insert", box, *inserts])
    if flags & {"--mount"}:
        steps.append([*common, "mount", box])
    if up:
        steps.append([*common, "up", box])
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
