"""Ruin and recreate: a walk past the local optimum of single and exchange steps.

A steepest descent over single steps (and exchanges of two orders) stops where no such
step improves, while a full reschedule would still move load between resources: the
better plans differ in where several orders run at once. This walk takes a few unstarted
orders out of the plan (a random order and those of nearby due dates, in about half the
tries those of its product first, so that a line can take over a product's run and save
its cleanouts; where no order waits for another, in most tries those that end near it in
the walk's plan instead of by due date, so that orders running side by side on several
lines trade places; where the goal weighs moved orders, in some tries just two: one
that the walk's plan places elsewhere than the disrupted plan and any other, so that
they may trade which of them moves), puts them back one by one (in random order; where
no order waits for another, in half the tries by *regret*: each time the order whose
best place on another resource costs most over its best place goes first, since a later
insertion may take that place; there half the other tries go by due date), each at
the place of least cost over every resource it may run on, and keeps the result when
it costs less (or as much, needing no more placements from the disrupted plan), or now
and then when it costs more (simulated annealing, cooling as the budget runs out).
Each insertion is priced from the sequence it changes, each resource's sequence timed
on its own: exact where no order waits for another (no ``after``). Where
orders do wait, the sequences are timed as if each waiting order were released when the
orders it waits for end in the walk's plan (:meth:`~rrl.domain.plan.Plan.released_problem`
of the plan it starts from, the releases moved with each plan it moves to), and each
try's plan is then timed in full, with its chains, before it is kept or turned down (a
try that closes a precedence cycle is turned down). The orders a try puts
back go after those they wait for, and each is priced from when those end now (where
they went back in the same try, else in the walk's plan): so the later steps of a chain
taken out together can move up with its first ones, which pricing from the starting
plan's ends never offers. (The lines' own timelines time an order left in place
from its release in the walk's plan: where a chain's steps share a line, a later step
behind an earlier one taken out is priced from that plan's end of it; the full timing of
the try decides.)

The plan it returns is written as single operators of DESIGN section 5 by
:func:`~rrl.operators.blocks.placement_chain`: one placement per order off a longest
common subsequence of a resource's old and new sequences, never more than the steps the
repair may take (the walk rejects plans further from the disrupted one than that).
"""

from __future__ import annotations

import bisect
import functools
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence

from rrl._fork import run_forked
from rrl.domain.order import Order
from rrl.domain.plan import Plan
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import cheapest_insertion, inserted_end, sequence_timeline
from rrl.errors import NotApplicable
from rrl.learning.goals import RepairContext
from rrl.operators.blocks import placement_chain
from rrl.operators.repair import timed_or_none

#: Reason of the focus of a re-placed order.
RECREATE = "recreate"

#: What a re-placed order's step is there for, printed as its focus rule.
RECREATE_RULE = ("re-placement (ruin and recreate): T was taken out of the plan with orders of nearby due "
                 "dates or that end near it in the plan (often of its product), or, where moved orders count, "
                 "with one other order so that the two may trade which of them moves, and put back at its least "
                 "costly place on any resource it may run on; the plan these steps lead to is the best such "
                 "re-placement the search found within its budget")

#: Counts the orders of a sequence moved from the plan before the disruption, per resource.
MovedOn = Callable[[Sequence[str], str], int]

#: What a walk found: the resources its best plan changes with their new sequences, that
#: plan's goal cost, and its placements from the origin (small, so a forked walk sends it
#: back cheaply).
_Found = tuple[tuple[tuple[str, tuple[str, ...]], ...], float, int]

#: How long a forked walk on the clock may answer after this process's, in seconds,
#: before it is left out (both stop at the same clock; it may still be in a try).
GRACE_S = 0.02


def placements_between(origin: Sequence[str], target: Sequence[str]) -> int:
    """How many orders of ``target`` (one resource's new sequence) must be placed to get
    it from ``origin`` (the same resource's old one): those outside a longest common
    subsequence of the two (:func:`_in_place`)."""
    return len(target) - len(_in_place(origin, target)) if target else 0


