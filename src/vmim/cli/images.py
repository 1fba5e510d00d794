"""The image store: images, store, extract."""

from __future__ import annotations

from pathlib import Path

import click

from vmim.cli import render
from vmim.cli.context import Options, pass_options, wait_option
from vmim.deploy import StoreResult
from vmim.images.formats import WRITABLE

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(WRITABLE)),
    default="tar.zst",
    show_default=True,
    help="How to write it: a directory (rsync) or an archive.",
)
force_option = click.option("--force", is_flag=True, help="Replace an existing one, atomically.")


@click.command()
@pass_options
def images(options: Options) -> None:
    """List images (vmimages) and inserts (vmextracts): name, format, size, date."""
    found = options.manager().list_images()
    if options.json:
        render.emit_json({"images": found})
        return
    rows = [
        [i.name, i.kind, i.format, render.human_bytes(i.size), i.modified, str(i.path)]
        for i in found
    ]
    render.table(None, ["NAME", "KIND", "FORMAT", "SIZE", "MODIFIED", "PATH"], rows)


def _show(options: Options, command: str, result: StoreResult) -> None:
    if options.json:
        render.emit_json({"command": command, "result": result})
    elif not options.quiet:
        click.echo(result.message)


@click.command()
@click.argument("slot")
@click.argument("image")
@format_option
@force_option
@wait_option
@pass_options
def store(options: Options, slot: str, image: str, fmt: str, force: bool, lock_wait: float) -> None:
    """Save the slot's tree as IMAGE in the image store (the domain must be down)."""
    with render.meter(options.shows_progress, f"store {slot}") as meter:
        result = options.manager(lock_wait).store(slot, image, fmt, force, meter)
    _show(options, "store", result)


@click.command()
@click.argument("slot")
@click.argument("path")
@click.argument("name")
@format_option
@force_option
@wait_option
@pass_options
def extract(
    options: Options, slot: str, path: str, name: str, fmt: str, force: bool, lock_wait: float
) -> None:
    """Save PATH of the slot's tree (e.g. /usr/local) as insert NAME in vmextracts."""
    with render.meter(options.shows_progress, f"extract {slot}:{path}") as meter:
        result = options.manager(lock_wait).extract(slot, path, name, fmt, force, meter)
    _show(options, "extract", result)


@click.command("import")
@click.argument("name")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(path_type=Path),
    help="A directory or an archive.",
)
@click.option("--disk", is_flag=True, help="Build a raw disk image (for reflink slots).")
@click.option("--size", default="4G", show_default=True, help="Size of the disk image.")
@click.option("--fs", type=click.Choice(["ext4", "xfs"]), default="ext4", show_default=True)
@click.option(
    "--partitioned",
    is_flag=True,
    help="One partition at 1 MiB (partition = 1) instead of a whole-disk filesystem.",
)
@force_option
@pass_options
def import_(
    options: Options,
    name: str,
    source: Path,
    disk: bool,
    size: str,
    fs: str,
    partitioned: bool,
    force: bool,
) -> None:
    """Bring a tree or archive into the image store, as it is or as a disk image."""
    result = options.manager().import_image(name, source, disk, size, fs, partitioned, force)
    _show(options, "import", result)
