"""The standard job-shop text formats (DESIGN section 10), read into scenarios.

- ``.fjs`` (flexible job shop, FJSPLib / Brandimarte): first line ``jobs machines
  [average machines per operation]``; then one line per job: its number of operations,
  then per operation ``k`` followed by ``k`` pairs ``machine time``, machines numbered
  from 1.
- ``.jsp`` (job shop, OR-Library / JSPLib text): first line ``jobs machines``; then one
  line per job of ``machines`` pairs ``machine time``, machines numbered from 0.

Blank lines and lines starting with ``#`` are skipped. Each operation ``o`` of job ``j``
(both from 1) becomes an order ``JjOo`` with a product of its own, chained to the
previous operation of its job with ``after``; machine ``k`` of the file becomes resource
``Mk`` (kind ``machine``). Durations are exact: the order's size is the least common
multiple of its alternative times and each eligible resource's rate is ``size / time``,
a whole number, so ``size / rate`` gives the file's time back without rounding. No
cleanouts, releases 0. The formats have no due dates; ``due(JjOo)`` is ``due_factor``
times the sum of the least processing times of operations 1..o of job j, so that total
tardiness means something too (the makespan is what published results measure).

A malformed file raises :class:`InstanceFormatError`: one line naming the file, the
line and the problem.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

from rrl.bounds import MAX_HOURS
from rrl.domain.order import Order
from rrl.domain.plant import Plant, Resource
from rrl.domain.problem import Problem
from rrl.domain.scenario import Scenario, scenario_from_dict
from rrl.errors import RRLError, ScenarioError

#: Formats :func:`read_instance` knows, by name (also the file suffixes).
FORMATS = ("fjs", "jsp")
#: Default due-date factor (see the module text).
DUE_FACTOR = 1.5


class InstanceFormatError(RRLError):
    """A ``.fjs`` / ``.jsp`` file is malformed: ``<file>:<line>: <problem>``."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        super().__init__(f"{source}:{line}: {problem}" if line is not None else f"{source}: {problem}")


#: One operation: its alternatives as (machine number as in the file, processing time).
Operation = list[tuple[int, int]]


def read_instance(path: str | os.PathLike[str], fmt: str | None = None, *,
                  due_factor: float = DUE_FACTOR) -> Scenario:
    """Read a ``.fjs`` or ``.jsp`` file (``fmt``; default: the file's suffix) as a scenario
    named after the file."""
    source = Path(path)
    fmt = fmt or source.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InstanceFormatError(str(source), None, f"unknown format '{fmt}' (expected one of {', '.join(FORMATS)})")
    if not (math.isfinite(due_factor) and due_factor > 0):
        raise RRLError(f"--due-factor: must be a positive number, got {due_factor}")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InstanceFormatError(str(source), None, "not a text file") from None
    except OSError as error:
        raise InstanceFormatError(str(source), None, error.strerror or str(error)) from None
    parse = _parse_fjs if fmt == "fjs" else _parse_jsp
    jobs, machines, numbers = parse(str(source), _lines(text))
    made = _scenario(source.stem, jobs, machines, first_machine=1 if fmt == "fjs" else 0, due_factor=due_factor)
    # The checks a scenario file gets when it is read back (sizes, due dates within the
    # bounds of docs/security.md): what is written must load.
    try:
        scenario_from_dict(made.to_dict(), source.name, default_name=made.name)
    except ScenarioError as error:
        line, where = _origin(error.key, jobs, numbers)
        raise InstanceFormatError(str(source), line,
                                  f"{where}does not fit a scenario: {error.key}: {error.problem}") from None
    return made


def _origin(key: str, jobs: list[list[Operation]], numbers: list[int]) -> tuple[int | None, str]:
    """The file line and the job and operation (as a message prefix) of the order that
    a scenario check's ``key`` names (``orders[i]...``); ``(None, "")`` for other keys."""
    found = re.match(r"orders\[(\d+)\]", key)
    if found:
        index = int(found.group(1))
        for job, operations in enumerate(jobs, start=1):
            if index < len(operations):
                return numbers[job - 1], f"job {job}, operation {index + 1}: "
            index -= len(operations)
    return None, ""


