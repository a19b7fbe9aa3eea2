"""Exceptions that carry a one-line message meant for the user.

The CLI prints ``str(error)`` of any :class:`RRLError` as a single line and exits
non-zero; every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class RRLError(Exception):
    """Base class of every error caused by the user's input (files, flags, policies)."""


class ScenarioError(RRLError):
    """A scenario file (or its in-memory equivalent) is malformed or inconsistent.

    The message has the form ``<file>: <key path>: <problem>``.
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


class CycleError(RRLError):
    """Resource sequences and ``after`` precedences form a cycle, so no times exist."""

    def __init__(self, orders: list[str]) -> None:
        self.orders = orders
        shown = ", ".join(orders[:6]) + (", ..." if len(orders) > 6 else "")
        super().__init__(f"precedence cycle through orders {shown}")


class NotApplicable(RRLError):
    """A repair operator cannot be applied; the message says why."""


class PrologError(RRLError):
    """SWI-Prolog raised an error; the message quotes the goal."""


class SettingsError(RRLError):
    """A TILDE settings, knowledge-base or background file is malformed (names file and line)."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {problem}")


class PolicyError(RRLError):
    """A policy directory is missing a file or holds an unreadable one."""
