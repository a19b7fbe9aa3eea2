"""Schedule states as Prolog facts, seen from a focal task (deictic representation).

The facts follow the paper's Example 1 (global tardiness and work figures, per-resource
load and tardiness, the focal task, left/right tardiness around it, material arrival,
the applicable operators, one fact per task); docs/state.md lists every predicate.
A (state, action) pair adds the action's facts, including its immediate effect as the
simulator computes it (the operators are deterministic, so the agent can look one step
ahead at no risk).
"""

from __future__ import annotations

from rrl.domain.plan import Plan
from rrl.operators.repair import Action
from rrl.relational.terms import quote_atom as atom

#: Every predicate a state or action may hold (name, arity): a policy's Prolog module
#: declares them dynamic, so a fact absent from one state simply fails.
FACT_PREDICATES: tuple[tuple[str, int], ...] = (
    ("total_tardiness", 1), ("max_tardiness", 1), ("avg_tardiness", 1), ("tardy_orders", 1),
    ("n_orders", 1), ("makespan", 1), ("total_wip", 1), ("tardiness_ratio", 1),
    ("inventory_ratio", 1), ("total_cleanout", 1), ("resource", 2), ("res_load", 2),
    ("res_tardiness", 2), ("focal", 1), ("focal_left_tardiness", 1), ("focal_right_tardiness", 1),
    ("material_arrival", 1), ("can_run", 2), ("applicable", 1), ("task", 9),
    ("cleanout_before", 2), ("important", 1), ("frozen", 1), ("action", 3),
    ("action_resource", 1), ("action_delta_tardiness", 1), ("action_delta_cleanout", 1),
)


def number(value: float) -> str:
    """A number as Prolog reads it: 4 decimals at most, no exponent."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def state_facts(plan: Plan, focal: str, applicable: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The facts of ``plan`` seen from ``focal``.

    Parameters
    ----------
    plan : Plan
        The schedule state.
    focal : str
        The focal task.
    applicable : set of str
        Operator names (``left_swap`` ...) applicable to the focal task in this state.

    Returns
    -------
    list of str
        Ground facts without the final full stop.
    """
    problem = plan.problem
    orders = problem.orders
    metrics = plan.metrics
    times = plan.times
    schedule = plan.schedule
    n = max(1, len(orders))
    processing = {o: times.end[o] - times.start[o] for o in times.end}
    earliness = sum(max(0.0, orders[o].due - e) for o, e in times.end.items())
    mean_processing = sum(processing.values()) / n
    open_work = sum(p for o, p in processing.items() if o not in problem.frozen)
    facts = [
        f"total_tardiness({number(metrics.total_tardiness)})",
        f"max_tardiness({number(metrics.max_tardiness)})",
        f"avg_tardiness({number(metrics.avg_tardiness)})",
        f"tardy_orders({metrics.tardy_orders})",
        f"n_orders({len(orders)})",
        f"makespan({number(metrics.makespan)})",
        f"total_wip({number(open_work)})",
        f"tardiness_ratio({number(metrics.total_tardiness / mean_processing if mean_processing else 0.0)})",
        f"inventory_ratio({number(earliness / mean_processing if mean_processing else 0.0)})",
        f"total_cleanout({number(metrics.total_cleanout)})",
    ]
    for rid, resource in problem.plant.resources.items():
        r = atom(rid)
        facts.append(f"resource({r}, {atom(resource.kind)})")
        facts.append(f"res_load({r}, {number(metrics.load.get(rid, 0.0))})")
        facts.append(f"res_tardiness({r}, {number(metrics.tardiness.get(rid, 0.0))})")
    f_resource, f_position = schedule.where[focal]
    left = right = 0.0
    for k, order in enumerate(schedule.sequence(f_resource)):
        if k < f_position:
            left += plan.tardiness(order)
        elif k > f_position:
            right += plan.tardiness(order)
    f = atom(focal)
    facts += [
        f"focal({f})",
        f"focal_left_tardiness({number(left)})",
        f"focal_right_tardiness({number(right)})",
        f"material_arrival({number(orders[focal].release)})",
    ]
    facts += [f"can_run({f}, {atom(r)})" for r in problem.durations[focal]]
    facts += [f"applicable({name})" for name in sorted(applicable)]
    for rid, seq in schedule.sequences.items():
        r = atom(rid)
        for k, order in enumerate(seq):
            spec = orders[order]
            facts.append(
                f"task({atom(order)}, {r}, {k}, {number(times.start[order])}, {number(times.end[order])}, "
                f"{atom(spec.product)}, {number(spec.size)}, {number(spec.due)}, {number(plan.tardiness(order))})"
            )
            if times.setup[order] > 0:
                facts.append(f"cleanout_before({atom(order)}, {number(times.setup[order])})")
            if spec.important:
                facts.append(f"important({atom(order)})")
            if order in problem.frozen:
                facts.append(f"frozen({atom(order)})")
    return _grouped(facts)


def _grouped(facts: list[str]) -> list[str]:
    """Facts of one predicate together (stable), so a state file loads in plain swipl
    without discontiguous-clause warnings."""
    first: dict[str, int] = {}
    for fact in facts:
        first.setdefault(fact.split("(", 1)[0], len(first))
    return sorted(facts, key=lambda fact: first[fact.split("(", 1)[0]])


def action_facts(plan: Plan, action: Action, after: Plan | None = None) -> list[str]:
    """The facts of one ground action in ``plan``; with ``after``, also its effect.

    ``action(Op, F, U)`` (U is ``none`` when the action has no second task),
    ``action_resource(R)``, and, when the resulting plan is given,
    ``action_delta_tardiness(D)`` and ``action_delta_cleanout(D)`` (after minus before).
    """
    other = atom(action.other) if action.other is not None else "none"
    facts = [
        f"action({action.operator}, {atom(action.focal)}, {other})",
        f"action_resource({atom(action.resource)})",
    ]
    if after is not None:
        facts.append(f"action_delta_tardiness({number(after.total_tardiness - plan.total_tardiness)})")
        facts.append(f"action_delta_cleanout({number(after.total_cleanout - plan.total_cleanout)})")
    return facts