class RuinAndRecreate:
    """The walk (see the module's docstring).

    Parameters
    ----------
    largest : int
        Most orders taken out at once (at least two are).
    temperature : float
        Starting temperature of the acceptance, in mean order durations
        (:attr:`~rrl.learning.goals.RepairContext.order_hours`); it falls linearly to 0.
    spread : float
        How loosely the orders taken out go together: the noise added to their distance
        from the first one (by due date, or by end: ``by_end``), as a share of the plan's
        range of due dates.
    same_product : float
        Share of the tries whose orders are chosen by product too: an order of another
        product than the first one's counts as twice the noise further away (with no
        noise, behind every order of that product). Where cleanouts depend on the
        sequence the better plans often give a product's orders to one line, which
        orders chosen by due date alone rarely reach.
    by_end : float
        Where no order waits for another: share of the tries whose orders are chosen by
        when they end in the walk's plan rather than by due date (the same noise and
        product distance). A line's run of orders is then taken out with those running
        beside it on the other lines, the loads that a better plan trades between lines;
        by due date alone, orders that run at far apart times come out together.
    due_order : float
        Where no order waits for another: share of the tries that put their orders back
        in order of due date, the rest in random order (a try by ``regret`` takes them
        in that order where their regrets are equal).
    regret : float
        Where no order waits for another: share of the tries (of all, trade tries too)
        that put their orders back by regret instead
        (:meth:`_Lines.put_back_by_regret`): each time the one whose best place on
        another resource costs most over its best place goes first. An order put back
        late finds its best place taken by those before it, and the orders of least
        choice lose most by that; in random or due-date order alone the walk often
        stays in a poorer plan (on the extruders' rush orders, at a share of 0.5, 1.022
        against 1.073 and 1.034 against 1.086 x CP-SAT; docs/benchmarks.md, "Orders
        put back by regret").
    trade : float
        Where the goal weighs moved orders: share of the tries ("trade tries") that take
        out two orders only, one that the walk's plan places differently from the
        disrupted plan and any other, so that the first may go back to its old place
        while the second moves instead. At a few moved orders the plan's cost depends
        on which orders move, and the two rarely come out together otherwise: they may
        run at far apart times. The pairs of the walk's plan are drawn without repeats
        (up to :data:`TRADE_PAIRS` of them) until the walk moves to another plan. The
        shares ``by_end`` and ``same_product`` are of the other tries; ``due_order`` and
        ``regret`` of all.
    patience : int
        On plants with ``after``: the walk ends after this many tries without a better
        plan, leaving the rest of its time to the search (another walk from the best
        plan on small plans, :meth:`run`'s ``again``; the wider passes on large ones:
        :func:`~rrl.learning.search.beam_search`).
        There each try is timed in full, and on large plans (500 orders) the walk's tries
        rarely find what the wider passes do.
    walkers : int
        Walks run at once, each on a random stream of its own, the best plan kept: all but one in
        forked processes, each on a core of its own where there are enough (two gain
        about as much as one with twice the time; docs/benchmarks.md, "Two walks at
        once"). Where orders wait for others, only when each walks again (``again`` of
        :meth:`run`): a single walk there ends at another time in each process.
    """

    def __init__(self, largest: int = 8, temperature: float = 0.2, spread: float = 0.1,
                 same_product: float = 0.5, by_end: float = 0.6, due_order: float = 0.5, trade: float = 0.3,
                 patience: int = 100, walkers: int = 1, regret: float = 0.5) -> None:
        self.largest = largest
        self.temperature = temperature
        self.spread = spread
        self.same_product = same_product
        self.by_end = by_end
        self.due_order = due_order
        self.trade = trade
        self.patience = patience
        self.walkers = walkers
        self.regret = regret

    def run(self, plan: Plan, origin: Plan, ctx: RepairContext, moved_on: MovedOn, *, room: int,
            rng: random.Random, done: Callable[[], bool], progress: Callable[[], float],
            walkers: int | None = None, tries: int | None = None, again: int = 0) -> Schedule | None:
        """Walk from ``plan`` until ``done()``; the best schedule found (of those as good,
        the one fewest placements from ``origin``), if it has a lower goal cost than
        ``plan`` and is at most ``room`` placements from ``origin``.

        ``moved_on`` counts moved orders per resource (read only when the goal weighs
        them); ``progress()`` is the share of the budget spent (it sets the temperature).
        With ``tries``, a walk also ends after that many tries, and its progress is the
        share of them made (a repair under a node limit: the same on any machine); with
        more than one walk, count tries that way, not in ``done``: where the system cannot
        fork, the walks run here one after the other, with the same ``done``.
        With ``walkers`` (default :attr:`walkers`) > 1, on plants without ``after`` or
        with ``again``, as many walks run at once, all but this process's in forked processes
        (:mod:`rrl._fork`; where the system cannot fork, after this one), each forked one
        from a seed drawn from ``rng`` first, this process's from the rest of ``rng``,
        until the same ``done()``; the best of their plans is returned (of equal ones,
        the one fewest placements away, then this process's; where this process's costs
        nothing, the others are stopped unheard). With ``tries`` every forked walk is
        waited for, however long the machine's load makes it (where the system cannot
        fork, it runs here after this process's, until ``done()`` or its tries: the same
        result); else a forked walk is left out if it answers more than :data:`GRACE_S`
        after this process's, or, with ``again``, after ``done()`` holds. A plan costing
        nothing that a forked walk finds ends the walks only when this process's end.

        With ``again`` > 0 (and no ``tries``), each process walks again from the best
        plan it has found once a walk ends (on plants with ``after``, after its
        ``patience``), on the rest of its generator, until ``done()`` or ``again`` walks
        in a row found no better plan (a plan the search could not write as placements
        from ``origin`` does not count).
        """
        again = again if tries is None else 0

        def walk(generator: random.Random) -> _Found | None:
            if again:
                return self._walks(plan, origin, ctx, moved_on, room=room, rng=generator, done=done,
                                   progress=progress, again=again)
            return self._walk(plan, origin, ctx, moved_on, room=room, rng=generator, done=done, progress=progress,
                              tries=tries)

        forks = self.forks(plan, again, walkers)
        if forks:
            seeds = [rng.getrandbits(64) for _ in range(forks)]
            found = run_forked(lambda: walk(rng), [functools.partial(walk, random.Random(s)) for s in seeds],
                               grace_s=None if tries is not None else GRACE_S, until=done if again else None,
                               enough=lambda f: f is not None and f[1] <= 1e-9)
        else:
            found = [walk(rng)]
        best: _Found | None = None
        for f in found:  # (the costs are sums kept along each walk: equal within rounding)
            if f is not None and (best is None or f[1] < best[1] - 1e-9
                                  or (f[1] <= best[1] + 1e-9 and f[2] < best[2])):
                best = f
        if best is None:
            return None
        return plan.schedule.replace(dict(best[0]))

    def forks(self, plan: Plan, again: int, walkers: int | None = None) -> int:
        """The walks :meth:`run` would start in forked processes from ``plan`` (with
        ``walkers`` walks, default :attr:`walkers`, and its ``again``)."""
        count = self.walkers if walkers is None else walkers
        # Where orders wait for others a single walk ends once it stops finding better
        # plans, at another time in each process, and this one would wait for the others
        # instead of leaving its time to the rest of the search: one walk there (on the
        # generated plant's rush orders two did 1.4 % worse), unless each walks again
        # until the clock (docs/benchmarks.md, "Two walks that walk again").
        return count - 1 if count > 1 and (again or not plan.problem.dependents) else 0

    def _walks(self, plan: Plan, origin: Plan, ctx: RepairContext, moved_on: MovedOn, *, room: int,
               rng: random.Random, done: Callable[[], bool], progress: Callable[[], float],
               again: int) -> _Found | None:
        """Walks one after the other (:meth:`run`'s ``again``), each from the best plan of
        those before, each cooling over the budget left when it starts: the best plan's
        changes from ``plan``, its cost and placements from ``origin``; None where none
        was better than ``plan``."""
        found: _Found | None = None
        at = plan  # the best plan so far, where the next walk starts
        fruitless = 0
        while fruitless < again and not done():
            began = progress()

            def share(began: float = began) -> float:  # (of the budget left when this walk began)
                return (progress() - began) / max(1.0 - began, 1e-9)

            better = self._walk(at, origin, ctx, moved_on, room=room, rng=rng, done=done, progress=share, tries=None)
            # (timed again: the next walk starts from the plan's times; and it tells whether the
            # search can write the plan as steps, each of which must time)
            timed = None if better is None else timed_or_none(at, dict(better[0]))
            if better is None or timed is None or not _reachable(origin, timed.schedule):
                fruitless += 1
                continue
            fruitless = 0
            at = timed
            changes = tuple((r, s) for r, s in at.schedule.sequences.items() if s != plan.schedule.sequence(r))
            found = (changes, better[1], better[2])
            if found[1] <= 1e-9:
                break  # (no plan costs less than nothing)
        return found

    def _walk(self, plan: Plan, origin: Plan, ctx: RepairContext, moved_on: MovedOn, *, room: int,
              rng: random.Random, done: Callable[[], bool], progress: Callable[[], float],
              tries: int | None) -> _Found | None:
        """One walk (:meth:`run`): the resources its best plan changes, with their new
        sequences, that plan's cost and its placements from ``origin``; None where it
        found nothing better than ``plan``."""
        problem = plan.problem
        orders = problem.orders
        weight = ctx.goal.moved_weight * ctx.order_hours
        # Where orders wait for others, the lines are priced as if each waiting order were
        # released when its orders end in the walk's plan (``at``: ``plan``, then each plan
        # the walk moves to), and every try is timed in full.
        linked = bool(problem.dependents)
        lines = _Lines(plan.released_problem(), chains=problem) if linked else _Lines(problem)
        at = plan  # the walk's plan, timed in full (read where ``linked``)
        seqs = {r: list(s) for r, s in plan.schedule.sequences.items()}
        movable = [o for s in seqs.values() for o in s if o not in problem.frozen]
        if len(movable) < 2:
            return None
        for order in movable:
            for resource in problem.durations[order]:
                seqs.setdefault(resource, [])
        floor = {r: sum(1 for o in s if o in problem.frozen) for r, s in seqs.items()}
        start = {r: origin.schedule.sequence(r) for r in seqs}
        memo: dict[tuple[str, tuple[str, ...]], tuple[float, int, float]] = {}

        def figures(resource: str, seq: tuple[str, ...]) -> tuple[float, int, float]:
            """(cost, placements from the origin, the cost's share for moved orders) of
            one resource's sequence."""
            found = memo.get((resource, seq))
            if found is None:  # (with chains a try is priced by its full timing: no line cost)
                cost = lines.timeline(resource, seq)[0][-1] if seq and not linked else 0.0
                moving = weight * moved_on(seq, resource) if weight else 0.0
                found = memo[resource, seq] = (cost + moving, placements_between(start[resource], seq), moving)
            return found

        own = {r: figures(r, tuple(s)) for r, s in seqs.items()}
        # (with chains, the plan's own total: the tries are priced from it as timed in full)
        cost = plan.total_tardiness + sum(m for _, _, m in own.values()) if linked else \
            sum(c for c, _, _ in own.values())
        placed = sum(p for _, p, _ in own.values())
        limit = cost - 1e-9  # what a plan must cost less than to be returned
        best: dict[str, tuple[str, ...]] | None = None
        best_cost, best_steps = cost, placed
        dues = {o: orders[o].due for o in movable}
        noise = self.spread * (max(dues.values()) - min(dues.values()))
        # (measured where orders wait for others, on the generated plant's rush orders: by
        # end 1.077, back by due date 1.061, both 1.069, against 1.047 x CP-SAT without; back
        # by regret in half the tries 1.033 against 1.018, in a quarter level)
        by_end, due_order, regret = (0.0, 0.0, 0.0) if linked else (self.by_end, self.due_order, self.regret)
        heat = self.temperature * ctx.order_hours
        trade = self.trade if weight else 0.0
        pairs: list[tuple[str, str]] = []  # the trade tries left for the walk's plan
        idle = 0  # tries since the best plan last changed
        patience = self.patience if linked else math.inf
        made = 0  # tries
        while best_cost > 1e-9 and idle < patience and not done() and (tries is None or made < tries):
            # (no plan costs less than nothing)
            made += 1
            idle += 1
            trading = bool(trade) and rng.random() < trade
            if trading and not pairs:
                pairs = _pairs(_placed(start, seqs), movable, rng)
            if trading and pairs:  # (none where the walk's plan places nothing elsewhere: a usual try)
                out = list(pairs.pop())
            else:
                count = rng.randint(2, min(self.largest, len(movable)))
                # another product's distance (with no noise: behind every order of the product)
                apart = (2.0 * noise if noise > 0 else math.inf) if rng.random() < self.same_product else 0.0
                when = _ends(lines, seqs) if by_end and rng.random() < by_end else dues
                out = _taken_out(problem, movable, rng.choice(movable), count, noise, apart, rng, when)
            leaving = set(out)
            kept = {r: s for r, s in seqs.items() if not leaving.isdisjoint(s)}  # the old lists
            for resource, old in kept.items():
                seqs[resource] = [o for o in old if o not in leaving]
            if due_order and rng.random() < due_order:
                out.sort(key=dues.__getitem__)
            else:
                rng.shuffle(out)
            touched = dict.fromkeys(kept)  # (a dict: the same order on every run)
            by_regret = bool(regret) and rng.random() < regret
            for resource in _put_back(lines, out, seqs, floor, weight, moved_on, at, by_regret):
                touched[resource] = None
            now = {r: figures(r, tuple(seqs[r])) for r in touched}
            steps = placed + sum(now[r][1] - own[r][1] for r in now)
            if linked:
                trial = _timed(at, seqs, touched) if steps <= room else None
                new = math.inf if trial is None else \
                    cost - at.total_tardiness + trial.total_tardiness + sum(now[r][2] - own[r][2] for r in now)
            else:
                new = cost + sum(now[r][0] - own[r][0] for r in now)
            hot = heat * max(0.0, 1.0 - (made / max(tries, 1) if tries is not None else progress()))
            # At equal cost, a plan that needs fewer placements from the origin is preferred:
            # orders with slack would otherwise drift from the disrupted plan for nothing.
            level = abs(new - cost) <= 1e-9
            if steps <= room and new < math.inf and ((new < cost and not level) or (level and steps <= placed)
                                                     or (hot > 0 and rng.random() < math.exp((cost - new) / hot))):
                cost, placed = new, steps
                own.update(now)
                if any(seqs[r] != kept.get(r) for r in touched):
                    pairs = []  # another plan: its own pairs
                if linked:
                    assert trial is not None  # (a try that did not time costs math.inf)
                    if trial is not at:
                        lines.follow(trial)
                    at = trial
                if cost < limit and (best is None or cost < best_cost - 1e-9
                                     or (cost <= best_cost + 1e-9 and steps < best_steps)):
                    best, best_cost, best_steps = {r: tuple(s) for r, s in seqs.items()}, cost, steps
                    idle = 0
            else:  # back to where the walk was
                for resource in touched:
                    seqs[resource] = kept[resource] if resource in kept else \
                        [o for o in seqs[resource] if o not in leaving]
        if best is None:
            return None
        changes = tuple((r, s) for r, s in best.items() if s != plan.schedule.sequence(r))
        return changes, best_cost, best_steps


