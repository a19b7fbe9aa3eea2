"""Work split over forked processes (rrl._fork): results come back in order, a failed or
late child gives None, and no child outlives the call by more than its exit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rrl import _fork
from rrl._fork import can_fork, run_forked

pytestmark = pytest.mark.skipif(not can_fork(), reason="forking is used on Linux only")


def _reaped() -> bool:
    """Whether every child of this test process has been reaped (a later call reaps
    those that were still leaving)."""
    for _ in range(200):
        _fork._stop_leaving()
        if not _fork._leaving:
            return True
        time.sleep(0.01)
    return False


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended and been reaped (a zombie still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _hangs(pid_file: Path):
    """A job that writes its process's pid, then sleeps far longer than any test."""
    def job() -> int:
        pid_file.write_text(str(os.getpid()))
        time.sleep(30)
        return 2

    return job


def _child_pid(pid_file: Path) -> int:
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text():
            return int(pid_file.read_text())
        time.sleep(0.01)
    raise AssertionError("the child never started")


def test_each_job_runs_in_its_own_process_and_the_results_come_back_in_order() -> None:
    parent = os.getpid()
    found = run_forked(lambda: ("here", os.getpid()), [lambda: ("a", os.getpid()), lambda: ("b", os.getpid())],
                       grace_s=5.0)
    assert [f[0] for f in found] == ["here", "a", "b"]
    pids = [f[1] for f in found]
    assert pids[0] == parent and len(set(pids)) == 3
    assert _reaped()


def test_a_large_result_comes_back_whole() -> None:
    big = list(range(200_000))  # more than a pipe holds: the child writes while the parent reads
    assert run_forked(lambda: 0, [lambda: big], grace_s=5.0) == [0, big]


def test_a_failing_child_gives_none() -> None:
    def fails() -> int:
        raise ValueError("in the child")

    assert run_forked(lambda: 1, [fails, lambda: 2], grace_s=5.0) == [1, None, 2]
    assert _reaped()


def test_a_child_past_its_grace_is_killed_and_gives_none(tmp_path) -> None:
    began = time.monotonic()
    job = _hangs(tmp_path / "pid")
    found = run_forked(lambda: time.sleep(0.2) or 1, [job], grace_s=0.2)
    assert found == [1, None]
    assert time.monotonic() - began < 5
    assert _reaped() and _gone(_child_pid(tmp_path / "pid"))


def test_with_until_the_grace_starts_when_the_clock_runs_out() -> None:
    """Work that may end before its clock (walks that stop after fruitless tries): a
    child still at work when this process's job ended early is waited for until the
    clock, its answer kept; a child that works past the clock still gets only the grace."""
    began = time.monotonic()

    def clock() -> bool:
        return time.monotonic() - began >= 1.0

    assert run_forked(lambda: 1, [lambda: time.sleep(0.4) or 2], grace_s=0.02, until=clock) == [1, 2]
    assert time.monotonic() - began < 0.9  # (not kept waiting for the clock once the child answered)
    assert run_forked(lambda: 1, [lambda: time.sleep(0.4) or 2], grace_s=0.02) == [1, None]
    began = time.monotonic()
    assert run_forked(lambda: 1, [lambda: time.sleep(30) or 2], grace_s=0.02, until=clock) == [1, None]
    assert 1.0 <= time.monotonic() - began < 5


def test_without_a_grace_a_slow_child_is_waited_for() -> None:
    """(Work counted in steps: its result must not depend on the machine's load.)"""
    assert run_forked(lambda: 1, [lambda: time.sleep(0.5) or 2], grace_s=None) == [1, 2]


def test_without_a_grace_the_job_of_a_child_that_failed_runs_here() -> None:
    parent = os.getpid()

    def job() -> int:
        if os.getpid() != parent:
            os._exit(3)  # a child that dies without a word
        return parent

    assert run_forked(lambda: 1, [job], grace_s=None) == [1, parent]
    assert run_forked(lambda: 1, [job], grace_s=5.0) == [1, None]
    assert _reaped()


