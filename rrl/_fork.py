"""Work split over forked processes, for searches that gain from a second core.

A search within a wall-time budget (consult's ruin-and-recreate walk) does as many tries
as its core allows; a second, independent walk on another core is worth about as much
as a longer budget (docs/benchmarks.md, "Two walks at once"). Forking starts the second
walk in about 2 ms with everything the first one has (plans, memo tables), where a
spawned process would need hundreds of milliseconds to import the library. The forked
child runs pure Python only (never Prolog, whose engine and threads it inherits in an
unknown state), sends its result back pickled through a pipe and leaves with
:func:`os._exit`, so none of the parent's exit handlers (Prolog's halt, buffered output)
run twice.
"""

from __future__ import annotations

import contextlib
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
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers() -> int:
    """Processes a search may use by default: two where it can fork and has two cores
    (the second walk adds most; a third adds less and takes a core from whatever else
    runs), else one."""
    return 2 if can_fork() and usable_cores() >= 2 else 1


def run_forked(here: Callable[[], T], elsewhere: Sequence[Callable[[], T]], *,
               grace_s: float) -> list[T | None]:
    """Run each of ``elsewhere`` in a forked child and ``here`` in this process.

    Returns ``here``'s result, then each child's, in order; a child that fails, or has
    not answered within as long again as ``here`` took (at least ``grace_s`` seconds)
    after ``here`` returned (it is then killed), gives None: a child doing the same
    amount of work on a core it shares may take up to twice as long. Where the system cannot fork, or a fork fails, that work is not done (None).
    An exception from ``here`` is raised after the children are stopped.
    """
    children: list[tuple[int, int] | None] = []
    for job in elsewhere:
        children.append(_fork(job) if can_fork() else None)
    began = time.monotonic()
    try:
        mine = here()
    except BaseException:
        for child in children:
            if child is not None:
                _stop(*child)
        raise
    now = time.monotonic()
    deadline = now + max(grace_s, now - began)
    found: list[T | None] = [mine]
    for child in children:
        found.append(None if child is None else cast("T | None", _collect(*child, deadline)))
    return found


def _fork(job: Callable[[], object]) -> tuple[int, int] | None:
    """Start ``job`` in a child; its pid and the read end of its pipe."""
    try:
        read, write = os.pipe()
    except OSError:
        return None
    try:
        # (Python 3.12 warns on a fork of a process with threads, and the Prolog engine
        # has some; the child never touches what they hold)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # the child: never returns
        code = 1
        try:
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
    os.close(write)
    return pid, read


def _collect(pid: int, read: int, deadline: float) -> object | None:
    """The child's result, or None where it failed or ran past ``deadline``."""
    chunks = []
    complete = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read], [], [], left)[0]:
                break
            chunk = os.read(read, 1 << 16)
            if not chunk:
                complete = True
                break
            chunks.append(chunk)
    finally:
        _stop(pid, read, kill=not complete)
    if not complete:
        return None
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001 - a child that failed half-way wrote a partial payload
        return None


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
