"""Schedule states as Prolog facts, seen from a focal task (deictic representation).

The facts follow the paper's Example 1 (global tardiness and work figures, per-resource
load and tardiness, the focal task, left/right tardiness around it, material arrival,
the applicable operators, one fact per task); docs/state.md lists every predicate.
A (state, action) pair adds the action's facts, including its immediate effect as the
simulator computes it (the operators are deterministic, so the agent can look one step
ahead at no risk).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Iterable

from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.operators.repair import Action
from rrl.relational.terms import quote_atom as atom

#: Every predicate a state or action may hold (name, arity): a policy's Prolog module
#: declares them dynamic, so a fact absent from one state simply fails.
FACT_PREDICATES: tuple[tuple[str, int], ...] = (
    ("total_tardiness", 1), ("max_tardiness", 1), ("avg_tardiness", 1), ("tardy_orders", 1),
    ("n_orders", 1), ("makespan", 1), ("total_wip", 1), ("tardiness_ratio", 1),
    ("inventory_ratio", 1), ("total_cleanout", 1), ("resource", 2), ("res_load", 2),
    ("res_tardiness", 2), ("task", 9), ("cleanout_before", 2), ("important", 1), ("started", 1),
    ("after", 2), ("flexible", 1), ("event_focal", 1), ("delayed", 1), ("previous_focus", 1),
    ("focal", 1), ("focal_left_tardiness", 1), ("focal_right_tardiness", 1), ("focal_slack", 1),
    ("focal_tardy_block", 1), ("focus_by", 1), ("material_arrival", 1), ("can_run", 2), ("applicable", 1),
    ("action", 3), ("action_resource", 1), ("action_delta_tardiness", 1), ("action_delta_cleanout", 1),
    ("action_delta_moved", 1), ("action_frees_chain", 0), ("action_reward", 1),
)


#: The predicates of the facts of one order (task/9 and what else holds of it).
ORDER_PREDICATES = frozenset({"task", "cleanout_before", "important", "started", "after", "flexible"})
#: The predicates of the facts of each resource.
RESOURCE_PREDICATES = frozenset({"resource", "res_load", "res_tardiness"})


def predicate_of(fact: str) -> str:
    """The name of a fact's predicate (``action_frees_chain`` has no arguments)."""
    return fact.partition("(")[0]


