"""The repair neighbourhood with a moving focus, and the searches that walk it.

A repair step is (F, operator, U or resource) where the focal task F may change from one
step to the next (DESIGN section 9). F starts at the disruption's focal tasks, which are
looked at first; the other candidates for F, at the first step and at every later one,
come from the background knowledge's ``focus_candidate/3`` rules (the most tardy orders,
the orders the last step delayed, orders running ahead of a tardy one, ...), evaluated
in Prolog on the state's facts, so every focus can be explained by the rule that
proposed it.

:class:`Neighbourhood` turns a node (a plan on a repair path) into its candidate steps,
each with the plan it leads to (incremental re-timing), its goal cost and, when a policy
is given, its Q-value: one Prolog call proposes the foci, one more scores every action of
every focus. :func:`beam_search` is consult's anytime search over it;
:func:`steepest_descent` is the plain baseline over the same steps (``rrl evaluate`` gives it
the policy's trained focus width).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rrl._collector import timed_work
from rrl._fork import affordable, retime_if_due
from rrl.domain.plan import Plan
from rrl.domain.schedule import Schedule
from rrl.domain.timing import first_difference, running_tardiness, tail_tardiness
from rrl.errors import NotApplicable
from rrl.events import Disruption
from rrl.learning.goals import RepairContext
from rrl.learning.qfunction import PrologQFunction
from rrl.learning.recreate import RECREATE, RECREATE_RULE, RuinAndRecreate
from rrl.operators.blocks import (
    Block,
    block_chain,
    block_proposals,
    exchange,
    exchange_chain,
    exchange_partners,
    insertions,
    placement,
    placement_chain,
)
from rrl.operators.repair import (
    Action,
    Changes,
    applicable_operators,
    proposals,
    timed,
    timed_or_none,
)
from rrl.relational.facts import (
    ORDER_PREDICATES,
    action_facts,
    focus_facts,
    plan_facts,
    predicate_of,
)

#: A step of one focus before it is a candidate: action, changes, plan (when re-timed),
#: moved orders, tardiness, and for a block step its run.
_Step = tuple[Action, Changes, "Plan | None", int, float, "Block | None"]

#: Reason of the focus at the first step: the disruption's own focal task(s).
EVENT = "event"

#: Reason of the focus of a block step's later members (:mod:`rrl.operators.blocks`).
BLOCK = "block"

#: What a block step's later members are there for, printed as their focus rule.
BLOCK_RULE = ("block step: T ran next to the focal task of the block's first step, in one run with it; it "
              "keeps its place in the run, so that the run keeps its sequence and its cleanouts")

#: Reason of the focus of an exchange step's second order (:mod:`rrl.operators.blocks`).
EXCHANGE = "exchange"

#: What an exchange step's second order is there for, printed as its focus rule.
EXCHANGE_RULE = ("exchange step: T ran on the resource the focal task of the step before moved to; it makes "
                 "room there and goes to the least tardy place on another resource it may run on (the focal "
                 "task's own, or a third)")

#: The focus rules of the later orders of block and exchange steps (no background clause proposes them).
CHAIN_RULES = {BLOCK: BLOCK_RULE, EXCHANGE: EXCHANGE_RULE, RECREATE: RECREATE_RULE}

#: Q-values of a node's actions from its state facts and its (focus facts, actions' facts) groups.
Scorer = Callable[[list[str], list[tuple[list[str], list[list[str]]]]], np.ndarray]


def prolog_scorer(q: PrologQFunction) -> Scorer:
    """Score with the rules loaded in ``q`` (the state is held once per node)."""
    def score(state: list[str], groups: list[tuple[list[str], list[list[str]]]]) -> np.ndarray:
        q.set_state(state)
        return q.group_values(groups)
    return score


@dataclass(frozen=True)
class Focus:
    """A focal task and the reason (``focus_candidate/3`` clause) that proposed it."""

    task: str
    reason: str


@dataclass
class Candidate:
    """One possible step from a node: the action, the plan it leads to and its figures.

    The plan is re-timed when first read (:attr:`plan`): a search prices every step from
    its changed sequences and follows few of them.
    """

    focus: Focus
    action: Action
    source: Plan = field(repr=False)  # the plan the step starts from
    changes: Changes = field(repr=False)
    moved: int
    cost: float
    tardiness: float  # the total tardiness the step leads to
    facts: list[str]
    q: float = 0.0
    reward: float = 0.0
    gain: float = 0.0  # how much the step lowers the goal's cost
    scored: bool = False  # q holds the policy's value
    timed_plan: Plan | None = field(default=None, repr=False)
    block: Block | None = None  # a block step: the run moved (``action`` is its focal task's, taken first)
    exchange: tuple[Block, Block] | None = None  # an exchange step: its two orders' places, in step order
    _schedule: Schedule | None = field(default=None, repr=False)

    @property
    def length(self) -> int:
        """How many repair steps taking it makes (a block step: one per member; an
        exchange: two)."""
        if self.exchange is not None:
            return 2
        return len(self.block.orders) if self.block is not None else 1

    @property
    def schedule(self) -> Schedule:
        """The schedule the step leads to (no re-timing)."""
        if self.timed_plan is not None:
            return self.timed_plan.schedule
        if self._schedule is None:
            self._schedule = self.source.schedule.replace(self.changes)
        return self._schedule

    @property
    def plan(self) -> Plan:
        """The plan the step leads to, re-timed from the first changed positions."""
        if self.timed_plan is None:
            self.timed_plan = self.source.with_schedule(self.schedule, self.changes)
        return self.timed_plan


@dataclass
class Node:
    """A plan on a repair path.

    ``delayed`` are the orders the step into this node made finish later, ``moved`` the
    orders moved from the plan before the disruption; ``via`` is the step that led here.
    ``state`` (its facts), ``focus_facts`` (per focal task) and ``orders_facts`` (per
    order) are filled in when the node is expanded.
    """

    plan: Plan
    moved: int
    cost: float
    depth: int = 0
    parent: Node | None = field(default=None, repr=False)
    via: Candidate | None = field(default=None, repr=False)
    delayed: tuple[str, ...] = ()
    state: list[str] | None = field(default=None, repr=False)
    focus_facts: dict[str, list[str]] = field(default_factory=dict, repr=False)
    orders_facts: dict[str, list[str]] | None = field(default=None, repr=False)

    def path(self) -> list[Node]:
        """The nodes from the root's first child to this one."""
        nodes: list[Node] = []
        node: Node | None = self
        while node is not None and node.via is not None:
            nodes.append(node)
            node = node.parent
        return nodes[::-1]

    @property
    def key(self) -> tuple[Any, ...]:
        """What the candidates of a node depend on (cache key of an expansion)."""
        # The reason too: a node inside a block step (reason ``block``) keeps facts of its
        # own, never shared with an expanded node of the same plan and focal task.
        focus = (self.via.focus.task, self.via.focus.reason) if self.via else None
        return (self.plan.schedule, focus, self.delayed, self.depth == 0)


