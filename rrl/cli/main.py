"""The ``rrl`` command: one group, one module per sub-command family."""

from __future__ import annotations

import errno
import os
import select
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from rrl import __version__
from rrl.errors import RRLError

#: Sub-commands and where they live, imported only when used: a command's process does
#: not pay for the others' imports (scikit-learn, Prolog, torch), only ``--help`` loads all.
COMMANDS = {
    "schedule": ("rrl.cli.schedule", "schedule"),
    "scenario": ("rrl.cli.scenario", "scenario"),
    "train": ("rrl.cli.learning", "train"),
    "consult": ("rrl.cli.learning", "consult"),
    "policy": ("rrl.cli.learning", "policy"),
    "evaluate": ("rrl.cli.learning", "evaluate_command"),
    "tune": ("rrl.cli.learning", "tune_command"),
    "tilde": ("rrl.cli.tilde", "tilde"),
    "ppo": ("rrl.cli.ppo", "ppo"),
    "db": ("rrl.cli.service", "db"),
    "serve": ("rrl.cli.service", "serve"),
}


def _fail(message: str) -> None:
    """Print one line ``rrl: error: ...`` on stderr and exit with status 2."""
    click.echo(f"rrl: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _os_message(error: OSError) -> str:
    """One line for an OS error on a path; where a folder on the way is a file, says so
    (the system's own words, "File exists" or "Not a directory", name neither)."""
    if not isinstance(error.filename, str | bytes | os.PathLike) or not error.filename:
        return str(error.strerror or error)
    path = Path(os.fsdecode(error.filename))
    if error.errno in (errno.EEXIST, errno.ENOTDIR, errno.ENOENT):
        for parent in path.parents:  # (os.path's tests never raise, whatever the path)
            if os.path.lexists(parent):
                if not os.path.isdir(parent):
                    return f"{path}: {parent} is a file, not a folder"
                break
    return f"{path}: {error.strerror or error}"


def _stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader has left (``rrl ... | head``), as
    against a broken pipe of the command's own (a worker process that died)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # (replaced, e.g. by a test runner)
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _quiet_exit() -> None:
    """Leave without a word: the reader of standard output has left."""
    # (stdout to nowhere, or Python reports the pipe again when it flushes at exit)
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


#: ``rrl`` or a command group alone (click 8.2 on; 8.1 printed the help itself).
_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Group(click.Group):
    """A click group that loads sub-commands on first use and turns user errors into one
    line on stderr and exit status 2: rrl's own errors, OS errors, and click's usage
    errors (a bad flag or value)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            import importlib

            module, attribute = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS as error:  # ``rrl`` or a command group alone: its help
            try:
                click.echo(error.ctx.get_help())
            except BrokenPipeError:
                _quiet_exit()
            sys.exit(0)
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
        except BrokenPipeError as error:
            if _stdout_gone():  # the reader left (``rrl ... | head``): nothing more to say
                _quiet_exit()
            _fail(_os_message(error))
        except OSError as error:  # an output path that cannot be written, a full disk, ...
            _fail(_os_message(error))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rrl")
def cli() -> None:
    """rrl: learn and apply schedule-repair policies with relational reinforcement learning.

    Build a schedule for a plant (schedule), hit it with a disruption and repair it with a
    learned policy (train, consult, evaluate, policy), learn first-order regression trees
    on any relational data (tilde), build initial schedules with PPO (ppo), keep plans
    in a database (db) and serve repairs over HTTP with a live page (serve).
    Every command takes --help; commands that print results take --json.
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="rrl")


if __name__ == "__main__":
    main()
