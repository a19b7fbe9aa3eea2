"""Work split over forked processes, for searches that gain from a second core.

A search within a wall-time budget (consult's ruin-and-recreate walk) does as many tries
as its core allows; a second, independent walk on another core gains about as much as
a budget twice as long (docs/benchmarks.md, "Two walks at once"). Forking starts the second walk
in a few milliseconds with everything the first one has (plans, memo tables), where a
spawned process would need hundreds of milliseconds to import the library; the fork's
wait grows with the process's memory, so each is timed (:func:`fork_seconds`). The forked child runs
pure Python only (never Prolog, whose engine and threads it inherits in an unknown
state; its garbage collector is off, so that no Prolog-backed object is finalised
there), sends its result back pickled through a pipe and leaves with :func:`os._exit`,
so none of the parent's exit handlers (Prolog's halt, buffered output) run twice.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import select
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

T = TypeVar("T")

def can_fork() -> bool:
    """Whether work may be forked here: Linux only (macOS forbids many of its system
    libraries in a forked child; Windows has no fork)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity; a container's CPU quota is
    not read)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resident_bytes() -> int | None:
    """This process's resident memory in bytes (Linux's ``/proc/self/statm``; None
    elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


#: How long the latest fork of this process kept it waiting, per byte of its resident
#: memory (None until it has forked).
_fork_rate: float | None = None

#: Forks turned down in a row for their cost (:func:`affordable`).
_declined = 0

#: Forks turned down in a row after which a fork is timed again (:func:`retime_if_due`):
#: a rate timed while the machine was busy, or before the process's memory changed
#: kind (a NumPy array's huge pages cost a fork far less per byte than Python objects),
#: would otherwise stand for good.
RETIME_AFTER = 32


def fork_seconds() -> float | None:
    """How long a fork of this process would keep it waiting: its resident memory now at
    the rate of its latest fork (None before its first fork). Before a fork returns, the
    kernel prepares every page of the process for copy-on-write, so the wait grows with
    the memory held: on a two-core virtual machine 3-7 ms for a process that has
    imported the library, 25 ms with a GiB of Python objects beside it (docs/benchmarks.md,
    "What a fork costs")."""
    size = resident_bytes()
    return None if _fork_rate is None or size is None else _fork_rate * size


def affordable(seconds: float, forks: int = 1) -> bool:
    """Whether ``forks`` forks would keep this process waiting at most ``seconds`` in all
    (yes before its first fork: that one is made, and timed). A no is counted for
    :func:`retime_if_due`."""
    global _declined
    cost = fork_seconds()
    if cost is None or cost * forks <= seconds:
        _declined = 0
        return True
    _declined += 1
    return False


def retime_if_due() -> None:
    """After :data:`RETIME_AFTER` forks turned down in a row, time a fork of a child that
    leaves at once. Its wait is the caller's: call it once the work on the clock is done
    (it adds one fork's wait to that call, once in every 33 or more)."""
    global _declined
    if _declined < RETIME_AFTER or not can_fork():
        return
    _declined = 0
    forked = _timed_os_fork()
    if forked is not None and forked[0] == 0:
        os._exit(0)  # (SIGINT is still blocked here: nothing of the caller's runs)
    if forked is not None:
        _leaving.append(forked[0])
        _stop_leaving()


def default_workers() -> int:
    """Processes a clock-bounded search may use by default: two where it can fork and has
    two cores (a third adds less and takes a core from whatever else runs), else one."""
    return 2 if can_fork() and usable_cores() >= 2 else 1


def run_forked(here: Callable[[], T], elsewhere: Sequence[Callable[[], T]], *, grace_s: float | None,
               enough: Callable[[T], bool] | None = None, until: Callable[[], bool] | None = None
               ) -> list[T | None]:
    """Run each of ``elsewhere`` in a forked child and ``here`` in this process.

    Returns ``here``'s result, then each child's, in order. With ``grace_s`` (work bounded
    by a clock), a child that fails gives None, and so does one that has not answered
    ``grace_s`` seconds after ``here`` returned (it is killed). Without (``None``: work
    counted in steps, whose result must not depend on the machine), every child is waited
    for, however long the machine's load makes it (up to :data:`PATIENCE` times as long as
    ``here`` took, plus a second: beyond, it is killed as hung), and the job of one that
    failed runs here instead, as it does where a fork could not be made: the same result.
    Where ``enough(result of here)`` holds, the children are killed at once and give
    None. With ``until`` and ``grace_s`` (work that may end before its clock, e.g. after
    fruitless tries), the grace starts only once ``until()`` holds (the children's clock
    has run out) or every child has answered: a child still at work when ``here`` ended
    early is not cut short. Where the system cannot fork, or a fork fails, a job runs here after ``here``
    (work bounded by a clock that has run out ends at once); an exception of a job run
    here, or of ``here``, is raised, after every child is stopped.
    """
    children: list[tuple[int, int] | None] = []
    found: list[T | None] = []
    try:
        for job in elsewhere:
            children.append(_fork(job) if can_fork() else None)
        began = time.monotonic()
        found.append(here())
        mine = found[0]
        done = enough is not None and mine is not None and enough(mine)
        if until is not None and grace_s is not None and not done:
            _wait(children, until)
        now = time.monotonic()
        deadline = now + (max(grace_s, 0.0) if grace_s is not None else PATIENCE * (now - began) + 1.0)
        for index, job in enumerate(elsewhere):
            child, children[index] = children[index], None  # (collected: not stopped again)
            if done:
                if child is not None:
                    _stop(*child)
                found.append(None)
                continue
            result = _FAILED if child is None else _collect(*child, deadline)
            if result is _FAILED:
                result = job() if grace_s is None or child is None else None
            found.append(cast("T | None", result))
    finally:
        for child in children:
            if child is not None:
                _stop(*child)
    return found


#: Without a grace, how many times as long as the work here a child may take before it
#: counts as hung (and its work is done here).
PATIENCE = 10.0

#: What :func:`_collect` gives for a child that failed, was killed, or wrote no whole result.
_FAILED = object()


def _wait(children: Sequence[tuple[int, int] | None], until: Callable[[], bool]) -> None:
    """Wait until ``until()`` holds or every child has written its result (or left),
    looking at the clock every few milliseconds."""
    poller = select.poll()
    pending = {child[1] for child in children if child is not None}
    for read in pending:
        poller.register(read, select.POLLIN)
    while pending and not until():
        for read, _ in poller.poll(5.0):
            poller.unregister(read)
            pending.discard(read)


def _fork(job: Callable[[], object]) -> tuple[int, int] | None:
    """Start ``job`` in a child; its pid and the read end of its pipe."""
    try:
        read, write = os.pipe()
    except OSError:
        return None
    try:
        forked = _timed_os_fork()
    except BaseException:  # (an interrupt: the child is stopped already)
        os.close(read)
        os.close(write)
        raise
    if forked is None:  # no fork: the work is done here instead
        os.close(read)
        os.close(write)
        return None
    pid, mask = forked
    if pid == 0:
        _child(job, read, write, mask)  # never returns
    os.close(write)
    return pid, read


def _timed_os_fork() -> tuple[int, set[int | signal.Signals]] | None:
    """``os.fork()``, its wait timed per resident byte: the pid (0 in the child) and the
    signal mask to restore in the child, which keeps SIGINT blocked until then (an
    interrupt between the fork and the child's own handling would send the child back
    into the caller's code); None where the fork failed."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())  # (read first: blocking may raise a waiting interrupt)
    pid = -1
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        # (Python 3.12 warns on a fork of a process with threads, and the Prolog engine
        # has some; the child never touches what they hold)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            size = resident_bytes()
            began = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                return 0, mask
            waited = time.perf_counter() - began
    except Exception:  # noqa: BLE001 - no fork
        return None
    finally:
        if pid != 0:
            try:
                # (an interrupt that came during the fork is raised here, once unblocked)
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            except BaseException:
                if pid > 0:  # the child would walk on, unheard: stopped and reaped later
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    _leaving.append(pid)
                raise
    _timed_fork(waited, size)
    return pid, mask


def _timed_fork(seconds: float, size: int | None) -> None:
    """Remember the rate of a fork that took ``seconds`` with ``size`` bytes resident."""
    global _fork_rate
    if size:
        _fork_rate = seconds / size


def _child(job: Callable[[], object], read: int, write: int, mask: set[int | signal.Signals]) -> None:
    """The child's whole life: run ``job``, write its result, leave."""
    code = 1
    try:
        gc.disable()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(read)
        payload = memoryview(pickle.dumps(job(), protocol=pickle.HIGHEST_PROTOCOL))
        while payload:
            payload = payload[os.write(write, payload):]
        # closed now, not by the exit: the kernel closes a leaving process's files only
        # after it has unmapped its memory, which takes milliseconds the parent would wait
        os.close(write)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent reads a failed child as None
        pass
    finally:
        os._exit(code)


def _collect(pid: int, read: int, deadline: float) -> object:
    """The child's result, or :data:`_FAILED` where it failed or had not answered by
    ``deadline`` (what it wrote by then is still read)."""
    chunks = []
    complete = False
    poller = select.poll()  # (select.select fails on descriptors above 1023)
    poller.register(read, select.POLLIN)
    try:
        while True:
            if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000.0):
                break
            chunk = os.read(read, 1 << 16)
            if not chunk:
                complete = True
                break
            chunks.append(chunk)
    finally:
        _stop(pid, read, kill=not complete)
    if not complete or not chunks:  # (a child that failed wrote nothing)
        return _FAILED
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001 - a child that failed half-way wrote a partial payload
        return _FAILED


#: Children that had not finished leaving when their result was read: reaped later, so
#: that no caller waits while the kernel unmaps a child's memory.
_leaving: list[int] = []


def _stop(pid: int, read: int, kill: bool = True) -> None:
    """Close the child's pipe, kill it if asked, and reap it now or on a later call."""
    os.close(read)
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _leaving.append(pid)
    _stop_leaving()


def _stop_leaving() -> None:
    """Reap the children that have left since (without waiting for the others)."""
    for child in list(_leaving):
        try:
            done, _ = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else
            done = child
        if done:
            _leaving.remove(child)