#: Plans whose pricing figures a search keeps (the latest): with ``after`` each holds a
#: problem of its own, which a long budget at 500 orders would otherwise pile up.
PRICED_PLANS = 64


class _PricedFrom:
    """What pricing steps from one plan reads (:meth:`Neighbourhood._priced`): the
    problem its sequences are timed on (with ``after``, the plan's released problem), the
    tardiness of each sequence priced on it, and the running tardiness and ends along the
    plan's own sequences."""

    __slots__ = ("memo", "plan", "prefixes", "problem")

    def __init__(self, plan: Plan, shared: dict[tuple[str, tuple[str, ...]], float]) -> None:
        self.plan = plan
        linked = bool(plan.problem.dependents)
        self.problem = plan.released_problem() if linked else plan.problem
        # without ``after`` a sequence's tardiness is its own wherever it comes back
        self.memo: dict[tuple[str, tuple[str, ...]], float] = {} if linked else shared
        self.prefixes: dict[str, tuple[list[float], list[float]]] = {}


class Neighbourhood:
    """The candidate steps of a repair with a moving focus.

    Parameters
    ----------
    hit : Disruption
        The disruption being repaired (its focal tasks start the search).
    ctx : RepairContext
        The goal's yardsticks (cost, moved orders).
    q : PrologQFunction
        The policy's Prolog module with the background knowledge: it proposes the foci.
    scorer : callable, optional
        Q-values of a node's actions: called with the state facts and the groups (a
        focus's facts, its actions' facts); without it candidates are not scored.
    focus_width : int
        Candidates per focus reason at each step.
    moves_per_focus : int, optional
        Keep only this many actions per focus, those of lowest goal cost (a candidate
        list: the policy chooses among each focus's best few moves); None keeps all.
    reach : int, optional
        Swap and jump only with tasks at most this many places away (None: any).
    score_all : bool
        Score every candidate at once (learning needs every value); False leaves the
        values to be asked for by the search that reads them (:meth:`score`):
        a steepest-descent pass reads none.
    price_steps : bool
        Price steps from their changed sequences where the plant has no ``after``
        (:attr:`priced`); False re-times every step (the same steps, more slowly).
    timed_per_focus : int
        Where orders wait for others (``after``, when steps are priced and
        ``moves_per_focus`` is set): a focus's steps are first priced on the lines of
        the plan's :meth:`~rrl.domain.plan.Plan.released_problem` (an estimate: what
        the moved orders' ends do to the orders waiting for them is left out), and only
        this many of the cheapest are re-timed with their chains, of which the
        ``moves_per_focus`` cheapest are kept. Re-timing every step cost half of a
        search's time there.
    longest_block : int
        Also move the focus together with the orders right after it or right before it,
        runs of up to this many orders (:mod:`rrl.operators.blocks`; 1: single steps
        only). Only where no order waits for another (no ``after``): there, every
        member's step on the way is a plan of its own that no precedence can break.
    exchanges : bool
        Offer exchange steps (:meth:`exchange_steps`, :mod:`rrl.operators.blocks`) where
        no order waits for another; the searches try them where no single step improves.
    """

    def __init__(self, hit: Disruption, ctx: RepairContext, q: PrologQFunction, *,
                 scorer: Scorer | None = None, focus_width: int = 2, moves_per_focus: int | None = 4,
                 reach: int | None = None, score_all: bool = True, price_steps: bool = True,
                 longest_block: int = 1, exchanges: bool = True, timed_per_focus: int = 6) -> None:
        self.hit = hit
        self.ctx = ctx
        self.q = q
        self.scorer = scorer
        self.focus_width = focus_width
        self.moves_per_focus = moves_per_focus
        self.reach = reach
        self.score_all = score_all
        self.expansions = 0
        self._reference = hit.before.schedule
        self._operators = q.focus_operators()
        self._cache: dict[tuple[Any, ...], _Expansion] = {}
        # without ``after``, a resource's times depend on its own sequence alone
        self.priced = price_steps and not hit.plan.problem.dependents
        self.timed_per_focus = timed_per_focus if price_steps and hit.plan.problem.dependents else None
        self.longest_block = longest_block if not hit.plan.problem.dependents else 1
        self.exchanges = exchanges and not hit.plan.problem.dependents
        self._sequence_tardiness: dict[tuple[str, tuple[str, ...]], float] = {}
        self._moved: dict[tuple[str, tuple[str, ...]], int] = {}
        # per plan priced from (by id, the plan held so that the id stays its own): the
        # running tardiness and ends along its sequences, and with ``after`` its released
        # problem with the tardiness of the sequences priced on it
        self._prefixes: dict[int, _PricedFrom] = {}

    def root(self) -> Node:
        """The disrupted plan as the start of every path."""
        plan = self.hit.plan
        moved = self.ctx.moved(plan)
        return Node(plan, moved, self.ctx.cost_of(plan.total_tardiness, moved))

    def state_of(self, node: Node, only: Collection[str] | None = None) -> list[str]:
        """The state facts of ``node`` (cached on it); with ``only``, just the facts of
        those predicates (built apart, and cheaply, where no order's facts are among
        them: see :func:`~rrl.relational.facts.plan_facts`)."""
        previous = node.via.focus.task if node.via else None
        if only is not None and ORDER_PREDICATES.isdisjoint(only):
            return plan_facts(node.plan, event_focal=self._event_tasks(node.plan), delayed=node.delayed,
                              previous_focus=previous, only=only)
        if node.state is None:
            parent = node.parent.orders_facts if node.parent is not None else None
            node.orders_facts = dict(parent) if parent is not None else {}
            node.state = plan_facts(node.plan, event_focal=self._event_tasks(node.plan), delayed=node.delayed,
                                    previous_focus=previous, orders_facts=node.orders_facts)
        return node.state if only is None else [f for f in node.state if predicate_of(f) in only]

    def _event_tasks(self, plan: Plan) -> list[str]:
        frozen = plan.problem.frozen
        return [t for t in self.hit.focal if t not in frozen]

    def foci(self, node: Node) -> list[Focus]:
        """Where the policy may look from ``node``: the background's focus candidates,
        preceded at the first step by the event's own tasks (the focus starts there, and
        may shift at once: a new order placed where it fits best can leave nothing to gain
        on itself, while the orders it pushed back can be helped)."""
        where = node.plan.schedule.where
        frozen = node.plan.problem.frozen
        first = self._event_foci(node)
        taken = {f.task for f in first}
        found = self.q.focus(self.focus_width, self.state_of(node))
        return first + [Focus(t, r) for t, r in found if t in where and t not in frozen and t not in taken]

    def _event_foci(self, node: Node) -> list[Focus]:
        """The event's own tasks as foci: the first of the root's, none elsewhere."""
        return [Focus(t, EVENT) for t in self._event_tasks(node.plan)[: self.focus_width]] if node.depth == 0 else []

    def expand(self, node: Node, lazy: bool = False, until: Callable[[], bool] | None = None,
               room: int | None = None) -> list[Candidate]:
        """Candidate steps from ``node``, Q-values filled in when scoring.

        The foci are taken in the order the background proposes them. ``lazy`` stops
        after the first focus that offers a step improving the goal's cost (or after the
        last focus): a first-improvement look that a greedy step can act on at once;
        a later call without ``lazy`` examines the remaining foci. ``until`` (a clock
        check) stops before the next focus once it returns True (the first focus is
        always examined), and a later call resumes there. ``room`` (steps left before the
        step limit) keeps ``lazy`` from stopping at a block step too long to take.
        Expansions are cached by what they depend on, so searches that revisit a node pay
        for it once.
        """
        key = node.key
        expansion = self._cache.get(key)
        if expansion is None:
            self.expansions += 1
            # The event's own foci need no query: the background's are asked for only when
            # the search gets past them (a burst's tiny budgets often end there).
            first = self._event_foci(node)
            expansion = self._cache[key] = _Expansion(first, complete=not first)
            if not first:
                expansion.foci = self.foci(node)
        elif expansion.state is not None:
            node.state = expansion.state  # same facts: keeps the state Prolog holds
            node.orders_facts = expansion.orders_facts
        node.focus_facts = expansion.facts
        fresh: list[tuple[Focus, list[Candidate]]] = []
        while expansion.next < len(expansion.foci) or not expansion.complete:
            if lazy and any(c.cost < node.cost - 1e-9 and (room is None or c.length <= room)
                            for c in expansion.candidates):
                break
            # A node's first focus is always examined (at the root, the event's own
            # task): a search with almost no time left still repairs the event's task.
            if until is not None and expansion.next and until():
                break
            if expansion.next == len(expansion.foci):
                expansion.foci, expansion.complete = self.foci(node), True
                if expansion.next == len(expansion.foci):
                    break
            focus = expansion.foci[expansion.next]
            expansion.next += 1
            own = self._focus_steps(node, focus, expansion.applicable)
            expansion.candidates += own
            if own:
                fresh.append((focus, own))
        if fresh and self.score_all:
            self._score(node, [c for _, own in fresh for c in own])
        expansion.state, expansion.orders_facts = node.state, node.orders_facts
        return expansion.candidates

    def exchange_steps(self, node: Node, until: Callable[[], bool] | None = None) -> list[Candidate]:
        """The exchange steps of ``node``'s foci: for each focus F, each order T on another
        resource that may run F, and each other resource T may run on, F at the least tardy
        place of T's resource once T has left it and T at the least tardy place of that
        resource (each side priced on its own: without ``after`` they do not meet).
        ``until`` stops the scan once it returns True (what was found by then is
        returned). Empty where the plant has ``after`` or exchanges are off.
        """
        if not self.exchanges or (until is not None and until()):
            return []
        expansion = self._cache.get(node.key)
        if expansion is not None and not expansion.complete:
            expansion.foci, expansion.complete = self.foci(node), True
        foci = expansion.foci if expansion is not None else self.foci(node)
        plan = node.plan
        where = plan.schedule.where
        counts: dict[str, int] = {}
        found: list[Candidate] = []
        # a partner's best place on a resource that is not the focus's own depends on
        # neither focus: found once per node
        backs: dict[tuple[str, str], tuple[int, tuple[str, ...]]] = {}
        for focus in foci:
            home = where[focus.task][0]
            without = tuple(o for o in plan.schedule.sequence(home) if o != focus.task)
            places: dict[str, tuple[int, tuple[str, ...]]] = {}  # the focus's best place, per partner
            for partner, resource in exchange_partners(plan, focus.task):
                # Checked for every partner, not between foci: on long sequences one focus's
                # scan can cost more than a whole budget, and no node needs an exchange.
                if until is not None and until():
                    return found
                target = where[partner][0]
                there = places.get(partner)
                if there is None:
                    there = places[partner] = min(insertions(plan, focus.task, target, partner),
                                                  key=lambda option: self._priced(plan, {target: option[1]}))
                back = backs.get((partner, resource)) if resource != home else None
                if back is None:
                    back = min(insertions(plan, partner, resource, focus.task),
                               key=lambda option: self._priced(plan, {resource: option[1]}))
                    if resource != home:
                        backs[partner, resource] = back
                changes = {home: without, target: there[1], resource: back[1]}  # ``resource`` may be ``home``
                tardiness = self._priced(plan, changes)
                moved = node.moved + self._moved_delta(plan, counts, changes)
                blocks = exchange(plan, focus.task, partner, there[0], resource, back[0])
                action = placement(plan, focus.task, target, blocks[0].index)
                cost = self.ctx.cost_of(tardiness, moved)
                candidate = Candidate(focus, action, plan, changes, moved, cost, tardiness, [], exchange=blocks)
                candidate.gain = node.cost - cost
                candidate.reward = self.ctx.reward_of(node.cost, cost, self.ctx.reached_at(tardiness), False, 2)
                found.append(candidate)
        return found

    def score(self, node: Node, candidates: list[Candidate]) -> None:
        """Score those of ``candidates`` (steps from ``node``) that have no value yet."""
        self._score(node, [c for c in candidates if not c.scored])

    def score_step(self, node: Node) -> None:
        """Score the step that led into ``node`` when it has no value yet."""
        parent, candidate = node.parent, node.via
        if parent is not None and candidate is not None and not candidate.scored:
            self._score(parent, [candidate])

    def _score(self, node: Node, candidates: list[Candidate]) -> None:
        """Q-values of ``candidates`` of ``node``, in one Prolog call (grouped by focus)."""
        if self.scorer is None or not candidates:
            return
        self._write_facts(node, candidates)
        facts = node.focus_facts
        groups: dict[str, list[Candidate]] = {}
        for candidate in candidates:
            groups.setdefault(candidate.focus.task, []).append(candidate)
        values = iter(self.scorer(self.state_of(node), [(facts[task], [c.facts for c in own])
                                                        for task, own in groups.items()]))
        for own in groups.values():
            for candidate in own:
                candidate.q = float(next(values))
                candidate.scored = True

    def _write_facts(self, node: Node, candidates: list[Candidate]) -> None:
        """The facts of ``candidates`` of ``node`` and of their foci, where not written yet
        (a search that does not read Q-values never writes them)."""
        expansion = self._cache.get(node.key)
        # A node inside a block step is never expanded: its facts are kept on it.
        facts = expansion.facts if expansion is not None else node.focus_facts
        applicable = expansion.applicable if expansion is not None else {}
        node.focus_facts = facts
        plan = node.plan
        for candidate in candidates:
            focus = candidate.focus
            if focus.task not in facts:
                if focus.task not in applicable:
                    applicable[focus.task] = applicable_operators(plan, focus.task,
                                                                  self._operators.get(focus.reason), self.reach)
                facts[focus.task] = focus_facts(plan, focus.task, applicable[focus.task], focus.reason)
            if not candidate.facts:
                candidate.facts = action_facts(plan, candidate.action, candidate.plan, candidate.moved - node.moved,
                                               candidate.reward)

    def _focus_steps(self, node: Node, focus: Focus, applicable_by_focus: dict[str, set[str]]) -> list[Candidate]:
        """The steps of one focus from ``node`` (its ``moves_per_focus`` cheapest); the
        operators that apply to it go into ``applicable_by_focus`` (its facts say which).

        Where no order waits for another (no ``after``), each proposal is priced from the
        tardiness of the sequences it changes (:meth:`_priced`), and a step is re-timed
        into a plan only when the search reads it (:attr:`Candidate.plan`). With
        ``after`` that price is an estimate: the :attr:`timed_per_focus` cheapest are
        re-timed, and kept at their exact figures.
        """
        plan = node.plan
        weighted = self.ctx.goal.moved_weight > 0
        estimated = self.timed_per_focus is not None and self.moves_per_focus is not None
        priced = (self.priced or estimated) and self.moves_per_focus is not None
        # action, changes, plan (when re-timed), moved, tardiness, block (for a block step)
        found: list[_Step] = []
        applicable: set[str] = set()
        counts: dict[str, int] = {}  # moved orders per resource of the plan expanded
        for action, changes in proposals(plan, focus.task, self._operators.get(focus.reason), self.reach):
            after: Plan | None = None
            if priced:
                tardiness = self._priced(plan, changes)
            else:
                after = timed_or_none(plan, changes)
                if after is None:
                    continue
                tardiness = after.total_tardiness
            applicable.add(action.operator)
            moved = node.moved + self._moved_delta(plan, counts, changes) if weighted else node.moved
            found.append((action, changes, after, moved, tardiness, None))
        if self.longest_block > 1:
            # Every place for a run, whatever the focus reason's operators: what a run is
            # worth lies in where all of it goes, not in its first member's operator.
            # (No ``after`` here: no step can close a cycle.)
            for run, action, changes in block_proposals(plan, focus.task, self.longest_block):
                after = None if priced else timed(plan, changes)
                tardiness = self._priced(plan, changes) if after is None else after.total_tardiness
                applicable.add(action.operator)  # the block's first step, taken first
                moved = node.moved + self._moved_delta(plan, counts, changes) if weighted else node.moved
                found.append((action, changes, after, moved, tardiness, run))
        if estimated:
            found = self._timed_cheapest(plan, found)
        if self.moves_per_focus is not None:
            found = self._cheapest(found, self.moves_per_focus)
        own = []
        for action, changes, after, moved, tardiness, block in found:
            if not weighted:  # the cost does not depend on it: counted for the steps kept only
                moved = node.moved + self._moved_delta(plan, counts, changes)
            own.append(Candidate(focus, action, plan, changes, moved, self.ctx.cost_of(tardiness, moved), tardiness,
                                 [], timed_plan=after, block=block))
        for candidate in own:
            candidate.gain = node.cost - candidate.cost
            candidate.reward = self.ctx.reward_of(node.cost, candidate.cost, self.ctx.reached_at(candidate.tardiness),
                                                  False, candidate.length)
        applicable_by_focus[focus.task] = applicable
        return own

    def _cheapest(self, found: list[_Step], count: int) -> list[_Step]:
        """The ``count`` steps of ``found`` of least goal cost, in their order."""
        if len(found) <= count:
            return found
        return [found[i] for i in sorted(self._by_cost(found)[:count])]

    def _by_cost(self, found: list[_Step]) -> list[int]:
        """The indices of ``found``, cheapest first (at equal cost, in their order)."""
        # costs rounded: a priced cost and a re-timed one may differ in the last bits
        cost = self.ctx.cost_of
        return sorted(range(len(found)), key=lambda i: (round(cost(found[i][4], found[i][3]), 9), i))

    def _timed_cheapest(self, plan: Plan, found: list[_Step]) -> list[_Step]:
        """The :attr:`timed_per_focus` steps of ``found`` cheapest by their estimate that
        re-time (a step that closes a cycle, which no estimate sees, gives its turn to the
        next), in their order, at their exact figures."""
        assert self.timed_per_focus is not None
        timed: dict[int, _Step] = {}
        for i in self._by_cost(found):
            action, changes, _, moved, _, block = found[i]
            after = timed_or_none(plan, changes)
            if after is not None:
                timed[i] = (action, changes, after, moved, after.total_tardiness, block)
                if len(timed) == self.timed_per_focus:
                    break
        return [timed[i] for i in sorted(timed)]

    def _priced(self, plan: Plan, changes: Changes) -> float:
        """Total tardiness of ``plan`` with ``changes``, from each changed sequence's own
        tardiness (memoised: a sequence comes back at many nodes of a search). A new
        sequence is timed from its first difference with ``plan``'s, whose times hold
        before it. With ``after``, an estimate: the sequences are timed on the plan's
        released problem (memoised for this plan only, its releases being its own)."""
        old = plan.schedule.sequences
        tardiness = plan.total_tardiness
        held = self._prefixes.get(id(plan))
        if held is None or held.plan is not plan:
            if len(self._prefixes) >= PRICED_PLANS:  # (the oldest first: the search has moved on)
                del self._prefixes[next(iter(self._prefixes))]
            held = self._prefixes[id(plan)] = _PricedFrom(plan, self._sequence_tardiness)
        problem, memo, prefixes = held.problem, held.memo, held.prefixes
        for resource, seq in changes.items():
            found = prefixes.get(resource)
            late, ends = found if found is not None else self._prefix(plan, resource, prefixes)
            new = memo.get((resource, seq))
            if new is None:
                # (the first difference lies past the started orders, which head the sequence)
                first = first_difference(old.get(resource, ()), seq)
                if first:
                    new = late[first - 1] + tail_tardiness(problem, resource, seq, first, ends[first - 1])
                else:
                    new = tail_tardiness(problem, resource, seq)
                memo[resource, seq] = new
            tardiness += new - (late[-1] if late else 0.0)
        return tardiness

    @staticmethod
    def _prefix(plan: Plan, resource: str, prefixes: dict[str, tuple[list[float], list[float]]]
                ) -> tuple[list[float], list[float]]:
        """Running total tardiness and end of the orders along ``resource`` in ``plan``
        (the last running total is the sequence's own tardiness), kept in ``prefixes``."""
        found = prefixes[resource] = running_tardiness(plan.problem, plan.schedule.sequence(resource), plan.times.end_of)
        return found

    def child(self, node: Node, candidate: Candidate) -> Node:
        """The node that ``candidate`` leads to from ``node`` (after a block step, the last
        of the nodes of its members' steps, :meth:`path` shows each)."""
        if candidate.block is not None or candidate.exchange is not None:
            return self._chain(node, candidate)
        before, after = node.plan.times, candidate.plan.times
        delayed = tuple(o for o in after.changed if after.end_of(o) > before.end_of(o) + 1e-9)
        return Node(candidate.plan, candidate.moved, candidate.cost, node.depth + 1, node, candidate, delayed)

    def _chain(self, node: Node, candidate: Candidate) -> Node:
        """The nodes of a block or exchange step's single steps, one per order moved; the
        last one holds the plan the candidate was priced for."""
        if candidate.exchange is not None:
            chain, later = exchange_chain(node.plan, candidate.exchange), EXCHANGE
        else:
            assert candidate.block is not None
            chain, later = block_chain(node.plan, candidate.block), BLOCK
        if chain[-1][2].schedule != candidate.schedule:
            raise AssertionError(f"the steps of {candidate.block or candidate.exchange} do not lead to its plan")
        if candidate.timed_plan is None:  # the chain has timed it already
            candidate.timed_plan = chain[-1][2]
        foci = [candidate.focus] + [Focus(action.focal, later) for action, _, _ in chain[1:]]
        return self._follow(node, chain, foci, candidate)

    def _follow(self, node: Node, chain: list[tuple[Action, Changes, Plan]], foci: list[Focus],
                candidate: Candidate | None = None) -> Node:
        """The nodes of ``chain``'s single steps from ``node``, each with its focus; the
        last one keeps ``candidate``'s plan and figures when it is given (what the search
        read)."""
        ctx = self.ctx
        for k, ((action, changes, plan), focus) in enumerate(zip(chain, foci, strict=True)):
            if candidate is not None and k == len(chain) - 1:  # the same sequences
                plan, moved, cost = candidate.plan, candidate.moved, candidate.cost
            else:
                moved = ctx.moved(plan)
                cost = ctx.cost_of(plan.total_tardiness, moved)
            step = Candidate(focus, action, node.plan, changes, moved, cost, plan.total_tardiness, [],
                             gain=node.cost - cost, timed_plan=plan)
            step.reward = ctx.reward_of(node.cost, cost, ctx.reached_at(plan.total_tardiness), False)
            node = self.child(node, step)
        return node

    def recreate(self, root: Node, node: Node, walk: RuinAndRecreate, *, room: int, rng: random.Random,
                 done: Callable[[], bool], progress: Callable[[], float], walkers: int | None = None,
                 tries: int | None = None, again: int = 0) -> Node | None:
        """The best plan a ruin-and-recreate walk from ``node`` finds (:mod:`~rrl.learning.recreate`;
        ``walkers`` walks at once, default the walk's own, each of at most ``tries``
        tries, each walking again as :meth:`RuinAndRecreate.run`'s ``again`` says), as
        single placements from ``root`` (at most ``room``), or None when it finds none better than ``node`` (or, with ``after``, no way there whose steps all
        time)."""
        target = walk.run(node.plan, root.plan, self.ctx, lambda seq, r: self.moved_on(tuple(seq), r), room=room,
                          rng=rng, done=done, progress=progress, walkers=walkers, tries=tries, again=again)
        if target is None:
            return None
        try:
            chain = placement_chain(root.plan, target)
        except NotApplicable:
            if not root.plan.problem.dependents:
                raise  # (a bug: without ``after`` every plan of the same orders has a way)
            return None  # no way there whose every step times (each one closed a cycle)
        if not chain or len(chain) > room:
            return None
        return self._follow(root, chain, [Focus(action.focal, RECREATE) for action, _, _ in chain])

    def example_facts(self, node: Node, candidate: Candidate) -> list[str]:
        """The facts of (state, action) for the learner and for explanations."""
        return self.state_of(node) + self.action_facts(node, candidate)

    def action_facts(self, node: Node, candidate: Candidate) -> list[str]:
        """The facts of ``candidate``'s focus and action, as seen from ``node``."""
        self._write_facts(node, [candidate])
        return node.focus_facts.get(candidate.focus.task, []) + candidate.facts

    def _moved_delta(self, plan: Plan, counts: dict[str, int], changes: Changes) -> int:
        """Change in orders moved from the plan before the disruption (DESIGN section 3:
        resource or immediate predecessor differs) by ``changes`` (the new sequences of
        the resources they change); ``counts`` holds ``plan``'s count per resource, filled
        as needed."""
        old = plan.schedule.sequences
        delta = 0
        for r, seq in changes.items():
            if r not in counts:
                counts[r] = self.moved_on(old.get(r, ()), r)
            delta += self.moved_on(seq, r) - counts[r]
        return delta

    def moved_on(self, sequence: tuple[str, ...], resource: str) -> int:
        """The orders of ``sequence`` (``resource``'s) moved from the plan before the
        disruption (remembered: a search meets the same sequences again and again)."""
        key = (resource, sequence)
        count = self._moved.get(key)
        if count is None:
            count = self._moved[key] = _moved_on(sequence, resource, self._reference)
        return count


