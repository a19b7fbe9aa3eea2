"""OR-Tools CP-SAT on the whole problem: one model for schedule construction
(``rrl schedule --rule cpsat``) and for the repair yardstick (a full reschedule).

Model (:class:`CpsatModel`): one interval per (order, eligible resource), optional when
the order has a choice; per resource a no-overlap over them and over the downtime
windows (fixed intervals); where cleanouts can occur on a resource, a circuit over its
orders whose arcs force ``start(j) >= end(i) + cleanout(i, j)`` (and the initial
product's cleanout before the first one); releases and ``now`` as lower bounds; ``after``
precedences; frozen orders fixed on their resource at their start. Objective: total
tardiness or makespan. The solver's sequences are then timed by rrl's own rules
(DESIGN section 3), so the figures reported are exact and the plan is validated like any
other; a cleanout may overlap downtime in the model but not in rrl's timing, so the
model is a relaxation and its bound is a true lower bound (in the model's time units:
whole hours when every time is integral, else hundredths).

Needs the optional extra ``rrl-repair[cpsat]``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rrl.dispatching.active import require_keep
from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError

#: Objectives the model can minimise.
OBJECTIVES = ("tardiness", "makespan")


def objective_value(plan: Plan, objective: str) -> float:
    """The plan's value on ``objective`` (hours): total tardiness or makespan."""
    if objective == "makespan":
        return max(plan.times.end.values(), default=0.0)
    return plan.total_tardiness


@dataclass(frozen=True)
class CpsatResult:
    """The outcome of :func:`cpsat_schedule`.

    Attributes
    ----------
    plan : Plan
        The best plan: the solver's sequences timed by rrl, or the hint when the solver
        found nothing better.
    status : str
        ``optimal``, ``feasible``, ``infeasible`` or ``unknown`` (the solver's word).
    objective : str
        ``tardiness`` or ``makespan``.
    value : float
        ``plan``'s value on the objective (hours, exact).
    bound : float
        The solver's lower bound on the objective (hours); 0 when it proved nothing.
    hint_value : float
        The hint's value on the objective.
    hint_source : str
        Where the hint came from: the best rule's name, or ``given``.
    from_hint : bool
        True when ``plan`` is the hint (the solver did not improve on it).
    seconds : float
        Wall time of the solve (model building included).
    workers : int
        Solver threads.
    """

    plan: Plan
    status: str
    objective: str
    value: float
    bound: float
    hint_value: float
    hint_source: str
    from_hint: bool
    seconds: float
    workers: int

    def to_dict(self) -> dict[str, Any]:
        """The solver's figures (no plan), as ``rrl schedule --rule cpsat --json`` prints them."""
        return {"status": self.status, "objective": self.objective, "value": self.value, "bound": self.bound,
                "hint_value": self.hint_value, "hint_source": self.hint_source, "from_hint": self.from_hint, "seconds": self.seconds,
                "workers": self.workers}


