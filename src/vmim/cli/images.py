"""The image store: images, store, extract."""

from __future__ import annotations

from pathlib import Path

import click

from vmim.cli import render
from vmim.cli.context import Options, pass_options, wait_option
from vmim.deploy import StoreResult
from vmim.errors import EXIT_FAILED
from vmim.images.formats import DISK_WRITABLE, WRITABLE

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
    """List images (vmimages), their bases and the slots on them, and inserts (vmextracts)."""
    found = options.manager().list_images()
    if options.json:
        render.emit_json({"images": found})
        return
    rows = [
        [i.name, i.kind, i.format, render.human_bytes(i.size), i.modified, i.base or "-",
         ",".join(i.used_by) or "-", str(i.path)]
        for i in found
    ]  # fmt: skip
    columns = ["NAME", "KIND", "FORMAT", "SIZE", "MODIFIED", "BASE", "USED BY", "PATH"]
    render.table(None, columns, rows)


def _show(options: Options, command: str, result: StoreResult) -> None:
    if options.json:
        render.emit_json({"command": command, "result": result})
    elif not options.quiet:
        click.echo(result.message)


@click.command()
@click.argument("slot")
@click.argument("image")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted({*WRITABLE, *DISK_WRITABLE})),
    default=None,
    help="A tree (directory, archive) or, for a slot whose disk is a file, a new base "
    "disk image (qcow2, raw). [default: qcow2 for qcow2 slots, else tar.zst]",
)
@click.option(
    "--compress", is_flag=True, help="With qcow2: compress the clusters (smaller, slower)."
)
@force_option
@wait_option
@pass_options
def store(
    options: Options,
    slot: str,
    image: str,
    fmt: str | None,
    compress: bool,
    force: bool,
    lock_wait: float,
) -> None:
    """Save the slot as IMAGE in the image store (the domain must be down)."""
    with render.meter(options.shows_progress, f"store {slot}") as meter:
        result = options.manager(lock_wait).store(slot, image, fmt, force, meter, compress)
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


@click.command("export")
@click.argument("image")
@click.argument("name")
@format_option
@click.option(
    "--partition",
    type=click.IntRange(min=1),
    default=None,
    help="The partition holding the tree [default: the only one, or the whole disk].",
)
@force_option
@pass_options
def export(
    options: Options, image: str, name: str, fmt: str, partition: int | None, force: bool
) -> None:
    """Write the tree inside disk image IMAGE as tree image NAME (for rsync slots)."""
    with render.meter(options.shows_progress, f"export {image}") as meter:
        result = options.manager().export_image(image, name, fmt, partition, force, meter)
    _show(options, "export", result)


@click.command()
@click.argument("name")
@click.option("--insert", "is_insert", is_flag=True, help="NAME is an insert (vmextracts).")
@pass_options
def remove(options: Options, name: str, is_insert: bool) -> None:
    """Remove image NAME; refused while a qcow2 slot reads its base."""
    result = options.manager().remove_image(name, is_insert)
    if options.json:
        render.emit_json({"command": "remove", "result": result})
    elif not options.quiet:
        click.echo(result.message)


@click.command()
@click.option("--dry-run", "-n", is_flag=True, help="Only say what would be deleted.")
@pass_options
def gc(options: Options, dry_run: bool) -> None:
    """Delete bases that no image names and no slot reads, and temp files of killed runs."""
    result = options.manager().gc(dry_run)
    if options.json:
        render.emit_json({"command": "gc", "result": result})
        return
    if not options.quiet:
        for path in result.removed:
            click.echo(f"{'would delete' if dry_run else 'deleted'} {path}")
        click.echo(result.message)


@click.command()
@pass_options
def verify(options: Options) -> None:
    """Re-read every base image and compare it with the digest in its name."""
    results = options.manager().verify()
    bad = [(name, error) for name, error in results if error]
    if options.json:
        render.emit_json(
            {"command": "verify", "results": [{"base": n, "error": e} for n, e in results]}
        )
    elif not options.quiet:
        for name, error in results:
            click.echo(f"{name}: {error or 'ok'}")
    if bad:
        raise click.exceptions.Exit(EXIT_FAILED)