def _moved_on(sequence: Sequence[str], resource: str, reference: Any) -> int:
    count = 0
    ref_where = reference.where
    ref_seq = reference.sequence(resource)
    for k, order in enumerate(sequence):
        place = ref_where.get(order)
        if place is None:
            continue  # a new order: not counted (DESIGN section 3: orders present in both)
        if place[0] != resource:
            count += 1
            continue
        before = sequence[k - 1] if k else None
        if (ref_seq[place[1] - 1] if place[1] else None) != before:
            count += 1
    return count


@dataclass
class _Expansion:
    """How far a node's foci have been examined, and the candidates found so far."""

    foci: list[Focus]
    complete: bool = True  # False while only the event's own foci are listed
    next: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    facts: dict[str, list[str]] = field(default_factory=dict)
    applicable: dict[str, set[str]] = field(default_factory=dict)
    state: list[str] | None = None
    orders_facts: dict[str, list[str]] | None = None


# ---------------------------------------------------------------------- searches


#: The descent's share of a search's budget where the walk follows it. The walk improves
#: more per millisecond than a first-improvement descent near its local optimum (which
#: looks at every focus, then at exchange steps, before it stops), but less than the
#: descent's first steps: given the whole of a 40 ms budget, the descent often used it all
#: and the walk never ran. Measured on the extruders' new and rush orders (docs/benchmarks.md).
DESCENT_SHARE = 0.2