class CpsatModel:
    """The CP-SAT model of a problem (see the module text), open for extra constraints.

    Parameters
    ----------
    problem : Problem
        Plant, orders, clock.
    objective : str
        ``tardiness`` or ``makespan``.
    keep : Schedule, optional
        The current schedule: where the frozen orders are (required when there are some).
    horizon : float, optional
        Latest end of any order (hours); default: a safe bound from the problem. Callers
        with a plan of value V can pass a horizon that any plan at least as good meets.
    sequence_arcs : bool, optional
        Build the circuit (arc literals ``arcs[(resource, before, after)]``, ``""`` for
        the resource's start or end) on every resource (True), on none (False), or only
        where cleanouts can occur (None, the default; a plain no-overlap is much faster).

    Attributes
    ----------
    model : cp_model.CpModel
    start, end : dict of order id to IntVar (model time units)
    present : dict of (order, resource) to a literal (True when the order runs there)
    arcs : dict of (resource, before, after) to BoolVar
    scale : int
        Model time units per hour.
    """

    def __init__(self, problem: Problem, objective: str = "tardiness", *, keep: Schedule | None = None,
                 horizon: float | None = None, sequence_arcs: bool | None = None) -> None:
        try:
            from ortools.sat.python import cp_model
        except ImportError:  # pragma: no cover - depends on the optional extra
            raise RRLError("CP-SAT needs OR-Tools: pip install 'rrl-repair[cpsat]'") from None
        if objective not in OBJECTIVES:
            raise RRLError(f"unknown objective '{objective}' (expected one of {', '.join(OBJECTIVES)})")
        require_keep(problem, keep)
        self.problem = problem
        self.objective = objective
        self.scale = scale = _scale(problem, objective)
        self.model = model = cp_model.CpModel()
        orders = problem.orders
        plant = problem.plant
        frozen = problem.frozen
        if horizon is None:
            horizon = (max([problem.now, *(o.release for o in orders.values()), *frozen.values()])
                       + sum(max(d.values()) for d in problem.durations.values())
                       + len(orders) * max([0.0, *(v for row in plant.cleanout.values() for v in row.values())])
                       + sum(b - a for r in plant.resources.values() for a, b in r.downtime))
        top = math.ceil(scale * horizon) + len(orders) + 1  # rounding slack
        self.start: dict[str, Any] = {}
        self.end: dict[str, Any] = {}
        self.present: dict[tuple[str, str], Any] = {}
        self.arcs: dict[tuple[str, str, str], Any] = {}
        intervals: dict[str, list[Any]] = {r: [] for r in plant.resources}
        self._size: dict[tuple[str, str], int] = {}
        self._windows: dict[str, list[tuple[int, int]]] = {r: [] for r in plant.resources}
        self._sequenced: set[str] = set()  # resources with a circuit (cleanouts enforced)
        for oid, order in orders.items():
            if oid in frozen:
                at = self._time(frozen[oid])
                start = model.new_int_var(at, at, f"s_{oid}")
            else:
                start = model.new_int_var(self._time(max(order.release, problem.now)), top, f"s_{oid}")
            end = model.new_int_var(0, top, f"e_{oid}")
            self.start[oid], self.end[oid] = start, end
            eligible = problem.durations[oid]
            if oid in frozen and keep is not None:
                eligible = {keep.resource_of(oid): eligible[keep.resource_of(oid)]}
            for rid, dur in eligible.items():
                if oid in frozen:  # rounded like its start, so the past stays consistent
                    size = max(1, round(scale * (frozen[oid] + dur)) - round(scale * frozen[oid]))
                else:
                    size = max(1, round(scale * dur))
                self._size[(oid, rid)] = size
                lit = model.new_bool_var(f"x_{oid}_{rid}")
                if len(eligible) == 1:
                    model.add(lit == 1)
                    intervals[rid].append(model.new_interval_var(start, size, end, f"i_{oid}_{rid}"))
                else:
                    intervals[rid].append(model.new_optional_interval_var(start, size, end, lit, f"i_{oid}_{rid}"))
                self.present[(oid, rid)] = lit
            if len(eligible) > 1:
                model.add_exactly_one(self.present[(oid, rid)] for rid in eligible)
        for oid, order in orders.items():
            for before in order.after:
                if not (oid in frozen and before in frozen):  # the past is fixed already
                    model.add(self.start[oid] >= self.end[before])
        for rid, resource in plant.resources.items():
            for k, (a, b) in enumerate(resource.downtime):
                lo, hi = math.floor(scale * a), math.ceil(scale * b)
                if lo < top:
                    intervals[rid].append(model.new_interval_var(lo, hi - lo, hi, f"d_{rid}_{k}"))
                    self._windows[rid].append((lo, hi))
            if len(intervals[rid]) > 1:
                model.add_no_overlap(intervals[rid])
            if sequence_arcs or (sequence_arcs is None and self._has_cleanouts(rid)):
                self._circuit(rid)
                self._sequenced.add(rid)
        self.cost = self._objective(top)

    # -- building -----------------------------------------------------------------------

    def _time(self, hours: float) -> int:
        return round(self.scale * hours)

    def _members(self, rid: str) -> list[str]:
        return [oid for oid in self.problem.orders if (oid, rid) in self.present]

    def _has_cleanouts(self, rid: str) -> bool:
        plant = self.problem.plant
        products = {self.problem.orders[o].product for o in self._members(rid)}
        initial = plant.resources[rid].initial_product
        return any(plant.setup(a, b) > 0 for a in [initial, *products] for b in products)

    def _circuit(self, rid: str) -> None:
        """Circuit over the orders that may run on ``rid``: arc i -> j forces j after i
        plus the cleanout; node 0 is the resource's start and end."""
        model = self.model
        plant = self.problem.plant
        orders = self.problem.orders
        members = self._members(rid)
        if not members:
            return
        initial = plant.resources[rid].initial_product
        index = {oid: k + 1 for k, oid in enumerate(members)}
        arcs: list[tuple[int, int, Any]] = []
        for oid in members:
            k = index[oid]
            arcs.append((k, k, self.present[(oid, rid)].negated()))  # absent: a self-loop
            first = model.new_bool_var(f"first_{rid}_{oid}")
            arcs.append((0, k, first))
            self.arcs[(rid, "", oid)] = first
            setup = self._time(plant.setup(initial, orders[oid].product))
            if setup:
                model.add(self.start[oid] >= setup).only_enforce_if(first)
            last = model.new_bool_var(f"last_{rid}_{oid}")
            arcs.append((k, 0, last))
            self.arcs[(rid, oid, "")] = last
            for other in members:
                if other == oid:
                    continue
                follows = model.new_bool_var(f"f_{rid}_{oid}_{other}")
                arcs.append((k, index[other], follows))
                self.arcs[(rid, oid, other)] = follows
                gap = self._time(plant.setup(orders[oid].product, orders[other].product))
                model.add(self.start[other] >= self.end[oid] + gap).only_enforce_if(follows)
        empty = model.new_bool_var(f"empty_{rid}")
        arcs.append((0, 0, empty))
        model.add_circuit(arcs)

    def _objective(self, top: int) -> Any:
        model = self.model
        if self.objective == "makespan":
            makespan = model.new_int_var(0, top, "makespan")
            model.add_max_equality(makespan, list(self.end.values()))
            model.minimize(makespan)
            return makespan
        tardy = []
        for oid, order in self.problem.orders.items():
            due = self._time(order.due)
            t = model.new_int_var(0, max(0, top - due), f"t_{oid}")
            model.add(t >= self.end[oid] - due)
            tardy.append(t)
        total = model.new_int_var(0, top * max(1, len(tardy)), "total_tardiness")
        model.add(total == sum(tardy))
        model.minimize(total)
        return total

    # -- hints and solving --------------------------------------------------------------

    def hint(self, plan: Plan) -> None:
        """Hint a whole plan (resources, sequences, starts): the search starts from it."""
        model = self.model
        where = plan.schedule.where
        for (oid, rid), lit in self.present.items():
            model.add_hint(lit, where[oid][0] == rid)
        follows = {(r, seq[k - 1] if k else "", o) for r, seq in plan.schedule.sequences.items() for k, o in enumerate(seq)}
        follows |= {(r, seq[-1], "") for r, seq in plan.schedule.sequences.items() if seq}
        for key, lit in self.arcs.items():
            model.add_hint(lit, key in follows)
        start, end = self._integer_times(plan)
        for oid, var in self.start.items():
            model.add_hint(var, start[oid])
            model.add_hint(self.end[oid], end[oid])

    def _integer_times(self, plan: Plan) -> tuple[dict[str, int], dict[str, int]]:
        """The plan's sequences timed semi-actively in the model's own integer units and
        rounded durations, so that the hint satisfies the model exactly (rounding the
        plan's hours could leave two orders overlapping by a unit)."""
        problem = self.problem
        orders = problem.orders
        setup_of = problem.plant.setup
        initial = {r: res.initial_product for r, res in problem.plant.resources.items()}
        where = plan.schedule.where
        sequences = plan.schedule.sequences
        start: dict[str, int] = {}
        end: dict[str, int] = {}
        # plan start order is topological: every predecessor, on a resource or by `after`, ends first
        for oid in sorted(plan.times.start, key=lambda o: (plan.times.start[o], plan.times.end[o])):
            rid, k = where[oid]
            spec = orders[oid]
            size = self._size[(oid, rid)]
            if oid in problem.frozen:
                t = self._time(problem.frozen[oid])
            else:
                t = self._time(max(spec.release, problem.now))
                t = max([t, *(end[a] for a in spec.after)])
                previous = sequences[rid][k - 1] if k else None
                if previous is not None:
                    t = max(t, end[previous])
                if rid in self._sequenced:
                    before = orders[previous].product if previous is not None else initial[rid]
                    t = max(t, (end[previous] if previous is not None else 0) + self._time(setup_of(before, spec.product)))
                for lo, hi in self._windows[rid]:
                    if lo < t + size and t < hi:
                        t = hi
            start[oid], end[oid] = t, t + size
        return start, end

    def solve(self, time_limit: float = 10.0, workers: int = 2, seed: int = 0) -> tuple[Schedule | None, str, float]:
        """Solve; return (the solver's schedule or None, status, bound in hours)."""
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = float(time_limit)
        solver.parameters.num_workers = int(workers)
        solver.parameters.random_seed = int(seed)
        if self._sequenced:
            # probing the circuits' arc literals took the whole budget on 40-machine plants
            # (9 s of 10 before any search); without it the hint is improved at once
            solver.parameters.cp_model_probing_level = 0
        code = solver.solve(self.model)
        status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
                  cp_model.INFEASIBLE: "infeasible"}.get(code, "unknown")
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None, status, 0.0
        bound = max(0.0, solver.best_objective_bound / self.scale)
        sequences: dict[str, list[str]] = {rid: [] for rid in self.problem.plant.resources}
        for (oid, rid), lit in self.present.items():
            if solver.boolean_value(lit):
                sequences[rid].append(oid)
        for seq in sequences.values():
            seq.sort(key=lambda o: (solver.value(self.start[o]), solver.value(self.end[o])))
        return Schedule(sequences), status, bound


