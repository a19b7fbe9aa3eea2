"""Timed work kept clear of Python's full garbage collections.

A full collection (generation 2) walks every object the process tracks: in a process
that holds a policy, a Prolog engine and many plans that is tens of milliseconds, and
when one fell inside a consult's search it took that much of the search's budget and
added it to the answer's latency (docs/benchmarks.md, "Full collections inside a
search"). :func:`collector_paused` freezes the objects that exist when the timed work
starts (:func:`gc.freeze`): collections during it walk only what it made, which is
still collected, and the frozen objects go back to the collector when it ends.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


_lock = threading.Lock()
_depth = 0  # timed blocks running now (the first one froze, the last one out unfreezes)
_ours = False  # whether the objects frozen now were frozen by the first block


@contextmanager
def collector_paused() -> Iterator[None]:
    """Within the block, collections skip the objects made before it.

    Blocks may nest and run in several threads: the first in freezes, the last out
    unfreezes (objects another thread froze meanwhile too). A process that froze
    objects itself keeps them frozen: nothing is done then. (:func:`gc.get_freeze_count`
    walks the frozen objects, so it is asked only where no block runs, where nothing of
    ours is frozen.)
    """
    global _depth, _ours
    with _lock:
        if _depth == 0:
            _ours = gc.get_freeze_count() == 0
            if _ours:
                gc.freeze()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _ours:
                gc.unfreeze()


def timed_work(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run inside :func:`collector_paused`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with collector_paused():
            return function(*args, **kwargs)

    return wrapper