#: Most unstarted orders for which a descent's share applies (:data:`DESCENT_SHARE`, or
#: :data:`LINKED_DESCENT_SHARE` where orders wait for others). A try of the walk costs
#: about the square of a line's length (each order put back is priced at every place, each
#: place to the line's end), and the descent's steps go to the tardy orders: on the
#: extruders' rush orders the share gave 20-30 % less tardiness at 20 and 30 orders, 20-30 %
#: more at 40 and 50 (docs/benchmarks.md). Above it the descent keeps the whole budget
#: until it converges, chains or not.
SHARED_UP_TO = 35

#: The descent's share of the budget where orders wait for others (at most
#: :data:`SHARED_UP_TO` unstarted orders, a walk following, not under a ``node_limit``).
#: There the walk times each try in full, and the descent's exactly priced steps are
#: worth more than its tries: the descent keeps the budget until it converges, but not
#: past this share. On a slower machine, or at a smaller budget, the descent of some
#: cases did not converge within the budget and the walk never ran (on the generated
#: plant's breakdowns a case ended at 46.7 h instead of 23-25 h); shares of 0.4-0.8 were
#: level at the 40 ms default, and at 15 ms 0.6 gave 5-7 % less tardiness than the whole
#: budget (docs/benchmarks.md, "The descent's share on small plans with chains").
LINKED_DESCENT_SHARE = 0.6