def _scale(problem: Problem, objective: str) -> int:
    """Model time units per hour: the smallest of 1, 2, 4, 5, 10, 20, 100 that makes every
    time that matters a whole number (1 on the standard instances; due dates count only
    for tardiness); 100 (hundredths, rounded) when none does."""
    plant = problem.plant
    values: list[float] = [problem.now, *problem.frozen.values()]
    for order in problem.orders.values():
        values.append(order.release)
        if objective == "tardiness":
            values.append(order.due)
    for row in problem.durations.values():
        values.extend(row.values())
    for setups in plant.cleanout.values():
        values.extend(setups.values())
    for resource in plant.resources.values():
        values += [t for window in resource.downtime for t in window]
    for scale in (1, 2, 4, 5, 10, 20, 100):
        if all(abs(scale * v - round(scale * v)) < 1e-6 for v in values):
            return scale
    return 100


def best_rule_plan(problem: Problem, objective: str, keep: Schedule | None = None) -> tuple[str, Plan]:
    """The dispatching rule whose plan is best on ``objective`` (every rule, default mode)."""
    from rrl.dispatching import RULES, dispatch

    best: tuple[str, Plan] | None = None
    for rule in RULES:
        plan = Plan.build(problem, dispatch(problem, rule, keep=keep))
        if best is None or objective_value(plan, objective) < objective_value(best[1], objective) - 1e-9:
            best = (rule, plan)
    assert best is not None
    return best


