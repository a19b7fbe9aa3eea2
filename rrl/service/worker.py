"""The repair worker: one child process that owns the service's Prolog engine and store.

The web layer (:mod:`rrl.service.app`) parses requests, writes the versions
(:mod:`rrl.service.writer`) and answers, in the server process; every call of
:class:`~rrl.service.core.RepairService` runs here, one at a time. On a burst of events
the two processes work side by side on two cores: while the worker repairs one event,
the server reads the next requests, stores the last repair and answers it (in one
process they would take turns on one core, under one interpreter lock).

The child is started with ``spawn`` (no copy of the server's threads or of a Prolog
engine), opens its own connection to the database, and is killed with the server: on
Linux it asks the kernel to be sent SIGKILL when its parent dies, so a ``kill -9`` of
the server leaves no writer behind.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Any

from rrl.errors import RRLError
from rrl.service import LATENCY_MS, MIN_BUDGET_MS

#: The service of this process, when it is the worker (set by :func:`_start`).
_service: Any = None


class Refused(RRLError):
    """A call the worker refused: ``status`` is the HTTP status its error maps to."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (Refused, (self.status, str(self)))


class Rejected(RRLError):
    """The validator refused a plan the service computed (a bug; nothing is stored)."""


def status_of(error: Exception) -> int | None:
    """The HTTP status of a refusal of the library or the store (None: not a refusal)."""
    from rrl.storage import NotFound, StoreError, VersionConflict

    for kind, status in ((NotFound, 404), (VersionConflict, 409), (StoreError, 503), (Rejected, 500),
                         (RRLError, 422)):
        if isinstance(error, kind):
            return status
    return None


def message_of(error: Exception) -> str:
    """The one line an error answer carries."""
    from rrl.storage import VersionConflict

    if isinstance(error, VersionConflict):
        return f"{error}; try again"
    # Library messages name command-line flags (--product); here they are body keys.
    return str(error).removeprefix("--")


class Worker:
    """A :class:`~rrl.service.core.RepairService` in a child process.

    Parameters
    ----------
    url : str
        The database (the worker opens its own connection; the tables are created when
        missing).
    policy : path, optional
        The policy directory the service repairs with.
    latency_ms, min_budget_ms : float
        As :class:`~rrl.service.core.RepairService`.

    Raises
    ------
    RRLError
        When the service cannot start (a bad policy, an unreachable database): one line.
    """

    def __init__(self, url: str, policy: str | Path | None = None, latency_ms: float = LATENCY_MS,
                 min_budget_ms: float = MIN_BUDGET_MS) -> None:
        self.latency_ms = latency_ms
        self.restarts = 0
        self._settings = (url, None if policy is None else str(policy), latency_ms, min_budget_ms)
        self._context = multiprocessing.get_context("spawn")
        # Events waiting for the worker, the one in progress included: written here, read
        # by the worker's searches as they go (an int: no lock needed for one writer).
        self._queued = self._context.RawValue("i", 0)
        self._pool = self._started()
        try:
            _unwrap(self._pool.submit(_start, *self._settings).result())
        except BaseException:
            self._pool.shutdown(wait=True, cancel_futures=True)
            raise

    def _started(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=self._context, initializer=_share,
                                   initargs=(self._queued,))

    @property
    def queued(self) -> int:
        """Events waiting for the worker, the one in progress included."""
        return int(self._queued.value)

    def arrive(self) -> None:
        """An event starts waiting (call :meth:`leave` once it is answered)."""
        self._queued.value += 1

    def leave(self) -> None:
        """An event counted by :meth:`arrive` was answered."""
        self._queued.value -= 1

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``RepairService.<method>(*args, **kwargs)`` in the worker; its refusals raise
        :class:`Refused`. Calls run one at a time, in the order they were made."""
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            answer = await loop.run_in_executor(pool, partial(_run, method, args, kwargs))
        except BrokenProcessPool:
            self._restart(pool)
            raise Refused(503, "the repair worker stopped and was restarted; try again") from None
        return _unwrap(answer)

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        """A new worker in place of one that died (the calls queued on it failed with it).

        Its start is queued ahead of the next calls, so nothing waits for it here; had
        the worker died for good (its start refused), those calls say so.
        """
        if self._pool is not broken:  # another failed call restarted it already
            return
        # (spawned from this thread, the event loop's: the kernel's parent-death signal
        # follows the thread that started the process)
        broken.shutdown(wait=False, cancel_futures=True)
        self._pool = self._started()
        self._pool.submit(_start, *self._settings).add_done_callback(_report_start)
        self.restarts += 1

    def close(self) -> None:
        """Stop the worker once its calls are done."""
        self._pool.shutdown(wait=True)


def _report_start(started: Future[tuple[str, Any]]) -> None:
    """Say in the server's log when a restarted worker could not start (its calls say so too)."""
    error = started.exception()
    kind, value = started.result() if error is None else ("refused", (503, str(error)))
    if kind != "ok":
        print(f"rrl serve: the restarted repair worker could not start: {value[1]}", file=sys.stderr, flush=True)


def _unwrap(answer: tuple[str, Any]) -> Any:
    kind, value = answer
    if kind == "refused":
        raise Refused(*value)
    return value


#: The server's count of waiting events, in the worker (set by :func:`_share`).
_queued: Any = None


def _share(queued: Any) -> None:
    """Keep the shared count of waiting events (the pool's initializer, in the child)."""
    global _queued
    _queued = queued


#: How the worker's service is built (kept to try again when a start was refused).
_settings: tuple[Any, ...] | None = None


def _start(url: str, policy: str | None, latency_ms: float, min_budget_ms: float) -> tuple[str, Any]:
    """Build the worker's service (in the child)."""
    global _service, _settings
    _settings = (url, policy, latency_ms, min_budget_ms)
    _die_with_parent()
    from rrl.service.core import RepairService
    from rrl.storage import Store

    try:
        store = Store(url)
        store.init()
        _service = RepairService(store, policy, latency_ms, min_budget_ms,
                                 queue=None if _queued is None else lambda: int(_queued.value))
    except RRLError as error:
        return "refused", (status_of(error) or 422, str(error))
    return "ok", None


def _run(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    """One call of the service (in the child); refusals come back as values, so that
    nothing but plain data crosses the pipe."""
    if _service is None:  # its start was refused (say the database was down): try again
        started = _start(*_settings) if _settings is not None else ("refused", (503, "not started"))
        if started[0] != "ok":
            return "refused", (503, f"the repair worker cannot start: {started[1][1]}")
    try:
        return "ok", getattr(_service, method)(*args, **kwargs)
    except RRLError as error:
        status = status_of(error)
        assert status is not None
        return "refused", (status, message_of(error))
    except Exception as error:  # a bug: its traceback in the server's log, one line for the client
        traceback.print_exc()
        return "refused", (500, f"internal error: {type(error).__name__}: {' '.join(str(error).split())}")


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the server process dies (elsewhere: no-op)."""
    import ctypes
    import signal

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:  # the server died before the call above
            os._exit(1)
