"""A full reschedule with OR-Tools CP-SAT: the best plan found within a time limit.

The yardstick for repair policies: it may reorder every order that has not started.
Model: one optional interval per (order, eligible resource), a circuit per resource
whose arcs carry the sequence-dependent cleanouts (and the initial product's), releases,
``now``, ``after`` precedences, downtime windows as fixed intervals (processing only;
the sequence is then re-timed by rrl's own rules, so the cleanout-in-downtime rule holds
and the reported figures are exact), frozen orders fixed. Objective: total tardiness.
Needs the optional extra ``rrl-repair[cpsat]``.
"""

from __future__ import annotations

from typing import Any

from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError

SCALE = 100  # CP-SAT works on integers: hundredths of an hour


def cpsat_reschedule(problem: Problem, current: Plan, time_limit: float = 10.0, workers: int = 2, *,
                     reference: Plan | None = None, max_moved: int | None = None) -> Plan:
    """The best schedule CP-SAT finds for ``problem`` within ``time_limit`` seconds.

    ``current`` gives the frozen orders' places and a starting hint; the result is
    never worse in total tardiness than ``current`` (the hint is kept when the solver
    finds nothing better). With ``reference`` and ``max_moved``, at most that many of the
    reference's orders may change resource or immediate predecessor (DESIGN section 3's
    moved orders): the repair yardstick of the stability front.
    """
    try:
        from ortools.sat.python import cp_model
    except ImportError:  # pragma: no cover - depends on the optional extra
        raise RRLError("the CP-SAT baseline needs OR-Tools: pip install 'rrl-repair[cpsat]'") from None

    model = cp_model.CpModel()
    orders = problem.orders
    plant = problem.plant
    frozen = problem.frozen
    horizon = int(SCALE * (max(current.times.end.values(), default=0.0) * 3 + sum(
        max(d.values()) for d in problem.durations.values()) + 100))
    start, end, tardy = {}, {}, {}
    present: dict[tuple[str, str], Any] = {}
    intervals: dict[str, list[Any]] = {r: [] for r in plant.resources}
    arcs: dict[tuple[str, str, str], Any] = {}
    for oid, order in orders.items():
        floor = 0 if oid in frozen else int(round(SCALE * max(order.release, problem.now)))
        start[oid] = model.new_int_var(floor, horizon, f"s_{oid}")
        end[oid] = model.new_int_var(0, horizon, f"e_{oid}")
        tardy[oid] = model.new_int_var(0, horizon, f"t_{oid}")
        model.add(tardy[oid] >= end[oid] - int(round(SCALE * order.due)))
        choices = []
        for rid, dur in problem.durations[oid].items():
            lit = model.new_bool_var(f"x_{oid}_{rid}")
            size = max(1, int(round(SCALE * dur)))
            interval = model.new_optional_interval_var(start[oid], size, end[oid], lit, f"i_{oid}_{rid}")
            intervals[rid].append(interval)
            present[(oid, rid)] = lit
            choices.append(lit)
        model.add_exactly_one(choices)
        for before in order.after:
            model.add(start[oid] >= end[before])
        if oid in frozen:
            rid = current.schedule.resource_of(oid)
            model.add(present[(oid, rid)] == 1)
            model.add(start[oid] == int(round(SCALE * current.times.start[oid])))
    for rid, resource in plant.resources.items():
        for k, (a, b) in enumerate(resource.downtime):
            intervals[rid].append(model.new_interval_var(int(SCALE * a), int(SCALE * (b - a)) or 1, int(SCALE * b), f"d_{rid}_{k}"))
        model.add_no_overlap(intervals[rid])
        arcs.update(_sequence_arcs(model, problem, rid, present, start, end))
    if reference is not None and max_moved is not None:
        model.add(sum(_moved_literals(reference, problem, arcs)) <= max_moved)
    model.minimize(sum(tardy.values()))
    _hint(model, current, start, present, arcs)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return current
    sequences: dict[str, list[str]] = {rid: [] for rid in plant.resources}
    for (oid, rid), lit in present.items():
        if solver.boolean_value(lit):
            sequences[rid].append(oid)
    for seq in sequences.values():
        seq.sort(key=lambda o: (solver.value(start[o]), current.times.start.get(o, 0.0)))
    found = Plan.build(problem, Schedule(sequences))
    return found if found.total_tardiness <= current.total_tardiness else current


def _moved_literals(reference: Plan, problem: Problem, arcs: dict[tuple[str, str, str], Any]) -> list[Any]:
    """Per order of ``reference`` (still in ``problem``): a literal true when it is moved,
    i.e. the arc from its reference predecessor (or the resource's start) is not taken."""
    literals = []
    for resource, seq in reference.schedule.sequences.items():
        for index, oid in enumerate(seq):
            if oid not in problem.orders:
                continue
            arc = arcs.get((resource, seq[index - 1] if index else "", oid))
            literals.append(arc.Not() if arc is not None else 1)
    return literals


def _hint(model: Any, current: Plan, start: dict[str, Any], present: dict[tuple[str, str], Any],
          arcs: dict[tuple[str, str, str], Any]) -> None:
    """Hint the whole current plan (resources, sequences, starts): the search starts from it."""
    where = current.schedule.where
    for (oid, rid), lit in present.items():
        model.add_hint(lit, where[oid][0] == rid)
    follows = {(r, seq[k - 1] if k else "", o) for r, seq in current.schedule.sequences.items() for k, o in enumerate(seq)}
    follows |= {(r, seq[-1], "") for r, seq in current.schedule.sequences.items() if seq}
    for key, lit in arcs.items():
        model.add_hint(lit, key in follows)
    for oid, var in start.items():
        model.add_hint(var, int(round(SCALE * current.times.start[oid])))


def _sequence_arcs(model, problem: Problem, rid: str, present, start, end) -> dict[tuple[str, str, str], Any]:  # type: ignore[no-untyped-def]
    """Circuit over the orders on ``rid``: arc i -> j forces j after i plus the cleanout.

    Returns the arc literals keyed ``(resource, before, after)``, ``""`` standing for the
    resource's start or end.
    """
    plant = problem.plant
    orders = problem.orders
    members = [oid for oid in orders if (oid, rid) in present]
    named: dict[tuple[str, str, str], Any] = {}
    if not members:
        return named
    initial = plant.resources[rid].initial_product
    index = {oid: k + 1 for k, oid in enumerate(members)}
    arcs = []
    for oid in members:
        k = index[oid]
        arcs.append((k, k, present[(oid, rid)].negated()))  # absent: a self-loop
        first = model.new_bool_var(f"first_{rid}_{oid}")
        arcs.append((0, k, first))
        named[(rid, "", oid)] = first
        setup = int(round(SCALE * plant.setup(initial, orders[oid].product)))
        model.add(start[oid] >= setup).only_enforce_if(first)
        last = model.new_bool_var(f"last_{rid}_{oid}")
        arcs.append((k, 0, last))
        named[(rid, oid, "")] = last
        for other in members:
            if other == oid:
                continue
            follows = model.new_bool_var(f"f_{rid}_{oid}_{other}")
            arcs.append((k, index[other], follows))
            named[(rid, oid, other)] = follows
            gap = int(round(SCALE * plant.setup(orders[oid].product, orders[other].product)))
            model.add(start[other] >= end[oid] + gap).only_enforce_if(follows)
    empty = model.new_bool_var(f"empty_{rid}")
    arcs.append((0, 0, empty))
    model.add_circuit(arcs)
    return named