def cpsat_schedule(problem: Problem, *, objective: str = "tardiness", time_limit: float = 10.0, workers: int = 2,
                   keep: Schedule | None = None, hint: Plan | None = None, seed: int = 0,
                   sequence_arcs: bool | None = None,
                   constrain: Callable[[CpsatModel], None] | None = None) -> CpsatResult:
    """The best schedule CP-SAT finds for the whole ``problem`` within ``time_limit`` s.

    Parameters
    ----------
    objective : str
        ``tardiness`` (total) or ``makespan``.
    keep : Schedule, optional
        The current schedule, whose frozen orders stay in place (required with frozen orders).
    hint : Plan, optional
        A plan to start from; default: the best dispatching rule's plan on ``objective``.
        The result is never worse than the hint on the objective.
    sequence_arcs, constrain
        For callers that restrict sequences: build the arcs everywhere
        (see :class:`CpsatModel`) and add constraints to the model before solving. The
        hint should satisfy them, else the result may be a plan that breaks them.
    """
    began = time.perf_counter()
    source = "given"
    if hint is None:
        source, hint = best_rule_plan(problem, objective, keep)
    hint_value = objective_value(hint, objective)
    # any plan at least as good as the hint ends by this (tardiness: end <= due + total)
    if objective == "makespan":
        horizon = hint_value
    else:
        horizon = max([objective_value(hint, "makespan"), *(o.due + hint_value for o in problem.orders.values())])
    cp = CpsatModel(problem, objective, keep=keep, horizon=horizon, sequence_arcs=sequence_arcs)
    if constrain is not None:
        constrain(cp)
    cp.hint(hint)
    schedule, status, bound = cp.solve(time_limit, workers, seed)
    plan, from_hint = hint, True
    if schedule is not None:
        found = Plan.build(problem, schedule)
        if objective_value(found, objective) <= hint_value + 1e-9:
            plan, from_hint = found, False
    value = objective_value(plan, objective)
    return CpsatResult(plan, status, objective, value, min(bound, value), hint_value, source, from_hint,
                       time.perf_counter() - began, workers)


