"""What every command shares: global options and the lazily built Manager."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from vmim import config as config_mod
from vmim.api import Manager


@dataclass
class Options:
    config_path: str | None = None
    json: bool = False
    verbose: int = 0
    quiet: bool = False
    _manager: Manager | None = field(default=None, repr=False)

    @property
    def shows_progress(self) -> bool:
        return not (self.json or self.quiet)

    def manager(self, lock_wait: float = 0.0) -> Manager:
        if self._manager is None:
            cfg = config_mod.load(self.config_path)
            if not self.quiet:
                for warning in cfg.warnings:
                    click.echo(f"vmim: warning: {warning}", err=True)
            self._manager = Manager(cfg)
        self._manager.lock_wait = lock_wait
        return self._manager

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()


pass_options = click.make_pass_decorator(Options)

wait_option = click.option(
    "--wait",
    "lock_wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for a slot another process has locked.",
)