def _reachable(origin: Plan, target: Schedule) -> bool:
    """Whether single placements lead from ``origin`` to ``target`` (where orders wait for
    others, each step on the way may close a cycle: then the search could not write the
    walk's plan as steps, and a later walk from it would be lost too)."""
    if not origin.problem.dependents:
        return True
    try:
        placement_chain(origin, target)
    except NotApplicable:
        return False
    return True


def _ready(spec: Order, now: float, ends: Mapping[str, float], at: Plan) -> float:
    """When ``spec``'s order may start: its release, the clock, and the end of each order
    it waits for (from ``ends`` where given, else as ``at`` times it)."""
    return max(spec.release, now, *(ends[a] if a in ends else at.times.end_of(a) for a in spec.after))


def _waiting_last(out: list[str], orders: Mapping[str, Order]) -> list[str]:
    """``out`` reordered so that each order comes after the orders of ``out`` it waits
    for (``after``), else in the order of ``out``."""
    taken = set(out)
    placed: dict[str, None] = {}

    def visit(order: str) -> None:
        if order in placed:
            return
        for before in orders[order].after:
            if before in taken:
                visit(before)
        placed[order] = None

    for order in out:
        visit(order)
    return list(placed)


def _put_back(lines: _Lines, out: list[str], seqs: dict[str, list[str]], floor: dict[str, int], weight: float,
              moved_on: MovedOn, at: Plan, by_regret: bool) -> list[str]:
    """Put the orders of ``out`` back into ``seqs``, each at its place of least cost over
    the resources it may run on; the resource each went to. In the order of ``out``, or,
    ``by_regret``, each time the order that loses most where it does not go to its best
    place now (:meth:`_Lines.put_back_by_regret`). ``at`` is the walk's plan.

    An order that waits for others goes back after those of them taken out too, and is
    priced from when they end now (where they went back, else in ``at``), not from when
    they ended in the plan the walk started from: so the steps of a chain taken out
    together can move up with it. (The walk puts orders back by regret only where none
    waits for another; by regret, the orders ready are those that wait for none left.)"""
    orders, now = at.problem.orders, at.problem.now
    went: list[str] = []
    ends: dict[str, float] = {}  # where the orders waited for went back
    waited = {a for o in out for a in orders[o].after}
    left = _waiting_last(out, orders)

    def earliest(order: str) -> float | None:
        return _ready(orders[order], now, ends, at) if orders[order].after else None

    while left:
        if by_regret:
            waiting = set(left)
            ready = {o: earliest(o) for o in left if waiting.isdisjoint(orders[o].after)}
            order, resource, index = lines.put_back_by_regret(ready, seqs, floor, weight, moved_on)
            start = ready[order]
            left.remove(order)
        else:
            order = left.pop(0)
            start = earliest(order)
            resource, index = lines.put_back(order, seqs, floor, weight, moved_on, start)
        if order in waited:
            ends[order] = lines.end_at(order, resource, seqs[resource], index, start)
        went.append(resource)
    return went


