"""The ``rrl`` command: one group, one module per sub-command family."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from rrl import __version__
from rrl.errors import RRLError


def _fail(message: str) -> None:
    """Print one line ``rrl: error: ...`` on stderr and exit with status 2."""
    click.echo(f"rrl: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


class _Group(click.Group):
    """A click group that turns user errors into one line on stderr and exit status 2:
    rrl's own errors, OS errors, and click's usage errors (a bad flag or value)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as error:
            ctx = getattr(error, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if isinstance(error, click.UsageError) and ctx else ""
            _fail(error.format_message() + hint)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RRLError as error:
            _fail(str(error))
        except OSError as error:  # an output path that cannot be written, a full disk, ...
            where = f"{error.filename}: " if error.filename else ""
            _fail(f"{where}{error.strerror or error}")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rrl")
def cli() -> None:
    """rrl: learn and apply schedule-repair policies with relational reinforcement learning.

    Build a schedule for a plant (schedule), hit it with a disruption and repair it with a
    learned policy (train, consult, evaluate, policy), learn first-order regression trees
    on any relational data (tilde), and build initial schedules with PPO (ppo).
    Every command takes --help; commands that print results take --json.
    """


def _register() -> None:
    # Imported here so that ``rrl --help`` stays fast and each family stays in its module.
    from rrl.cli import learning, ppo, scenario, schedule, service, tilde

    cli.add_command(schedule.schedule)
    cli.add_command(scenario.scenario)
    cli.add_command(tilde.tilde)
    cli.add_command(ppo.ppo)
    learning.register(cli)
    cli.add_command(service.db)
    cli.add_command(service.serve)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="rrl")


if __name__ == "__main__":
    main()