#: Consult's search budget (ms) up to 20 orders when none is given. The budget is wall
#: time, so quality follows the machine's speed: 36 ms met the 1.05 x CP-SAT target on one
#: machine but gave 1.058 x on the generated plant's rush orders on one running a quarter
#: slower, where 40 ms gives 1.045. Explaining the steps and checking the result take 4-5
#: ms more, so 40 ms answers in about 45 ms (median), inside the 50 ms target at 10-20
#: orders; 44 ms would leave no margin (docs/benchmarks.md, "A budget for slower machines").
DEFAULT_BUDGET_MS = 40.0


def default_budget_ms(orders: int) -> float:
    """Consult's search budget when none is given: :data:`DEFAULT_BUDGET_MS` up to 20
    orders, 1.5 ms more per further order, at most 700 ms (the latency targets: 50 ms
    median at 10-20 orders, 1 s at 500 orders, with time left for explaining the steps and
    checking the result: 4-5 ms after the search at 10-20 orders)."""
    return min(700.0, DEFAULT_BUDGET_MS + 1.5 * max(0, orders - 20))


def focus_rule(background: str | Path, reason: str) -> str:
    """The text of the background's ``focus_candidate(Reason, ...)`` clause(s) for
    ``reason``, with the comments written beside them ("" when there is none)."""
    try:
        text = Path(background).read_text(encoding="utf-8")
    except OSError:
        return ""
    head = re.compile(r"^focus_candidate\(\s*" + re.escape(reason) + r"\s*,", re.M)
    clauses = []
    for match in head.finditer(text):
        end = re.compile(r"\.\s*(%[^\n]*)?$", re.M).search(text, match.end())
        clauses.append(text[match.start(): end.end() if end else len(text)].rstrip())
    return "\n".join(clauses)