def test_a_child_that_answers_none_is_not_taken_for_a_failed_one() -> None:
    parent = os.getpid()
    assert run_forked(lambda: 1, [lambda: None if os.getpid() != parent else 5], grace_s=None) == [1, None]


def test_children_are_stopped_at_once_when_the_result_here_is_enough(tmp_path) -> None:
    began = time.monotonic()
    job = _hangs(tmp_path / "pid")
    found = run_forked(lambda: time.sleep(0.2) or 0, [job], grace_s=None, enough=lambda r: r == 0)
    assert found == [0, None]
    assert time.monotonic() - began < 5
    assert _reaped() and _gone(_child_pid(tmp_path / "pid"))


def test_where_the_system_cannot_fork_the_jobs_run_here_after(monkeypatch) -> None:
    monkeypatch.setattr(_fork, "can_fork", lambda: False)
    parent = os.getpid()
    assert run_forked(lambda: 1, [os.getpid, lambda: 3], grace_s=0.0) == [1, parent, 3]


def test_an_error_here_is_raised_after_the_children_are_stopped(tmp_path) -> None:
    def fails() -> int:
        time.sleep(0.2)
        raise KeyError("here")

    with pytest.raises(KeyError):
        run_forked(fails, [_hangs(tmp_path / "pid")], grace_s=5.0)
    assert _reaped() and _gone(_child_pid(tmp_path / "pid"))


def test_a_fork_is_timed_and_its_cost_follows_the_resident_memory(monkeypatch) -> None:
    """Each fork's wait is timed per resident byte, and the estimate scales the latest
    rate with the memory resident now; none before a first fork (which is allowed)."""
    size = _fork.resident_bytes()
    assert size is not None and size > 1 << 20  # (a Python process holds more than a MiB)
    assert _fork.fork_seconds() is None  # (each test starts unforked: tests/conftest.py) and _fork.affordable(0.0)
    assert run_forked(lambda: 1, [lambda: 2], grace_s=5.0) == [1, 2]
    timed = _fork._fork_rate
    assert timed is not None and 0.0 < timed * size < 5.0
    monkeypatch.setattr(_fork, "resident_bytes", lambda: size)  # (the memory moves as the test runs)
    assert _fork.affordable(timed * size * 2.01, forks=2) and not _fork.affordable(timed * size * 1.99, forks=2)
    monkeypatch.setattr(_fork, "resident_bytes", lambda: 1 << 30)
    assert _fork.fork_seconds() == pytest.approx(timed * (1 << 30))
    monkeypatch.setattr(_fork, "resident_bytes", lambda: None)  # (no /proc: nothing known)
    assert _fork.fork_seconds() is None


def test_a_fork_turned_down_again_and_again_is_timed_anew(monkeypatch) -> None:
    """A rate timed while the machine was busy would turn every later fork down: after
    RETIME_AFTER forks turned down in a row a child that leaves at once is forked, and
    its wait becomes the rate; until then nothing is forked."""
    monkeypatch.setattr(_fork, "_fork_rate", 10.0 / (1 << 20))  # ten seconds per MiB
    for _ in range(_fork.RETIME_AFTER - 1):
        assert not _fork.affordable(0.05)
        _fork.retime_if_due()
        assert _fork._fork_rate == 10.0 / (1 << 20)
    assert not _fork.affordable(0.05)
    _fork.retime_if_due()
    size = _fork.resident_bytes()
    assert _fork._fork_rate is not None and size is not None and _fork._fork_rate * size < 5.0
    assert _fork._declined == 0 and _reaped()


def test_an_interrupt_during_a_fork_stops_the_child(monkeypatch) -> None:
    """An interrupt that came while the fork blocked it is raised once the parent
    unblocks it: the child just forked is stopped and reaped, not left walking."""
    import signal

    parent, real = os.getpid(), signal.pthread_sigmask

    def interrupted(how, mask):
        found = real(how, mask)
        if how == signal.SIG_SETMASK and os.getpid() == parent:
            raise KeyboardInterrupt
        return found

    monkeypatch.setattr(signal, "pthread_sigmask", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_forked(lambda: 1, [lambda: time.sleep(30) or 2], grace_s=5.0)
    monkeypatch.undo()
    assert _fork._leaving and _reaped()