def _timed(plan: Plan, seqs: dict[str, list[str]], touched: Iterable[str]) -> Plan | None:
    """``plan`` with the ``touched`` resources' sequences of ``seqs``, timed with its
    chains; None where they close a cycle. Most tries put their orders back where they
    were (``plan`` itself then, not timed again)."""
    changes = {r: seq for r in touched if (seq := tuple(seqs[r])) != plan.schedule.sequence(r)}
    if not changes:
        return plan
    return timed_or_none(plan, changes)


def _ends(lines: _Lines, seqs: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """When each order ends in the walk's plan (each line timed on its own)."""
    ends: dict[str, float] = {}
    for resource, seq in seqs.items():
        if seq:
            ends.update(zip(seq, lines.timeline(resource, tuple(seq))[1], strict=True))
    return ends


#: Most trade tries drawn for one plan of a walk (:class:`RuinAndRecreate`'s ``trade``):
#: on large plans with many moved orders the pairs run to thousands.
TRADE_PAIRS = 256


def _placed(origin: Mapping[str, Sequence[str]], seqs: Mapping[str, Sequence[str]]) -> list[str]:
    """The orders that ``seqs`` places differently from ``origin``: on each resource,
    those outside a longest common subsequence of its old and new sequences (the
    orders its placements move, :func:`placements_between`)."""
    placed: list[str] = []
    for resource, seq in seqs.items():
        old = origin.get(resource, ())
        if tuple(seq) != tuple(old):
            kept = _in_place(old, seq)
            placed += [o for k, o in enumerate(seq) if k not in kept]
    return placed


def _in_place(origin: Sequence[str], target: Sequence[str]) -> set[int]:
    """Indices of ``target`` on a longest common subsequence with ``origin``. An order
    appears once in a plan, so that subsequence is a longest strictly increasing run of
    the target's positions in ``origin`` (n log n, not the square of a line's length)."""
    where = {o: k for k, o in enumerate(origin)}
    tails: list[int] = []  # tails[n]: the index ending the best run of length n + 1 so far
    tail_values: list[int] = []
    before: dict[int, int] = {}  # index -> the index before it in its run
    for k, order in enumerate(target):
        value = where.get(order)
        if value is None:
            continue  # (not in origin: always placed)
        n = bisect.bisect_left(tail_values, value)
        if n:
            before[k] = tails[n - 1]
        if n == len(tails):
            tails.append(k)
            tail_values.append(value)
        else:
            tails[n], tail_values[n] = k, value
    run: set[int] = set()
    k = tails[-1] if tails else -1
    while k >= 0:
        run.add(k)
        k = before.get(k, -1)
    return run


def _pairs(placed: Sequence[str], movable: Sequence[str], rng: random.Random) -> list[tuple[str, str]]:
    """Up to :data:`TRADE_PAIRS` pairs of an order of ``placed`` and another of ``movable``,
    drawn at random without repeats (each unordered pair once)."""
    chosen = set(placed)
    first = [o for o in movable if o in chosen]
    others = len(movable)
    pairs: list[tuple[str, str]] = []
    seen: set[frozenset[str]] = set()
    for k in rng.sample(range(len(first) * others), min(len(first) * others, TRADE_PAIRS)):
        a, b = first[k // others], movable[k % others]
        if a != b and (key := frozenset((a, b))) not in seen:
            seen.add(key)
            pairs.append((a, b))
    return pairs


def _taken_out(problem: Problem, movable: list[str], first: str, count: int, noise: float, apart: float,
               rng: random.Random, when: Mapping[str, float]) -> list[str]:
    """The ``count`` orders of ``movable`` closest to ``first``: by ``when`` (due dates,
    or ends in the walk's plan), plus up to ``noise`` at random, plus ``apart`` for
    another product than ``first``'s (``first`` itself, at its noise alone, is almost
    always among them)."""
    orders = problem.orders
    at, product = when[first], orders[first].product
    draw = rng.random
    distance = [abs(when[order] - at) + draw() * noise + (apart if orders[order].product != product else 0.0)
                for order in movable]
    return [movable[i] for i in sorted(range(len(movable)), key=distance.__getitem__)[:count]]


class _Lines:
    """Each resource's sequences priced on their own (:func:`~rrl.domain.timing.cheapest_insertion`),
    their timelines and each order's best place in them remembered per resource: the
    walk prices thousands of insertions per repair, and most of its tries are turned
    down, so the same sequences come back try after try. Where orders wait for others,
    ``problem`` is the walk's own released problem, whose releases :meth:`follow` moves
    with the walk's plan."""

    def __init__(self, problem: Problem, chains: Problem | None = None) -> None:
        self.problem = problem
        # the orders each order waits for and those waiting for it (``chains``' ``after``):
        # on one line an order goes after the first and before the second, or the try
        # would close a cycle
        self._waits = {o: set(spec.after) for o, spec in chains.orders.items()} if chains else {}
        self._waited = {o: set(ds) for o, ds in chains.dependents.items()} if chains else {}
        # per resource: sequence -> its timeline
        self._timelines: dict[str, dict[tuple[str, ...], tuple[list[float], list[float]]]] = {
            r: {} for r in problem.lines}
        # per resource: (sequence, order, earliest start or None) -> (added cost, place) of
        # the order's best place, or (a lower bound of that cost, -1) where the search was
        # cut by a bound
        self._places: dict[str, dict[tuple[tuple[str, ...], str, float | None], tuple[float, int]]] = {
            r: {} for r in problem.lines}

    def timeline(self, resource: str, seq: tuple[str, ...]) -> tuple[list[float], list[float]]:
        """Running total tardiness and ends along ``seq`` (remembered)."""
        own = self._timelines[resource]
        found = own.get(seq)
        if found is None:
            found = own[seq] = sequence_timeline(self.problem, resource, seq)
        return found

    def follow(self, plan: Plan) -> None:
        """With chains: release each waiting order whose orders ``plan`` re-timed (its
        :attr:`~rrl.domain.timing.Timetable.changed`: ``plan`` is the walk's last plan
        re-timed, as a try's plan is) when they end in ``plan``, and forget
        what was priced on the resources where one's release moved. The lines are priced
        as if each waiting order were released when its orders end in the walk's plan;
        a walk that moved on from the plan it started from would otherwise price them
        from where that plan ended them."""
        problem, chains = self.problem, plan.problem
        lines = problem.lines  # (the walk's own problem: its earliest starts are updated here)
        for order in dict.fromkeys(d for o in plan.times.changed for d in chains.dependents.get(o, ())):
            earliest = _ready(chains.orders[order], problem.now, {}, plan)
            resources = problem.durations[order]
            if lines[next(iter(resources))][0][order][2] == earliest:
                continue
            for resource in resources:
                specs = lines[resource][0]
                product, after, _, due, duration = specs[order]
                specs[order] = (product, after, earliest, due, duration)
                self._timelines[resource].clear()
                self._places[resource].clear()

    def put_back(self, order: str, seqs: dict[str, list[str]], floor: dict[str, int], weight: float,
                 moved_on: MovedOn, earliest: float | None = None) -> tuple[str, int]:
        """Insert ``order`` at its place of least cost over the resources it may run on
        (the first such place), from ``earliest`` on where given (else its own release);
        the resource it went to and its index there."""
        best = math.inf
        choice: tuple[str, int] | None = None
        for resource in self.problem.durations[order]:
            cost, index = self._place(order, resource, seqs, floor, weight, moved_on, best, earliest)
            if index >= 0 and cost < best - 1e-9:  # (the first of places equal within rounding)
                best, choice = cost, (resource, index)
        assert choice is not None  # every order may run somewhere
        seqs[choice[0]].insert(choice[1], order)
        return choice

    def put_back_by_regret(self, ready: Mapping[str, float | None], seqs: dict[str, list[str]],
                           floor: dict[str, int], weight: float, moved_on: MovedOn) -> tuple[str, str, int]:
        """Insert the order of ``ready`` (each with its earliest start, or None for its own
        release) whose best place on another resource costs most over its best place
        (its *regret*: where it does not go to its best place now, later insertions may
        take that place), at its best place; the order, its resource and index there.
        Orders that may run on one resource only go first; of equal regrets (within
        rounding), the first order of ``ready``. A resource after the first two is
        searched only under the second-best price so far (a search cut by that bound is
        remembered, and searched again under a higher one)."""
        durations = self.problem.durations
        pick: tuple[float, str, str, int] | None = None
        for order, earliest in ready.items():
            best: tuple[float, str, int] | None = None
            second = math.inf  # the least cost on another resource than ``best``'s
            for resource in durations[order]:
                cost, index = self._place(order, resource, seqs, floor, weight, moved_on, second, earliest)
                if index < 0:
                    continue  # (no place there costs less than ``second``)
                if best is None or cost < best[0] - 1e-9:  # (the first of places equal within rounding)
                    if best is not None:
                        second = best[0]
                    best = (cost, resource, index)
                elif cost < second:
                    second = cost
            assert best is not None  # every order may run somewhere
            regret = second - best[0]
            if pick is None or regret > pick[0] + 1e-9:
                pick = (regret, order, best[1], best[2])
        assert pick is not None  # (``ready`` is never empty: an order of those left waits for none of them)
        _, order, resource, index = pick
        seqs[resource].insert(index, order)
        return order, resource, index

    def end_at(self, order: str, resource: str, seq: Sequence[str], index: int, earliest: float | None) -> float:
        """The end of ``order`` at ``index`` of ``seq`` (which holds it), as priced (from
        ``earliest`` where given)."""
        before = tuple(seq[:index]) + tuple(seq[index + 1:])
        return inserted_end(self.problem, resource, before, order, self.timeline(resource, before), index, earliest)

    def _place(self, order: str, resource: str, seqs: dict[str, list[str]], floor: dict[str, int], weight: float,
               moved_on: MovedOn, bound: float, earliest: float | None) -> tuple[float, int]:
        """:meth:`_best_place` of ``order`` in ``resource``'s sequence of ``seqs``, remembered
        (a place searched under a bound is searched again under a higher one)."""
        seq = tuple(seqs[resource])
        places = self._places[resource]
        key = (seq, order, earliest)
        found = places.get(key)
        if found is None or (found[1] < 0 and found[0] < bound):
            found = places[key] = self._best_place(order, resource, seq, floor[resource], weight, moved_on, bound,
                                                   earliest)
        return found

    def _best_place(self, order: str, resource: str, seq: tuple[str, ...], floor: int, weight: float,
                    moved_on: MovedOn, bound: float, earliest: float | None = None) -> tuple[float, int]:
        """(added cost, place) of ``order``'s first cheapest place in ``seq`` after its
        first ``floor`` (started) orders (and, with chains, after the orders it waits for
        and before those waiting for it), or ``(bound, -1)`` where no place costs less
        than ``bound``."""
        moved = moved_on(seq, resource) if weight else 0
        first, stop = floor, len(seq)
        waits, waited = self._waits.get(order), self._waited.get(order)
        if waits or waited:
            for k, other in enumerate(seq):
                if waits and other in waits:
                    first = max(first, k + 1)
                elif waited and other in waited:
                    stop = min(stop, k)
            if first > stop:  # (orders put back before it closed the cycle already: the try is turned down)
                first, stop = floor, len(seq)

        def extra(index: int) -> float:
            return weight * (moved_on((*seq[:index], order, *seq[index:]), resource) - moved)

        return cheapest_insertion(self.problem, resource, seq, order, self.timeline(resource, seq), first, stop,
                                  bound, extra if weight else None, earliest)