@dataclass
class SearchOutcome:
    """The best node found, and how much searching it took."""

    best: Node
    expansions: int
    seconds: float
    widths: list[int]


def ranked(candidates: Sequence[Candidate], ties: str = "cost") -> list[Candidate]:
    """The policy's order of candidate steps: the steps that lower the goal's cost first,
    each group by Q-value (largest first), equal values by cost (``ties="cost"``) or in
    the order found (``"first"``). The policy thus improves while it can, choosing how by
    its Q-values, and where nothing improves it moves where its Q-values see most to gain."""
    def key(i: int) -> tuple[bool, float, float, int]:
        c = candidates[i]
        return (c.gain <= 1e-9, -round(c.q, 9), c.cost if ties == "cost" else 0.0, i)
    return [candidates[i] for i in sorted(range(len(candidates)), key=key)]


@timed_work
def beam_search(hood: Neighbourhood, *, budget_s: float, max_depth: int, max_width: int = 64,
                node_limit: int | None = None, rank: Callable[[Sequence[Candidate]], list[Candidate]] = ranked,
                descent_first: bool = False, first_improvement: bool = False,
                clock: Callable[[], float] = time.perf_counter, stop: Callable[[], bool] | None = None,
                recreate: RuinAndRecreate | None = None, seed: int = 0,
                descent_share: float = DESCENT_SHARE) -> SearchOutcome:
    """Anytime beam search guided by the policy, with iterative widening.

    The first pass (width 1) is the greedy policy: the largest Q-value, looking at the
    foci in the background's order until one offers a step that lowers the cost (first
    improvement: many small steps in little time). With ``descent_first``
    (:class:`~rrl.learning.RepairAgent`'s ``first_pass`` other than ``policy``) it is a
    steepest descent instead: every focus examined, the step of largest gain taken (the
    simulator's exact look one step ahead), an exchange step where no single step
    improves; with ``first_improvement`` too (consult's default) the descent takes the
    cheapest step of the foci examined until one improves. Widths 2, 4, ... follow until
    the budget is spent: at each level the beam keeps the ``width`` best children of
    the nodes in it in the policy's order (``rank``, by Q-value), always including the
    child of lowest cost at that level (over every focus), and never a plan the pass
    has kept before: the wider passes explore where the Q-values point. A level is one step, or one block
    step (a step per member), so ``max_depth`` counts operator steps. The best plan seen
    anywhere is kept. Expansions are cached, so a wider pass re-uses the narrower ones.
    With ``recreate`` (consult's default), the descent stops at ``descent_share`` of the
    budget, converged or not (above :data:`SHARED_UP_TO` unstarted orders: when it
    converges; up to it, on plants with ``after``: when it converges or at
    :data:`LINKED_DESCENT_SHARE` of the budget), and the budget left goes to a ruin-and-recreate
    walk from its best plan (:mod:`~rrl.learning.recreate`; at most :data:`WALK_STEPS`
    placements from the disrupted plan): it moves several orders at once, where the
    beam's steps move one or two. The wider passes get whatever budget the walk leaves;
    on plants with ``after`` (where a walk ends once it stops finding better plans) of
    at most :data:`SHARED_UP_TO` unstarted orders, and not under a ``node_limit``, the
    walk starts again from the best plan, in each walker, until the budget is spent or
    :data:`WALKS_WITHOUT_GAIN` walks in a row found nothing (``again`` of
    :meth:`RuinAndRecreate.run`). The steps of
    the path returned may have no Q-value yet (a descent reads none):
    :meth:`Neighbourhood.score_step` gives it.

    Parameters
    ----------
    budget_s : float
        Wall-time budget (seconds); the pass in progress stops when it is spent, and the
        search ends at once when it finds a plan of cost 0 (none can cost less; one a
        forked walker finds ends it when this process's walk ends).
    max_depth : int
        Longest repair (steps).
    node_limit : int, optional
        Stop after this many expansions (a budget that does not depend on the machine's
        speed: with it the search is fully deterministic).
    rank : callable
        Orders candidates best first (default :func:`ranked`).
    descent_first : bool
        Make the first pass a steepest descent rather than the greedy policy.
    first_improvement : bool
        With ``descent_first``: at each node, look at the foci in the background's order
        only until one offers a step that lowers the cost, and take the cheapest step
        found by then (the rest are examined where none improves). Cheaper steps than the
        steepest descent's, leaving more of a short budget to the walk.
    stop : callable, optional
        Asked with the clock: True ends the search as a spent budget does (a caller
        whose budget shrinks while it waits, e.g. a service whose queue grows).
    recreate : RuinAndRecreate, optional
        The walk that follows a descent first pass (``descent_first``); with a
        ``node_limit`` it takes :data:`RECREATE_PER_NODE` tries per node allowed.
    seed : int
        Seeds the walk's choices.
    descent_share : float
        Where a walk follows: the share of ``budget_s`` the descent may take; the walk
        starts from the descent's best plan when it is spent, converged or not
        (:data:`DESCENT_SHARE`; between 0 and 1). It does not apply on a plant with
        ``after``: there the descent stops where it converges or at
        :data:`LINKED_DESCENT_SHARE`. Without a walk, under a ``node_limit`` or above
        :data:`SHARED_UP_TO` unstarted orders, the descent has the whole budget (the walk
        what it leaves). The root's first focus is examined whatever the share (unless
        the disrupted plan already costs nothing).

    Returns
    -------
    SearchOutcome
        The best node by goal cost (the root when nothing improved on it).
    """
    started = clock()
    root = hood.root()
    best = root
    widths: list[int] = []

    def out_of_time() -> bool:
        # (a goal's cost is never below 0: a plan at 0 cannot be beaten, so the rest of
        # the budget would be spent for nothing)
        return best.cost <= 1e-9 or clock() - started >= budget_s or (stop is not None and stop())

    def out_of_budget() -> bool:
        return out_of_time() or (node_limit is not None and hood.expansions >= node_limit)

    problem = hood.hit.plan.problem
    share = LINKED_DESCENT_SHARE if problem.dependents else descent_share

    def descent_time() -> bool:
        return clock() - started >= budget_s * share or out_of_time()

    walking = descent_first and recreate is not None
    # (under a node limit the walk's tries are counted, not timed: the descent's share stays
    # whole; so where it applies, the budget is the clock alone. Above SHARED_UP_TO orders
    # the descent keeps the budget until it converges: there its steps gain more than the
    # walk's tries.)
    unstarted = len(problem.orders) - len(problem.frozen)
    shared = walking and node_limit is None and unstarted <= SHARED_UP_TO
    width = 1
    while width <= max_width:
        widths.append(width)
        descent = descent_first and width == 1
        # the pass's clock: the descent's share of the budget where the walk follows it
        pass_time, pass_over = (descent_time, descent_time) if descent and shared else (out_of_time, out_of_budget)
        beam = [root]
        seen = {root.plan.schedule}
        complete = True
        for _ in range(max_depth):
            children: list[tuple[Node, Candidate]] = []
            for node in beam:
                # (the root's first expansion, the event's own task, is made even when the
                # descent's share of a tiny budget is spent before it)
                if out_of_budget() if node is root else pass_over():
                    complete = False
                    break
                if node.depth >= max_depth:
                    continue  # at the step limit (a block step may have brought it there)
                # Foci are examined until the time is up (the expansion can resume later).
                room = max_depth - node.depth  # a block step takes a step per member
                lazy = width == 1 and (not descent_first or first_improvement)
                found = hood.expand(node, lazy=lazy, until=pass_time,
                                    room=room if descent_first and first_improvement else None)
                # A descent lowers the cost at every step, so it cannot meet a plan twice
                # (and need not build every candidate's schedule to check).
                children += [(node, c) for c in found if c.length <= room and (descent or c.schedule not in seen)]
            if not children:
                break
            parent, cheapest = min(children, key=lambda pc: pc[1].cost)
            if cheapest.cost < best.cost - 1e-9:  # anytime: every plan evaluated counts
                best = hood.child(parent, cheapest)
            if not complete or pass_time():
                break  # the best child is kept; choosing a beam would only spend time
            if descent:
                if cheapest.gain <= 1e-9:
                    # No single step improves: an exchange of two orders may still.
                    escape = _best_exchange(hood, parent, max_depth, pass_time)
                    if escape is None:
                        break  # a local optimum: the wider passes go on from here
                    cheapest = escape
                picked = [(parent, cheapest)]
            else:
                # The policy's order puts improving steps first: the others need values
                # only when fewer of those (distinct plans) than the width were found.
                improving = [(n, c) for n, c in children if c.gain > 1e-9]
                enough = len({c.schedule for _, c in improving}) >= width
                needed: dict[int, tuple[Node, list[Candidate]]] = {}
                for node, candidate in improving if enough else children:
                    if not candidate.scored:
                        needed.setdefault(id(node), (node, []))[1].append(candidate)
                for node, candidates in needed.values():
                    hood.score(node, candidates)
                picked = _pick(children, width, rank)
            beam = []
            for parent, candidate in picked:
                seen.add(candidate.schedule)
                child = hood.child(parent, candidate)
                beam.append(child)
                if child.cost < best.cost - 1e-9:
                    best = child
        if out_of_budget() or (not complete and not (descent and walking)):
            break
        if descent and walking:
            assert recreate is not None
            left = budget_s - (clock() - started)
            # Where orders wait for others a walk ends once it stops finding better plans;
            # on small plans the wider passes rarely find more, and another walk from the
            # best plan does (docs/benchmarks.md, "Walks again where orders wait for
            # others"): each walker walks again until the budget is spent, or until
            # WALKS_WITHOUT_GAIN walks in a row found nothing (a large budget, or a step
            # limit that leaves the walks no room, then goes to the wider passes).
            small = bool(problem.dependents) and node_limit is None and 2 <= unstarted <= SHARED_UP_TO
            again = WALKS_WITHOUT_GAIN if small else 0
            walked = _recreate(hood, root, best, recreate, min(max_depth, WALK_STEPS), seed, node_limit, left,
                               out_of_time, clock, again)
            if walked is not None and walked.cost < best.cost - 1e-9:
                best = walked
            # (a walk that ended early with nothing left to move (or, with chains, out of
            # patience, above SHARED_UP_TO unstarted orders or after the fruitless walks)
            # leaves the rest of the budget to the wider passes; one that reached a plan
            # costing nothing has ended the search)
        width *= 2
    return SearchOutcome(best, hood.expansions, clock() - started, widths)


