"""The one-line redeploy, of one slot or of several at once."""

from __future__ import annotations

import click

from vmim.cli import render
from vmim.cli.context import Options, pass_options, wait_option
from vmim.deploy import DeployResult
from vmim.errors import EXIT_OK, UsageError


def _pairs(targets: tuple[str, ...]) -> list[tuple[str, str]] | None:
    """SLOT=IMAGE pairs, or None for the plain 'SLOT IMAGE' form."""
    if len(targets) == 2 and not any("=" in t for t in targets):
        return None
    pairs = []
    for target in targets:
        slot, sep, image = target.partition("=")
        if not (sep and slot and image):
            raise UsageError(
                f"cannot read {target!r}", "give SLOT IMAGE, or SLOT=IMAGE pairs for several"
            )
        pairs.append((slot, image))
    return pairs


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="SLOT IMAGE | SLOT=IMAGE...")
@click.option(
    "--insert",
    "-i",
    "inserts",
    multiple=True,
    metavar="NAME",
    help="Lay this insert over the restored tree (repeatable, in order).",
)
@click.option("--up", "-u", "start", is_flag=True, help="Start the domain afterwards.")
@click.option(
    "--wait-ready",
    is_flag=True,
    help="With --up: wait for the slot's ready_pattern on its serial console.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="How long to wait for a graceful shutdown first.",
)
@click.option(
    "--ready-timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="How long --wait-ready waits.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="With SLOT=IMAGE pairs: how many slots to reset at once.",
)
@wait_option
@pass_options
def deploy(
    options: Options,
    targets: tuple[str, ...],
    inserts: tuple[str, ...],
    start: bool,
    wait_ready: bool,
    timeout: float | None,
    ready_timeout: float,
    jobs: int,
    lock_wait: float,
) -> None:
    """Reset slots to images: stop, restore, inserts, release[, start].

    'vmim deploy SLOT IMAGE' resets one slot; 'vmim deploy S1=IMAGE1 S2=IMAGE2 ...'
    resets several at once (--jobs at a time), each under its own lock.
    """
    pairs = _pairs(targets)
    manager = options.manager(lock_wait)
    if pairs is not None:
        labels = {slot: f"deploy {image} to {slot}" for slot, image in pairs}
        with render.meters(options.shows_progress, labels) as meters:
            outcomes = manager.deploy_many(
                pairs, list(inserts), up=start, wait_ready=wait_ready, timeout=timeout,
                ready_timeout=ready_timeout, jobs=jobs, meters=meters,
            )  # fmt: skip
        if options.json:
            render.emit_json({"command": "deploy", "results": outcomes})
        else:
            for outcome in outcomes:
                if outcome.result is not None:
                    if not options.quiet:
                        click.echo(_summary(outcome.result))
                else:
                    click.echo(f"vmim: error: {outcome.slot}: {outcome.error}", err=True)
        code = max((o.exit_code for o in outcomes), default=EXIT_OK)
        if code:
            raise click.exceptions.Exit(code)
        return
    slot, image = targets
    with render.meter(options.shows_progress, f"deploy {image} to {slot}") as meter:
        result = manager.deploy(
            slot, image, list(inserts), up=start, wait_ready=wait_ready, timeout=timeout,
            ready_timeout=ready_timeout, meter=meter,
        )  # fmt: skip
    if options.json:
        render.emit_json({"command": "deploy", "result": result})
    elif not options.quiet:
        click.echo(_summary(result))
        if result.ready:
            click.echo(f"{slot}: ready: {result.ready}")


def _summary(result: DeployResult) -> str:
    timings = ", ".join(f"{s.name} {s.seconds:.2f}s" for s in result.steps)
    return f"{result.message} ({timings})"