def cpsat_reschedule(problem: Problem, current: Plan, time_limit: float = 10.0, workers: int = 2, *,
                     reference: Plan | None = None, max_moved: int | None = None) -> Plan:
    """The best schedule CP-SAT finds for ``problem`` within ``time_limit`` seconds
    (total tardiness), the repair yardstick: it may reorder every order not started.

    ``current`` gives the frozen orders' places and the hint; the result is never worse
    in total tardiness than ``current``. With ``reference`` and ``max_moved``, at most
    that many of the reference's orders may change resource or immediate predecessor
    (DESIGN section 3's moved orders): the repair yardstick of the stability front. When
    ``current`` itself moves more than that (an order was inserted before one of them),
    the hint is the reference with the orders it lacks at the end of their fastest
    resource, which moves none, and the result is never worse than that hint instead.
    """
    constrain = None
    hint = current
    if reference is not None and max_moved is not None:
        limit = max_moved

        def constrain(cp: CpsatModel) -> None:
            cp.model.add(sum(_moved_literals(reference, problem, cp.arcs)) <= limit)

        if _moved(current, reference) > limit:
            hint = _reference_completed(problem, reference, current)
    return cpsat_schedule(problem, objective="tardiness", time_limit=time_limit, workers=workers,
                          keep=current.schedule, hint=hint, sequence_arcs=True if constrain is not None else None,
                          constrain=constrain).plan


def _moved(plan: Plan, reference: Plan) -> int:
    from rrl.domain.metrics import compute_stability

    return compute_stability(plan.schedule, plan.times, reference.schedule, reference.times).moved_orders


def _reference_completed(problem: Problem, reference: Plan, current: Plan) -> Plan:
    """The reference's sequences, with the orders of ``problem`` it lacks appended on
    their fastest eligible resource: no order of the reference moves. Falls back to
    ``current`` when that plan cannot be timed, is not valid (e.g. a started order out
    of place) or moves an order anyway: none of these happens for rrl's four events."""
    from rrl.domain.validator import validate
    from rrl.errors import CycleError

    sequences = {r: [o for o in seq if o in problem.orders] for r, seq in reference.schedule.sequences.items()}
    placed = {o for seq in sequences.values() for o in seq}
    for order in problem.orders:
        if order not in placed:
            options = problem.durations[order]
            sequences.setdefault(min(options, key=lambda r: (options[r], r)), []).append(order)
    try:
        plan = Plan.build(problem, Schedule(sequences))
    except CycleError:
        return current
    return plan if _moved(plan, reference) == 0 and not validate(problem, plan.schedule, plan.times) else current


def _moved_literals(reference: Plan, problem: Problem, arcs: dict[tuple[str, str, str], Any]) -> list[Any]:
    """Per order of ``reference`` (still in ``problem``): a literal true when it is moved,
    i.e. the arc from its reference predecessor (or the resource's start) is not taken."""
    literals: list[Any] = []
    for resource, seq in reference.schedule.sequences.items():
        for index, oid in enumerate(seq):
            if oid not in problem.orders:
                continue
            arc = arcs.get((resource, seq[index - 1] if index else "", oid))
            literals.append(arc.negated() if arc is not None else 1)
    return literals
