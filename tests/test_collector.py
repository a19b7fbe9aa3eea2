"""Timed work and Python's garbage collector (rrl._collector)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from rrl._collector import collector_paused, timed_work
from rrl.domain.scenario import load_scenario
from rrl.learning import RepairAgent
from rrl.learning.evaluate import draw_cases


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _garbage_cycle() -> weakref.ref[_Cycle]:
    """A reference cycle nothing else holds: only the collector frees it."""
    return weakref.ref(_Cycle())


@pytest.fixture(autouse=True)
def _nothing_frozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_made_before_are_left_alone_and_those_made_inside_are_collected() -> None:
    before = _garbage_cycle()
    with collector_paused():
        inside = _garbage_cycle()
        gc.collect()
        assert before() is not None  # frozen: a full collection does not walk it
        assert inside() is None
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert before() is None


def test_nested_blocks_unfreeze_once_at_the_end() -> None:
    with collector_paused():
        with collector_paused():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0  # the inner block did not unfreeze the outer one's
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            pass
        # (a frozen object still leaves the count when freed, e.g. by another test's thread
        # finishing meanwhile: an unfreeze would empty it)
        assert frozen - 1000 <= gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()  # the rest of the session runs in a process that froze nothing


def test_a_thread_leaving_its_block_keeps_another_threads_block_frozen() -> None:
    inside, leave = threading.Event(), threading.Event()

    def long_block() -> None:
        with collector_paused():
            inside.set()
            leave.wait(10)

    other = threading.Thread(target=long_block)
    other.start()
    assert inside.wait(10)
    with collector_paused():
        pass
    assert gc.get_freeze_count() > 0  # the other thread is still inside its block
    leave.set()
    other.join()
    assert gc.get_freeze_count() == 0


def test_threads_leave_nothing_frozen() -> None:
    def work() -> None:
        for _ in range(200):
            with collector_paused():
                _garbage_cycle()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.get_freeze_count() == 0


def test_a_repair_searches_with_the_collector_paused_and_restores_it() -> None:
    plant = load_scenario("scenarios/extruders.yaml").plant
    hit = draw_cases(plant, 1, 0, (10, 12), ("rush_order",))[0]
    seen: list[bool] = []

    def stop() -> bool:
        seen.append(gc.get_freeze_count() > 0)
        return False

    RepairAgent(plant).repair(hit, budget_ms=20, stop=stop)
    assert seen and all(seen)
    assert gc.get_freeze_count() == 0


def test_timed_work_keeps_the_function_and_its_result() -> None:
    @timed_work
    def double(x: int) -> int:
        """Twice x."""
        assert gc.get_freeze_count() > 0
        return 2 * x

    assert double(4) == 8 and double.__doc__ == "Twice x."
    assert gc.get_freeze_count() == 0