def _lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, tokens) of every line that holds data."""
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if tokens and not tokens[0].startswith("#"):
            yield number, tokens


#: The longest processing time a scenario may hold (hours: rrl.bounds.MAX_HOURS).
_LONGEST = int(MAX_HOURS)


class _Reader:
    """Integers off one line, with errors that say where."""

    def __init__(self, source: str, number: int, tokens: list[str], what: str) -> None:
        self.source, self.number, self.tokens, self.what = source, number, tokens, what
        self.at = 0

    def fail(self, problem: str) -> InstanceFormatError:
        return InstanceFormatError(self.source, self.number, problem)

    def integer(self, name: str, low: int, high: int | None = None) -> int:
        if self.at >= len(self.tokens):
            raise self.fail(f"{self.what}: the line ends where {name} should be")
        token = self.tokens[self.at]
        self.at += 1
        try:
            value = int(token)
        except ValueError:
            raise self.fail(f"{self.what}: {name} '{token}' is not a whole number") from None
        if value < low or (high is not None and value > high):
            allowed = f"{low}..{high}" if high is not None else f">= {low}"
            raise self.fail(f"{self.what}: {name} {value} is out of range ({allowed})")
        return value

    def finish(self) -> None:
        extra = len(self.tokens) - self.at
        if extra:
            raise self.fail(f"{self.what}: {extra} unexpected number{'s' if extra > 1 else ''} after the last "
                            f"operation ('{' '.join(self.tokens[self.at:self.at + 4])}')")


def _header(source: str, lines: Iterator[tuple[int, list[str]]], extra_ok: bool) -> tuple[int, int]:
    try:
        number, tokens = next(lines)
    except StopIteration:
        raise InstanceFormatError(source, None, "the file is empty (expected a first line 'jobs machines')") from None
    head = _Reader(source, number, tokens[:2], "first line")
    jobs = head.integer("the number of jobs", 1)
    machines = head.integer("the number of machines", 1)
    if len(tokens) > (3 if extra_ok else 2):
        raise InstanceFormatError(source, number, f"first line: expected 'jobs machines', got '{' '.join(tokens)}'")
    return jobs, machines


def _job_lines(source: str, lines: Iterator[tuple[int, list[str]]], jobs: int) -> Iterator[tuple[int, int, list[str]]]:
    """(job number, line number, tokens) for the declared number of job lines."""
    last = 1
    for job in range(1, jobs + 1):
        try:
            last, tokens = next(lines)
        except StopIteration:
            raise InstanceFormatError(source, last, f"the file ends after {job - 1} of the {jobs} jobs "
                                                    "the first line announces") from None
        yield job, last, tokens
    for number, tokens in lines:
        raise InstanceFormatError(source, number, f"unexpected content after the {jobs} jobs ('{' '.join(tokens[:4])}')")


def _parse_fjs(source: str, lines: Iterator[tuple[int, list[str]]]) -> tuple[list[list[Operation]], int, list[int]]:
    """The jobs' operations, the number of machines, and each job's line number."""
    jobs, machines = _header(source, lines, extra_ok=True)
    result: list[list[Operation]] = []
    numbers: list[int] = []
    for job, number, tokens in _job_lines(source, lines, jobs):
        numbers.append(number)
        line = _Reader(source, number, tokens, f"job {job}")
        operations: list[Operation] = []
        for op in range(1, line.integer("the number of operations", 1) + 1):
            line.what = f"job {job}, operation {op}"
            alternatives: Operation = []
            for _ in range(line.integer("the number of machines", 1, machines)):
                machine = line.integer("machine", 1, machines)
                if any(m == machine for m, _ in alternatives):
                    raise line.fail(f"{line.what}: machine {machine} is listed twice")
                alternatives.append((machine, line.integer("processing time", 1, _LONGEST)))
            operations.append(alternatives)
        line.what = f"job {job}"
        line.finish()
        result.append(operations)
    return result, machines, numbers


def _parse_jsp(source: str, lines: Iterator[tuple[int, list[str]]]) -> tuple[list[list[Operation]], int, list[int]]:
    """The jobs' operations, the number of machines, and each job's line number."""
    jobs, machines = _header(source, lines, extra_ok=False)
    result: list[list[Operation]] = []
    numbers: list[int] = []
    for job, number, tokens in _job_lines(source, lines, jobs):
        numbers.append(number)
        line = _Reader(source, number, tokens, f"job {job}")
        if len(tokens) != 2 * machines:
            raise line.fail(f"job {job}: expected {machines} pairs 'machine time' ({2 * machines} numbers), "
                            f"found {len(tokens)} numbers")
        operations: list[Operation] = []
        for op in range(1, machines + 1):
            line.what = f"job {job}, operation {op}"
            operations.append([(line.integer("machine", 0, machines - 1), line.integer("processing time", 1, _LONGEST))])
        result.append(operations)
    return result, machines, numbers


def _scenario(name: str, jobs: list[list[Operation]], machines: int, *, first_machine: int,
              due_factor: float) -> Scenario:
    rates: dict[str, dict[str, float]] = {f"M{k}": {} for k in range(first_machine, first_machine + machines)}
    products: list[str] = []
    orders: list[Order] = []
    for j, operations in enumerate(jobs, start=1):
        previous: str | None = None
        work = 0
        for o, alternatives in enumerate(operations, start=1):
            oid = f"J{j}O{o}"
            size = math.lcm(*(t for _, t in alternatives))
            for machine, t in alternatives:
                rates[f"M{machine}"][oid] = float(size // t)
            work += min(t for _, t in alternatives)
            products.append(oid)
            orders.append(Order(oid, oid, float(size), due=due_factor * work, after=(previous,) if previous else ()))
            previous = oid
    resources = {rid: Resource(rid, "machine", table) for rid, table in rates.items()}
    plant = Plant(tuple(products), resources, {})
    return Scenario(name=name, problem=Problem(plant=plant, orders={o.id: o for o in orders}))
