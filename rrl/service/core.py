"""The repair service without HTTP: scenarios in, events in, stored plan versions out.

:class:`RepairService` does the work of each endpoint with the library's own functions
(``scenario_from_dict``, :func:`rrl.learning.consult.consult`, ``consult_json``, the
validator) and the :class:`~rrl.storage.Store`. It is synchronous and not thread-safe:
SWI-Prolog (through pyswip) is one engine per process, so the web layer runs every call
of this class in one worker process (:mod:`rrl.service.worker`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rrl.bounds import MAX_BUDGET_MS
from rrl.domain.plan import Plan
from rrl.domain.scenario import Scenario, printed_and_read, scenario_from_dict
from rrl.domain.validator import validate
from rrl.errors import RRLError
from rrl.learning.agent import RepairAgent, RepairResult
from rrl.learning.consult import check_event_options, consult, consult_json, plan_of, search_agent
from rrl.learning.search import default_budget_ms
from rrl.service import LATENCY_MS, MIN_BUDGET_MS
from rrl.service.metrics import Counters
from rrl.service.worker import Rejected
from rrl.service.writer import RETRIES, Repaired, Writer
from rrl.storage import Store, Version, VersionConflict


class RepairService:
    """Scenarios, events and versions over a store.

    Parameters
    ----------
    store : Store
        Where scenarios and plan versions live.
    policy : path, optional
        A policy directory (``rrl train``). Without one, repairs are the policy-free
        search of :func:`rrl.learning.consult.search_agent` (tardiness goal).
    latency_ms, min_budget_ms : float
        The answer time aimed at under a queue, and the least search an event gets
        (:meth:`budget_for`).
    queue : callable, optional
        How many events wait for this service now, the one in progress included. A
        search asks it as it goes and stops once its share of ``latency_ms`` under the
        queue as it is now is spent: the first events of a burst arrive before the rest
        and would otherwise keep the full budget they were given.
    """

    def __init__(self, store: Store, policy: str | Path | None = None, latency_ms: float = LATENCY_MS,
                 min_budget_ms: float = MIN_BUDGET_MS, queue: Callable[[], int] | None = None) -> None:
        self.store = store
        self.queue = queue
        self.policy = str(policy) if policy is not None else None
        self.agent: RepairAgent = RepairAgent.load(policy) if policy is not None else search_agent()
        # one walk per repair: under a burst the server and the repair worker already keep
        # both cores busy, and a forked second walk would take CPU from the queue
        self.agent.walkers = 1
        self.latency_ms = latency_ms
        self.min_budget_ms = min_budget_ms
        self.counters = Counters()
        # per scenario, the version number, scenario and repair key of the last plan computed
        self._ahead: dict[int, tuple[int, Scenario, str]] = {}
        self._writer = Writer(store)
        self._overhead_ms = 5.0  # running estimate of an event's cost besides the repair search

    def budget_for(self, deadline: float | None, behind: int, orders: int, now: float | None = None) -> float | None:
        """The search budget (ms) of an event that must be answered by ``deadline``
        (``time.perf_counter()`` seconds) while ``behind`` more events wait, from ``now``
        (default: the clock).

        Each waiting event gets an equal share of the time left, less the measured cost of
        everything but the search; None (the library's default budget) when that share is
        larger than the default, or without a deadline; never less than ``min_budget_ms``
        (0: an event whose share is spent is stored with no search, its plan as the event
        left it, which is never worse). A burst thus shortens searches instead of stretching
        every answer; the budget used is stored with the version.
        """
        if deadline is None or self.latency_ms <= 0:
            return None
        share = (deadline - (time.perf_counter() if now is None else now)) * 1000.0 / (behind + 1) - self._overhead_ms
        if share >= default_budget_ms(orders):
            return None
        return max(self.min_budget_ms, share)

    # ------------------------------------------------------------------ scenarios

    def create_scenario(self, data: dict[str, Any], rule: str | None = None) -> Version:
        """Check a scenario (file format as a dict), build its plan if asked, store version 1.

        Without ``rule`` the scenario's own schedule is the plan (EDD when it has none);
        ``ppo`` goes through the safety wrapper, whose fallbacks are counted.
        """
        scenario = scenario_from_dict(data, "body", default_name="scenario")
        source = rule or ("scenario" if scenario.schedule is not None else "edd")
        if rule == "ppo":
            fell: list[str] = []
            try:
                import rrl.generative.safety  # noqa: F401  (torch and Stable-Baselines3)
            except ImportError as error:
                raise RRLError(f"rule: ppo needs the ppo extra (pip install 'rrl-repair[ppo]'): {error}") from None
            self.counters.ppo_schedules += 1
            plan = plan_of(scenario, "ppo", warn=fell.append)
            if fell:
                self.counters.ppo_fallbacks += 1
                source = "ppo-fallback"
        else:
            plan = plan_of(scenario, rule)
        self._validated(plan, None)
        # Stored as a reader of the file with this plan sees it (the clock freezes the same orders).
        planned = scenario_from_dict(scenario.with_schedule(plan.schedule).to_dict(), "body")
        stored = self.store.create(planned, source=source)
        self.counters.scenarios_created += 1
        return stored

    # ------------------------------------------------------------------ events

    def apply_event(self, scenario_id: int, event: str, options: dict[str, Any], *, seed: int = 0,
                    max_steps: int | None = None, budget_ms: float | None = None, node_limit: int | None = None,
                    name_foci: bool | None = None, deadline: float | None = None,
                    behind: int = 0) -> tuple[dict[str, Any], Version]:
        """Repair the scenario's current plan after ``event``; store and return the new version.

        Returns the object ``rrl consult --json`` prints for the current version's
        scenario and the same options (and ``budget_ms``, ``node_limit``), plus ``version``, and
        the stored version. Without ``budget_ms`` or ``node_limit`` the budget comes from
        :meth:`budget_for`; ``name_foci`` as in :meth:`repair_event`. (The web
        server splits this in two: :meth:`repair_event` in its worker, a
        :class:`~rrl.service.writer.Writer` in the server process.)
        """
        for attempt in range(RETRIES):
            repaired = self.repair_event(scenario_id, event, options, seed=seed, max_steps=max_steps,
                                         budget_ms=budget_ms, node_limit=node_limit, name_foci=name_foci,
                                         deadline=deadline, behind=behind, fresh=attempt > 0)
            try:
                out, stored = self._writer(repaired)
            except VersionConflict:
                self.forget(scenario_id)
                self.counters.version_conflicts += 1
                if attempt == RETRIES - 1:
                    raise
                continue
            except BaseException:
                self.forget(scenario_id)  # not stored: the next event must not start from it
                raise
            self.counters.repairs_served += 1
            return out, stored
        raise AssertionError("unreachable")

    def repair_event(self, scenario_id: int, event: str, options: dict[str, Any], *, seed: int = 0,
                     max_steps: int | None = None, budget_ms: float | None = None, node_limit: int | None = None,
                     name_foci: bool | None = None, deadline: float | None = None, behind: int = 0,
                     fresh: bool = False) -> Repaired:
        """Repair the scenario's latest plan after ``event``, without storing it.

        The stored steps of a walk, a block or an exchange name the focus rule their order
        meets (``name_foci``, :meth:`~rrl.learning.agent.RepairAgent.repair`) where asked;
        by default as :meth:`_naming` decides.

        The latest plan is the one this service computed last for the scenario (its
        version may still be on its way to the database), else the database's current
        version; with ``fresh``, always the database's (after a :class:`VersionConflict`).
        The repaired plan becomes the latest: the next event on the scenario starts from it.
        """
        check_event_options(event, options, prefix="")
        began = time.perf_counter()
        ahead = None if fresh else self._ahead.get(scenario_id)
        parent: str | None = None
        if ahead is None:
            # Remembered versions are right only where this process writes them all.
            current = self.store.current(scenario_id, remembered=not fresh and self.queue is None)
            number, scenario = current.version, current.scenario
        else:
            number, scenario, parent = ahead
        orders = len(scenario.problem.orders)
        started = time.perf_counter()
        if self.queue is not None and not fresh:
            behind = max(0, self.queue() - 1)
        # (a budget or a node limit the client gives is its own: the queue does not shrink it;
        # under a node limit alone the clock's ceiling, so that the count ends the search)
        given = budget_ms is not None or node_limit is not None
        budget = budget_ms if budget_ms is not None else MAX_BUDGET_MS if node_limit is not None else \
            self.budget_for(deadline, behind, orders, started)
        stop = None if given else self._stopper(deadline, orders, started)
        try:
            result = consult(self.agent, scenario, event, seed=seed, max_steps=max_steps, budget_ms=budget,
                             node_limit=node_limit, prefix="", stop=stop,
                             name_foci=self._naming(name_foci, given, budget, stop), **options)
        except RRLError:
            self.counters.repairs_failed += 1
            raise
        consulted = time.perf_counter() - started
        self.counters.record(self.counters.repair_ms, consulted * 1000)
        self._validated(result.plan, result.before)
        # What a reader of the printed scenario gets (``after``): the next event starts
        # from it. Timed here (the next event needs it) and handed over timed: the store
        # validates it.
        printed, after = printed_and_read(result.plan, scenario.name)
        out = consult_json(result, scenario.name, printed)
        after.plan()
        repaired = Repaired(scenario_id, number, after, out, self._repair_record(result, out, seed, max_steps,
                                                                                 budget, node_limit, behind),
                            self._steps(result), parent=parent)
        self._ahead[scenario_id] = (number + 1, after, repaired.key)
        spent = (time.perf_counter() - began - consulted) * 1000.0
        self._overhead_ms = 0.8 * self._overhead_ms + 0.2 * spent
        return repaired

    def forget(self, scenario_id: int) -> None:
        """Drop the scenario's latest computed plan: the next event reads the database's."""
        self._ahead.pop(scenario_id, None)

    def _stopper(self, deadline: float | None, orders: int, started: float) -> Callable[[], bool] | None:
        """The search's early stop under :attr:`queue`: once it has spent the share it
        would have had, had the queue been as long as it is now when it started (the
        share from the event's start, the time spent from the search's first look, so
        that the search always makes its first expansion, as a budget does, unless the
        plan after the event already costs nothing)."""
        queue = self.queue
        if deadline is None or queue is None:
            return None
        searching: list[float] = []

        def spent() -> bool:
            now = time.perf_counter()
            if not searching:
                searching.append(now)
                return False
            share = self.budget_for(deadline, max(0, queue() - 1), orders, started)
            return share is not None and (now - searching[0]) * 1000.0 >= share

        return spent

    @staticmethod
    def _naming(asked: bool | None, given: bool, budget: float | None,
                stop: Callable[[], bool] | None) -> bool | Callable[[], bool]:
        """Whether a repair names the focus rules its walk's steps meet: as the event asks;
        by default where the client gave the budget, or the search got the library's
        default and, once it has ended, no queue has spent the event's share (naming costs
        a millisecond or two after the search, which a queue needs)."""
        if asked is not None or given:
            return asked if asked is not None else True
        if budget is not None:
            return False  # (the latency target shortened the search)
        return True if stop is None else (lambda: not stop())

    def _validated(self, plan: Plan, before: Plan | None) -> None:
        reference = (before.schedule, before.times) if before is not None else None
        problems = validate(plan.problem, plan.schedule, plan.times, reference=reference)
        if problems:
            self.counters.validator_rejections += 1
            raise Rejected(f"internal error: the plan is invalid ({problems[0]}; {len(problems)} violations); "
                           "nothing was stored")

    def _repair_record(self, result: RepairResult, out: dict[str, Any], seed: int, max_steps: int | None,
                       budget_ms: float | None, node_limit: int | None, behind: int) -> dict[str, Any]:
        return {"initial": out["initial"], "disrupted": out["disrupted"], "seconds": out["seconds"],
                "goal": result.goal, "reached": result.reached, "note": result.note, "explored": result.explored,
                "seed": seed, "max_steps": max_steps or self.agent.steps_for(result.disrupted), "budget_ms": budget_ms,
                "focus_width": self.agent.focus_width_for(result.disrupted),
                "node_limit": node_limit, "queued_behind": behind, "policy": self.policy, "focal": list(_focal(result)),
                "foci_named": result.foci_named}

    def _steps(self, result: RepairResult) -> list[dict[str, Any]]:
        return [{**s.to_dict(), "q_value": s.q_value, "rule": s.rule,
                 "focus_reason": s.focus.reason if s.focus is not None else None, "focus_rule": s.focus_rule,
                 "meets": s.meets, "meets_rule": s.meets_rule}
                for s in result.steps]

    # ------------------------------------------------------------------ the API's calls, in plain data

    def post_scenario(self, data: dict[str, Any], rule: str | None = None) -> dict[str, Any]:
        """``POST /api/scenarios``: :meth:`create_scenario`, answered as ``{"id", "version", "metrics"}``."""
        stored = self.create_scenario(data, rule)
        return {"id": stored.scenario_id, "version": stored.version, "metrics": stored.metrics}

    def scenario_list(self) -> list[dict[str, Any]]:
        """``GET /api/scenarios``."""
        return self.store.scenarios()

    def version_list(self, scenario_id: int) -> list[dict[str, Any]]:
        """``GET /api/scenarios/{id}/versions``."""
        return self.store.versions(scenario_id)

    def version_detail(self, scenario_id: int, number: int) -> dict[str, Any]:
        """``GET /api/scenarios/{id}/versions/{version}``."""
        return self.version_view(self.store.version(scenario_id, number))

    def metrics(self) -> dict[str, Any]:
        """``GET /api/metrics`` (the web layer puts in the event latencies it measured)
        and ``pid``, the process that repairs."""
        return {**self.counters.to_dict(), "pid": os.getpid()}

    # ------------------------------------------------------------------ reading

    def scenario_view(self, scenario_id: int) -> dict[str, Any]:
        """``GET /api/scenarios/{id}``: the scenario with the current plan, its metrics and version."""
        return self.version_view(self.store.current(scenario_id), full=False)

    def version_view(self, stored: Version, full: bool = True) -> dict[str, Any]:
        """A version for the API: the scenario, metrics, version, and (``full``) how it came about."""
        scenario = stored.scenario
        data: dict[str, Any] = {"id": stored.scenario_id, **scenario.to_dict(), "metrics": stored.metrics,
                                "version": stored.version, "created": _iso(stored), "source": stored.source,
                                "plan": plan_rows(scenario)}
        if full:
            data["event"] = stored.event
            data["repair"] = stored.repair
            data["steps"] = stored.steps or []
        return data


def plan_rows(scenario: Scenario) -> list[dict[str, Any]]:
    """One row per order for a Gantt chart: times, cleanout before it, due date, flags."""
    plan = scenario.plan()
    orders = scenario.problem.orders
    frozen = scenario.problem.frozen
    rows = []
    for row in plan.rows():
        oid = str(row["order"])
        spec = orders[oid]
        rows.append({**row, "setup": plan.times.setup[oid], "product": spec.product, "due": spec.due,
                     "important": spec.important, "frozen": oid in frozen})
    return rows


def _focal(result: RepairResult) -> tuple[str, ...]:
    event = result.event
    if event.get("type") in ("new_order", "rush_order"):
        return (str(event["order"]["id"]),)
    if event.get("type") == "material_delay":
        return (str(event["order"]),)
    return tuple(dict.fromkeys(s.action.focal for s in result.steps))


def _iso(stored: Version) -> str:
    from rrl.storage.store import iso

    return iso(stored.created)