#: Walks in a row that found no better plan after which a search on a small plant with
#: ``after`` stops walking again (:func:`beam_search`): at the default budget there is
#: time for one or two more walks, at 250 ms for about a dozen.
WALKS_WITHOUT_GAIN = 8

#: Tries of the ruin-and-recreate walk per node expansion a ``node_limit`` allows.
RECREATE_PER_NODE = 10

#: The least time (seconds) left to a walk for it to run in more than one process.
FORK_FROM_S = 0.01

#: The largest share of the time left to a walk that its forks may take for it to run in
#: more than one process (:func:`rrl._fork.fork_seconds`: the fork's wait grows with the
#: process's memory). Both walks lose the wait: on the extruders' new and rush orders two
#: walks whose fork took 43-50 % of the walk's time were level with one, and with a fork
#: of 25 ms (a GiB of Python objects held beside the library) 4.74 h against 3.67 h for
#: one (docs/benchmarks.md, "What a fork costs").
FORK_SHARE = 0.4

#: Most placements a walk's plan may take: each becomes a step whose state is built and
#: explained after the search, out of its budget.
WALK_STEPS = 20


def _recreate(hood: Neighbourhood, root: Node, best: Node, walk: RuinAndRecreate, max_depth: int, seed: int,
              node_limit: int | None, left: float, out_of_time: Callable[[], bool],
              clock: Callable[[], float], again: int = 0) -> Node | None:
    """Run ``walk`` from ``best`` for the ``left`` seconds of the budget (or, under a node
    limit, for its share of tries; walking again as :meth:`RuinAndRecreate.run`'s
    ``again`` says); the node it leads to from ``root``, if any."""
    begun = clock()

    def progress() -> float:
        return min(1.0, (clock() - begun) / max(left, 1e-9))

    # (a second walk starts a few ms after the fork, later in a larger process: not worth
    # it in a walk of a few ms, nor where the forks would take a good share of the time;
    # a walk that would not fork asks nothing)
    walkers = walk.walkers if node_limit is not None or worth_forking(left, walk.forks(best.plan, again)) else 1
    walked = hood.recreate(root, best, walk, room=max_depth, rng=random.Random(seed), done=out_of_time,
                           progress=progress, walkers=walkers,
                           tries=RECREATE_PER_NODE * node_limit if node_limit is not None else None, again=again)
    retime_if_due()  # (after the walk, which has spent the clock or ended early)
    return walked