def number(value: float) -> str:
    """A number as Prolog reads it: 4 decimals at most, no exponent."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def plan_facts(
    plan: Plan,
    *,
    event_focal: Iterable[str] = (),
    delayed: Iterable[str] = (),
    previous_focus: str | None = None,
    orders_facts: dict[str, list[str]] | None = None,
    only: Collection[str] | None = None,
) -> list[str]:
    """The facts of ``plan`` that do not depend on where the policy looks.

    Parameters
    ----------
    plan : Plan
        The schedule state.
    event_focal : iterable of str
        The disruption's focal tasks (``event_focal/1``).
    delayed : iterable of str
        Orders that the last repair step made finish later (``delayed/1``).
    previous_focus : str, optional
        The focal task of the last step (``previous_focus/1``).
    orders_facts : dict, optional
        Filled with (or, when it already holds the facts of the plan this one was changed
        from, updated to) each order's facts: a search writes the states of many plans
        that differ from their parent in the re-timed orders only.
    only : collection of str, optional
        Only the facts of these predicates (names), e.g. those a policy's value can read
        (:meth:`~rrl.learning.qfunction.PrologQFunction.value_facts`): the orders' facts
        are not built at all when none of :data:`ORDER_PREDICATES` is among them.

    Returns
    -------
    list of str
        Ground facts without the final full stop (:func:`state_facts` groups them by
        predicate, as a file for plain swipl wants them).
    """
    if only is not None:
        return _plan_facts_of(plan, only, event_focal, delayed, previous_focus)
    problem = plan.problem
    times = plan.times
    schedule = plan.schedule
    durations = problem.durations
    facts = _global_facts(plan) + _resource_facts(plan)
    if orders_facts and times.changed:
        where = schedule.where
        for order in times.changed:
            rid, k = where[order]
            orders_facts[order] = _order_facts(problem, plan, order, rid, k, durations)
        for seq in schedule.sequences.values():
            for order in seq:
                facts += orders_facts[order]
    else:
        for rid, seq in schedule.sequences.items():
            for k, order in enumerate(seq):
                own = _order_facts(problem, plan, order, rid, k, durations)
                if orders_facts is not None:
                    orders_facts[order] = own
                facts += own
    return facts + _event_facts(event_focal, delayed, previous_focus)


def _plan_facts_of(plan: Plan, only: Collection[str], event_focal: Iterable[str], delayed: Iterable[str],
                   previous_focus: str | None) -> list[str]:
    """:func:`plan_facts` restricted to the predicates ``only`` names."""
    if not ORDER_PREDICATES.isdisjoint(only):
        facts = plan_facts(plan, event_focal=event_focal, delayed=delayed, previous_focus=previous_focus)
    else:  # the rest is a few facts per resource: the orders' own are what costs
        facts = _global_facts(plan, only)
        if not RESOURCE_PREDICATES.isdisjoint(only):
            facts += _resource_facts(plan)
        facts += _event_facts(event_focal, delayed, previous_focus)
    return [f for f in facts if predicate_of(f) in only]


def _event_facts(event_focal: Iterable[str], delayed: Iterable[str], previous_focus: str | None) -> list[str]:
    """What the disruption and the last step left: ``event_focal/1``, ``delayed/1``,
    ``previous_focus/1``."""
    facts = [f"event_focal({atom(o)})" for o in event_focal]
    facts += [f"delayed({atom(o)})" for o in delayed]
    if previous_focus is not None:
        facts.append(f"previous_focus({atom(previous_focus)})")
    return facts


def _global_facts(plan: Plan, only: Collection[str] | None = None) -> list[str]:
    """The facts of the whole plan (one each; with ``only``, of those predicates)."""
    problem = plan.problem
    orders = problem.orders
    work = functools.cache(lambda: _work(plan))  # (built once, and like the metrics only where asked)
    facts = [
        ("total_tardiness", lambda: number(plan.metrics.total_tardiness)),
        ("max_tardiness", lambda: number(plan.metrics.max_tardiness)),
        ("avg_tardiness", lambda: number(plan.metrics.avg_tardiness)),
        ("tardy_orders", lambda: str(plan.metrics.tardy_orders)),
        ("n_orders", lambda: str(len(orders))),
        ("makespan", lambda: number(plan.metrics.makespan)),
        ("total_wip", lambda: number(work()[1])),
        ("tardiness_ratio", lambda: number(_ratio(plan.metrics.total_tardiness, work()[0]))),
        ("inventory_ratio", lambda: number(_ratio(_earliness(plan), work()[0]))),
        ("total_cleanout", lambda: number(plan.metrics.total_cleanout)),
    ]
    return [f"{name}({value()})" for name, value in facts if only is None or name in only]


def _work(plan: Plan) -> tuple[float, float]:
    """The mean processing time of the orders, and the work of those not started."""
    times = plan.times
    processing = {o: times.end[o] - times.start[o] for o in times.end}
    # fsum: the same figures whatever order the times were filled in (a re-timed plan's
    # dicts are ordered otherwise than a fresh one's), so the 4-decimal facts agree
    frozen = plan.problem.frozen
    return (math.fsum(processing.values()) / max(1, len(plan.problem.orders)),
            math.fsum(p for o, p in processing.items() if o not in frozen))


def _earliness(plan: Plan) -> float:
    orders = plan.problem.orders
    return math.fsum(max(0.0, orders[o].due - e) for o, e in plan.times.end.items())


def _ratio(value: float, mean_processing: float) -> float:
    return value / mean_processing if mean_processing else 0.0


def _resource_facts(plan: Plan) -> list[str]:
    """Three facts per resource: its kind, load and tardiness."""
    metrics = plan.metrics
    facts = []
    for rid, resource in plan.problem.plant.resources.items():
        r = atom(rid)
        facts.append(f"resource({r}, {atom(resource.kind)})")
        facts.append(f"res_load({r}, {number(metrics.load.get(rid, 0.0))})")
        facts.append(f"res_tardiness({r}, {number(metrics.tardiness.get(rid, 0.0))})")
    return facts


def _order_facts(problem: Problem, plan: Plan, order: str, rid: str, k: int,
                 durations: dict[str, dict[str, float]]) -> list[str]:
    """The facts of one scheduled order: its task/9 and what else holds of it."""
    times = plan.times
    spec = problem.orders[order]
    o = atom(order)
    facts = [
        f"task({o}, {atom(rid)}, {k}, {number(times.start[order])}, {number(times.end[order])}, "
        f"{atom(spec.product)}, {number(spec.size)}, {number(spec.due)}, {number(plan.tardiness(order))})"
    ]
    if times.setup[order] > 0:
        facts.append(f"cleanout_before({o}, {number(times.setup[order])})")
    if spec.important:
        facts.append(f"important({o})")
    if order in problem.frozen:
        facts.append(f"started({o})")
    facts.extend(f"after({o}, {atom(before)})" for before in spec.after)
    if len(durations[order]) > 1:
        facts.append(f"flexible({o})")
    return facts


def focus_facts(plan: Plan, focal: str, applicable: Iterable[str] = (), reason: str | None = None) -> list[str]:
    """The facts of ``plan`` seen from the focal task ``focal`` (the deictic part).

    ``focal/1``, the tardiness to its left and right on its resource, its slack (due minus
    end: negative when tardy), the number of tardy orders in a row right after it, its
    release, the resources that can run it, the operators ``applicable`` to it and, with
    ``reason``, the focus rule that proposed it (``focus_by/1``).
    """
    problem = plan.problem
    schedule = plan.schedule
    f_resource, f_position = schedule.where[focal]
    sequence = schedule.sequence(f_resource)
    left = sum(plan.tardiness(o) for o in sequence[:f_position])
    following = [plan.tardiness(o) for o in sequence[f_position + 1 :]]
    block = 0
    for lateness in following:
        if lateness <= 0:
            break
        block += 1
    f = atom(focal)
    facts = [
        f"focal({f})",
        f"focal_left_tardiness({number(left)})",
        f"focal_right_tardiness({number(sum(following))})",
        f"focal_slack({number(problem.orders[focal].due - plan.times.end[focal])})",
        f"focal_tardy_block({block})",
        f"material_arrival({number(problem.orders[focal].release)})",
    ]
    facts += [f"can_run({f}, {atom(r)})" for r in problem.durations[focal]]
    facts += [f"applicable({name})" for name in sorted(set(applicable))]
    if reason is not None:
        facts.append(f"focus_by({atom(reason)})")
    return facts


def state_facts(plan: Plan, focal: str, applicable: Iterable[str] = frozenset()) -> list[str]:
    """The facts of ``plan`` seen from ``focal``: :func:`plan_facts` and :func:`focus_facts`."""
    return _grouped(plan_facts(plan) + focus_facts(plan, focal, applicable))


def _grouped(facts: list[str]) -> list[str]:
    """Facts of one predicate together (stable), so a state file loads in plain swipl
    without discontiguous-clause warnings."""
    first: dict[str, int] = {}
    for fact in facts:
        first.setdefault(fact.split("(", 1)[0], len(first))
    return sorted(facts, key=lambda fact: first[fact.split("(", 1)[0]])


def action_facts(plan: Plan, action: Action, after: Plan | None = None, moved_delta: int | None = None,
                 reward: float | None = None) -> list[str]:
    """The facts of one ground action in ``plan``; with ``after``, also its effect.

    ``action(Op, F, U)`` (U is ``none`` when the action has no second task),
    ``action_resource(R)``, and, when the resulting plan is given,
    ``action_delta_tardiness(D)`` and ``action_delta_cleanout(D)`` (after minus before),
    ``action_frees_chain`` when a task the action moves has orders waiting for it
    (``after``) and now ends earlier, and with ``moved_delta`` the change in the number of
    orders moved from the plan before the disruption (``action_delta_moved(D)``), and with
    ``reward`` the goal's reward for the step (``action_reward(R)``).
    """
    other = atom(action.other) if action.other is not None else "none"
    facts = [
        f"action({action.operator}, {atom(action.focal)}, {other})",
        f"action_resource({atom(action.resource)})",
    ]
    if after is not None:
        facts.append(f"action_delta_tardiness({number(after.total_tardiness - plan.total_tardiness)})")
        facts.append(f"action_delta_cleanout({number(after.total_cleanout - plan.total_cleanout)})")
        if _frees_chain(plan, action, after):
            facts.append("action_frees_chain")
    if moved_delta is not None:
        facts.append(f"action_delta_moved({moved_delta})")
    if reward is not None:
        facts.append(f"action_reward({number(reward)})")
    return facts


def _frees_chain(plan: Plan, action: Action, after: Plan) -> bool:
    dependents = plan.problem.dependents
    if not dependents:
        return False
    for task in (action.focal, action.other):
        if task is not None and task in dependents and after.times.end_of(task) < plan.times.end_of(task) - 1e-9:
            return True
    return False
