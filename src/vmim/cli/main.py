"""The ``vmim`` entry point: global options, verb registration, error reporting."""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType

import click

from vmim import __version__
from vmim.cli import deploy, disks, domains, images, lifecycle, render, slots
from vmim.cli.context import Options
from vmim.errors import EXIT_FAILED, EXIT_USAGE, VmimError

log = logging.getLogger("vmim")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vmim")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    envvar=None,
    help="Configuration file [default: $VMIM_CFG, then /etc/vmimagemanager/vmimagemanager.cfg].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option("-v", "--verbose", count=True, help="Say more; -v shows tracebacks of errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, as_json: bool, verbose: int, quiet: bool
) -> None:
    """Reset a fixed pool of libvirt VM slots to named OS images."""
    options = Options(config_path=config_path, json=as_json, verbose=verbose, quiet=quiet)
    ctx.obj = options
    ctx.call_on_close(options.close)
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="vmim: %(message)s", stream=sys.stderr)


for command in (
    slots.list_,
    slots.free,
    lifecycle.up,
    lifecycle.down,
    lifecycle.kill,
    lifecycle.restart,
    disks.mount,
    disks.release,
    disks.insert,
    images.images,
    images.store,
    images.extract,
    images.import_,
    images.export,
    images.remove,
    images.gc,
    images.verify,
    deploy.deploy,
    domains.xml,
    domains.define,
    domains.undefine,
):
    cli.add_command(command)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so every lease, mount and temp file is undone.
    raise KeyboardInterrupt(f"signal {signum}")


def report(error: VmimError, as_json: bool, verbose: int) -> None:
    if verbose:
        traceback.print_exc()
    click.echo(f"vmim: error: {error}", err=True)
    if as_json:
        render.emit_json(
            {
                "error": {
                    "type": type(error).__name__,
                    "message": error.message,
                    "hint": error.hint,
                    "exit_code": error.exit_code,
                }
            }
        )


def main(argv: Sequence[str] | None = None, prog_name: str = "vmim") -> int:
    signal.signal(signal.SIGTERM, _terminate)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name=prog_name, standalone_mode=False)
    except VmimError as error:
        report(error, "--json" in args, sum(a.count("v") for a in args if _is_verbose(a)))
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code if error.exit_code else EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("vmim: aborted", err=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        click.echo("vmim: interrupted; cleaned up", err=True)
        return 130
    return result if isinstance(result, int) else 0


def _is_verbose(arg: str) -> bool:
    return arg == "--verbose" or (arg.startswith("-v") and set(arg[1:]) == {"v"})


if __name__ == "__main__":
    sys.exit(main())