def worth_forking(left: float, forks: int = 1) -> bool:
    """Whether a walk with ``left`` seconds to go should run ``forks`` more walks in forked
    processes: at least :data:`FORK_FROM_S` left, of which the forks would take at most
    :data:`FORK_SHARE` (:func:`rrl._fork.affordable`: a process's first fork is made,
    and timed)."""
    return forks > 0 and left >= FORK_FROM_S and affordable(FORK_SHARE * left, forks)


def _pick(children: list[tuple[Node, Candidate]], width: int,
          rank: Callable[[Sequence[Candidate]], list[Candidate]]) -> list[tuple[Node, Candidate]]:
    """The beam's next members: the best child by Q-value, the lowest-cost child, then
    the next best by Q-value, all with distinct plans."""
    order = rank([c for _, c in children])
    position = {id(c): k for k, c in enumerate(order)}
    by_rank = sorted(children, key=lambda pc: position[id(pc[1])])
    cheapest = min(children, key=lambda pc: pc[1].cost)
    picked = [by_rank[0]]
    if width > 1 and cheapest[1].schedule != by_rank[0][1].schedule:
        picked.append(cheapest)
    taken = {id(p[1]) for p in picked}
    schedules = {p[1].schedule for p in picked}
    for pair in by_rank:
        if len(picked) >= width:
            break
        if id(pair[1]) in taken or pair[1].schedule in schedules:
            continue
        picked.append(pair)
        schedules.add(pair[1].schedule)
    return picked


@timed_work
def steepest_descent(hood: Neighbourhood, *, budget_s: float, max_depth: int | None = None,
                     clock: Callable[[], float] = time.perf_counter) -> SearchOutcome:
    """Plain steepest descent over the same steps: the lowest-cost candidate while it
    improves, else the best exchange step that does (:meth:`Neighbourhood.exchange_steps`),
    until a local optimum, ``max_depth`` steps or the budget. It keeps to the
    budget as :func:`beam_search` does: foci are examined until the time is up, and the
    best step among those examined is still taken when it improves."""
    started = clock()

    def out_of_time() -> bool:
        return clock() - started >= budget_s

    node = hood.root()
    while max_depth is None or node.depth < max_depth:
        if out_of_time():
            break
        candidates = hood.expand(node, until=out_of_time)
        if max_depth is not None:  # a block step takes a step per member
            candidates = [c for c in candidates if node.depth + c.length <= max_depth]
        if not candidates:
            break
        costs = np.array([c.cost for c in candidates])
        index = int(np.argmin(costs))
        step = candidates[index] if costs[index] < node.cost - 1e-9 else \
            _best_exchange(hood, node, max_depth, out_of_time)  # no single step improves: an exchange may
        if step is None:
            break
        node = hood.child(node, step)
    return SearchOutcome(node, hood.expansions, clock() - started, [1])


def _best_exchange(hood: Neighbourhood, node: Node, max_depth: int | None,
                   out_of_time: Callable[[], bool]) -> Candidate | None:
    """The exchange step of ``node`` that lowers the goal's cost most, if any does and
    its two steps fit under ``max_depth``."""
    if out_of_time() or (max_depth is not None and node.depth + 2 > max_depth):
        return None
    found = [c for c in hood.exchange_steps(node, until=out_of_time) if c.cost < node.cost - 1e-9]
    return min(found, key=lambda c: c.cost) if found else None
