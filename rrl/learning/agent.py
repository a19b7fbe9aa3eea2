"""RepairAgent: relational Q-learning of schedule-repair policies (the paper's Algorithm 1)
and their use in real time (consult mode), in the style of Stable-Baselines3.

Training: per episode a case is drawn (orders, initial plan, disruption); operators are
chosen epsilon-greedily from the current Q-tree over every applicable ground action of
the focal task(s); at the end of the episode the examples (state, action,
Q = r + gamma max Q(next)) are built backwards and handed to TG (or, for the
propositional baseline, to scikit-learn). Consult: a search within a time budget (a
descent, a ruin-and-recreate walk, wider passes in the policy's order:
:func:`~rrl.learning.search.beam_search`) repairs step by step, never returns a plan
worse on the goal's measure than the disrupted one, and explains each step by the
Prolog rule (abstract state) that gave the action its value.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rrl._collector import timed_work
from rrl._fork import default_workers
from rrl._paths import data_dir
from rrl.bounds import MAX_BUDGET_MS, MAX_WALKERS
from rrl.domain.plan import Plan
from rrl.domain.plant import Plant
from rrl.domain.scenario import scenario_from_dict
from rrl.errors import PolicyError, RRLError
from rrl.events import Disruption, draw_event
from rrl.learning.cases import Builder, draw_case, rule_builder
from rrl.learning.goals import RepairContext, get_goal
from rrl.learning.policy_io import FORMAT, LEARNER_STATE, read_policy, rule_blocks, write_policy
from rrl.learning.qfunction import PrologQFunction
from rrl.learning.recreate import RuinAndRecreate
from rrl.learning.search import (
    CHAIN_RULES,
    Candidate,
    Focus,
    Neighbourhood,
    Node,
    Scorer,
    beam_search,
    default_budget_ms,
    focus_rule,
    prolog_scorer,
    ranked,
)
from rrl.operators.repair import Action
from rrl.relational.facts import predicate_of
from rrl.relational.kb import Example
from rrl.relational.terms import quote_atom

LEARNERS = ("tg", "propositional")
TIE_BREAKS = ("cost", "first")
#: Consult's first pass: a first-improvement descent, a steepest descent, or the greedy policy.
FIRST_PASSES = ("first_improvement", "descent", "policy")

#: Default ``max_steps``: the longest episode and repair. Fifteen rather than ten lets the
#: walk reach plans that move a few more orders: 2-4 % less tardiness on the extruders'
#: new and rush orders at the default budget, 1.6 % at 500 orders, level on the generated
#: plant, with mean steps still under 7 at 10-20 orders (docs/benchmarks.md).
DEFAULT_MAX_STEPS = 15

#: Default ``longest_block`` of the goals that count moved orders (stability, balancing).
BLOCK_FOR_MOVED_ORDERS = 3

#: Seeds the validation cases of :meth:`RepairAgent.learn`'s learning curve (the cases a
#: policy of training seed 0 was validated on before they stopped following the seed).
VALIDATION_SEED = 7_919


#: The most steps a repair of a plan larger than the policy's training books takes by
#: default (:meth:`RepairAgent.steps_for`): at 50 orders the 15 steps of a policy
#: trained on 10-20 left 70 % more tardiness than 25-30 steps did in the same time; with
#: the wider focus the repairs of 500 orders on 152 machines took all of 30 on two plants
#: of four, and 45 left 6 % less tardiness (level at 50 orders: docs/benchmarks.md,
#: "Longer repairs of larger plans", "A wider focus on larger plans").
LONG_REPAIR_STEPS = 45

#: The most focus candidates per reason a repair of a plan larger than the policy's
#: training books looks at (:meth:`RepairAgent.focus_width_for`): at 500 orders on 152
#: machines the tardy orders stand on many resources, and the two per reason of a policy
#: trained on 10-20 orders left the descent at a local optimum that 16 went well past
#: (docs/benchmarks.md, "A wider focus on larger plans").
WIDE_FOCUS = 16

#: Most unstarted orders of a plan whose walk, block and exchange steps
#: :meth:`RepairAgent.repair` names the focus rules of (``name_foci``): each named step
#: sends its state to Prolog (a difference from the last where that is smaller) and asks
#: the focus rules for its order, about 0.2 ms at 20 orders and more as the state and the
#: rules' candidates grow, and a walk may write up to :data:`~rrl.learning.search.WALK_STEPS`
#: steps.
NAMED_UP_TO = 100


def _check_first_pass(first_pass: str) -> None:
    if first_pass not in FIRST_PASSES:
        raise RRLError(f"unknown first_pass '{first_pass}' (expected one of {', '.join(FIRST_PASSES)})")


def _check_walkers(walkers: int | None) -> None:
    if walkers is not None and (type(walkers) is not int or not 1 <= walkers <= MAX_WALKERS):
        raise RRLError(f"walkers must be a whole number from 1 to {MAX_WALKERS} (got {walkers!r})")


@dataclass
class RepairStep:
    """One applied operator: the action, the plan it led to, its Q-value and why.

    ``rule`` is the Q-tree's rule (abstract state) that gave the action its value;
    ``focus`` names the focal task and the reason that proposed it, ``focus_rule`` the
    background clause of that reason. A step of a walk, a block or an exchange was not
    proposed by a focus rule of the background; where :meth:`RepairAgent.repair` was asked
    to name its focus (``name_foci``), ``meets`` is the first focus rule (in the
    background's order) that proposes its focal task in the plan before it, and
    ``meets_rule`` that rule's clause (empty where none does).
    """

    action: Action
    plan: Plan
    q_value: float
    rule: str = ""
    focus: Focus | None = None
    focus_rule: str = ""
    meets: str = ""
    meets_rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The step as ``rrl consult --json`` prints it (DESIGN section 7)."""
        return {
            "operator": self.action.operator,
            "focal": self.action.focal,
            "other": self.action.other if self.action.other is not None else self.action.resource,
            "total_tardiness": self.plan.total_tardiness,
        }


@dataclass
class RepairResult:
    """The outcome of one repair.

    ``steps`` lead from ``disrupted`` to ``plan`` (the best plan seen); ``explored`` counts
    every step taken, including any after the best; ``note`` says when the policy's last
    plan was not kept. ``seconds`` is the whole repair's wall time, ``search_seconds``
    the search's part of it (the rest builds the steps and their explanations).
    ``foci_named``: whether the steps of walks, blocks and exchanges were named
    (:attr:`RepairStep.meets`; see :meth:`RepairAgent.repair`'s ``name_foci``).
    """

    event: dict[str, Any]
    goal: str
    before: Plan
    disrupted: Plan
    plan: Plan
    steps: list[RepairStep]
    explored: int
    reached: bool
    note: str
    seconds: float
    cost: float = 0.0
    expansions: int = 0
    search_seconds: float = 0.0
    foci_named: bool = False

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics of the repaired plan."""
        return self.plan.metrics.to_dict()


@dataclass
class EpisodeRecord:
    """Figures of one training episode (the learning curve)."""

    episode: int
    steps: int
    improvement: float
    reward: float
    reached: bool
    leaves: int
    event: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RepairAgent:
    """Learns and applies a repair policy for one plant and goal.

    Parameters
    ----------
    plant : Plant
        The plant that training cases are drawn on (consult works on any plant whose
        states the background knowledge describes).
    goal : str
        ``tardiness``, ``stability`` or ``balancing`` (docs/goals.md).
    events : sequence of str
        Disruptions drawn in training.
    orders : (int, int)
        Range of the number of orders per training case.
    family_steps : int
        Longest family of orders chained by ``after`` in training cases (1: none).
    rule : str
        Dispatching rule of the initial plans (ignored when ``builder`` is given).
    builder : callable, optional
        Builds initial schedules (e.g. a PPO model, see ``rrl.generative``).
    learner : str
        ``tg`` (relational, incremental) or ``propositional`` (scikit-learn baseline).
    gamma : float
        Discount factor.
    epsilon, epsilon_min : float
        Exploration rate at the first and the last episode (linear decay).
    max_steps : int
        Step limit of an episode and of a repair (of a repair of a larger plan than the
        training books, see :meth:`steps_for`).
    min_samples, significance : int, float
        TG: examples a leaf must see before a split, and the F-test level of a split.
    tie_break : str
        How steps with the same Q-value (the same abstract state) are ranked: ``cost``
        takes the one whose plan has the lowest goal cost; ``first`` the first found.
        Steps that lower the goal's cost always come before those that do not.
    focus_width : int
        Focal-task candidates per focus reason at each step (DESIGN section 9).
    moves_per_focus : int, optional
        Actions offered per focus: its ones of lowest goal cost (None: all).
    reach : int, optional
        Swaps and jumps only with tasks at most this many places away (None: any).
    n_step : int
        Rewards summed before bootstrapping on the tree's own estimate (n-step returns).
    budget_ms : float, optional
        Consult's search budget; None: :func:`~rrl.learning.search.default_budget_ms` of
        the plan's size.
    first_pass : str
        Consult's first pass (:func:`~rrl.learning.search.beam_search`):
        ``first_improvement`` (default), a descent that looks at the foci in the
        background's order until one offers a step lowering the cost and takes the
        cheapest step found by then; ``descent``, a steepest descent (each step the
        simulator's best, looking at every focus); the Q-values steer the wider passes
        that follow either. Or ``policy``, the greedy policy (the largest Q-value in the
        first focus that offers an improving step). The first-improvement descent leaves
        more of a short budget to the walk (``recreate``): on the extruder plant's rush
        orders 3.5 % less tardiness on average at the default budget (from 10 % less to
        3 % more), 8-15 % less at 20 ms, within 4 % either way from 100 ms
        (docs/benchmarks.md).
    longest_block : int, optional
        Block steps (:mod:`rrl.operators.blocks`): the focal task may move together with
        the orders right after or right before it, runs of up to this many orders, taken
        as one operator per member (each counts against ``max_steps``; ``reach`` does
        not limit where a run goes). None chooses by goal: :data:`BLOCK_FOR_MOVED_ORDERS`
        where moved orders count (stability, balancing: a run moves at the price of about
        one moved order), 1 (single steps) for tardiness, where blocks that may change
        resource ended a converged descent 1 % worse, in more time (docs/benchmarks.md).
        Plants with ``after`` chains always step singly.
    exchanges : bool
        Where no single step improves, consult's descent pass (any ``first_pass`` but
        ``policy``) and the steepest-descent baseline try exchange steps: the focus takes
        a place on another resource that an order there leaves, and that order goes to
        the least tardy place on another resource, taken as two operators
        (:mod:`rrl.operators.blocks`); training episodes step singly. They take a converged
        descent a good step further on tardiness for a few ms (docs/benchmarks.md).
        Plants with ``after`` chains have none.
    recreate : bool
        Consult's search spends the budget left after its descent pass on a
        ruin-and-recreate walk (:mod:`rrl.learning.recreate`) before any wider beam pass:
        it takes a few orders out and puts them back at their least costly places,
        keeping plans at most the repair's step limit (and 20) placements from the
        disrupted one.
        On plants with ``after`` chains each of its tries is timed in full.
    walkers : int, optional
        Walks run at once (``recreate``; on plants with ``after`` only up to 35 unstarted
        orders, where each walks again until the budget is spent), each on its own random
        stream, the best plan kept: the others in forked processes, so each on a core of its
        own. None: two on Linux with two cores or more, else one
        (:func:`rrl._fork.default_workers`); under a ``node_limit`` always two (run one
        after the other where the system cannot fork), so that the repair is the same on
        every machine. Two walks gain about as much as one with twice the budget:
        about 2 % less tardiness on the extruders' new and rush orders at the default budget
        (docs/benchmarks.md, "Two walks at once"). Under a wall-time budget a walk runs
        alone where its forks would take more than 40 % of its time (a process holding
        GiB of Python objects: :func:`~rrl.learning.search.worth_forking`). A setting of
        the machine, not of the policy: not saved.
    seed : int
        Seed of every random draw (cases, exploration).
    """

    def __init__(
        self,
        plant: Plant,
        goal: str = "tardiness",
        *,
        events: Sequence[str] = ("new_order",),
        orders: tuple[int, int] = (10, 20),
        family_steps: int = 1,
        rule: str = "edd",
        builder: Builder | None = None,
        learner: str = "tg",
        gamma: float = 0.5,
        epsilon: float = 0.3,
        epsilon_min: float = 0.02,
        max_steps: int = DEFAULT_MAX_STEPS,
        min_samples: int = 40,
        significance: float = 0.05,
        tie_break: str = "cost",
        focus_width: int = 2,
        moves_per_focus: int | None = 4,
        reach: int | None = None,
        n_step: int = 3,
        budget_ms: float | None = None,
        first_pass: str = "first_improvement",
        longest_block: int | None = None,
        exchanges: bool = True,
        recreate: bool = True,
        walkers: int | None = None,
        seed: int = 0,
    ) -> None:
        if learner not in LEARNERS:
            raise RRLError(f"unknown learner '{learner}' (expected one of {', '.join(LEARNERS)})")
        if tie_break not in TIE_BREAKS:
            raise RRLError(f"unknown tie_break '{tie_break}' (expected one of {', '.join(TIE_BREAKS)})")
        _check_first_pass(first_pass)
        if longest_block is not None and (type(longest_block) is not int or longest_block < 1):
            raise RRLError(f"longest_block must be a whole number >= 1 (got {longest_block!r})")
        if type(exchanges) is not bool:
            raise RRLError(f"exchanges must be true or false (got {exchanges!r})")
        if type(recreate) is not bool:
            raise RRLError(f"recreate must be true or false (got {recreate!r})")
        _check_walkers(walkers)
        self.plant = plant
        self.goal = get_goal(goal)
        self.events = tuple(events)
        self.orders = orders
        self.family_steps = family_steps
        self.rule = rule
        self.builder = builder
        self.learner = learner
        self.gamma = gamma
        self.epsilon = epsilon
        self.epsilon_min = epsilon_min
        self.max_steps = max_steps
        self.min_samples = min_samples
        self.significance = significance
        self.tie_break = tie_break
        self.focus_width = focus_width
        self.moves_per_focus = moves_per_focus
        self.reach = reach
        self.n_step = n_step
        self.budget_ms = budget_ms
        self.first_pass = first_pass
        self.longest_block = longest_block if longest_block is not None else \
            (BLOCK_FOR_MOVED_ORDERS if self.goal.moved_weight > 0 else 1)
        self.exchanges = exchanges
        self.recreate = recreate
        self.walkers = walkers
        self.seed = seed
        self.settings_path = data_dir("background_knowledge") / "repair.s"
        self.background_path = data_dir("background_knowledge") / "repair.pl"
        self.curve: list[EpisodeRecord] = []
        self.evaluations: list[dict[str, float]] = []
        self.episodes_ = 0
        self.seconds_ = 0.0
        self.evaluation_seconds_ = 0.0  # of seconds_, those spent on the validations of the learning curve
        self._rng = random.Random(seed)
        self._model: Any = None
        self._examples: list[Example] = []
        self._rules = "predict(0.0).\n" + self._q_rule()
        self._q = PrologQFunction([self.background_path], self._rules)
        self._frozen_reason = ""  # why this agent may not learn further (a policy loaded without its learner state)
        self._focus_rules: dict[str, str] = {}

    # ------------------------------------------------------------------ learning

    def learn(self, episodes: int, *, progress: bool = False, eval_every: int = 0, eval_cases: int = 20,
              callback: Callable[[EpisodeRecord], None] | None = None) -> RepairAgent:
        """Train for ``episodes`` more episodes (Algorithm 1).

        Parameters
        ----------
        episodes : int
            Number of episodes.
        progress : bool
            Show a progress bar (episode, mean reward, steps, tree size) on stderr.
        eval_every : int
            Every so many episodes (and before the first, unless the last run ended
            there), repair ``eval_cases`` fixed validation cases as consult does
            (:meth:`repair`, at the agent's budget) and append the means to
            :attr:`evaluations` (their time to ``evaluation_seconds_``, which
            ``seconds_`` includes): the learning curve of the repairs
            the policy gives, free of exploration noise. (On the plants of
            docs/benchmarks.md the curve is level: the search's exact prices choose the
            steps; what moves, the steps per repair by a few tenths, moves with the
            machine's load on the clock.) 0: never.
        callback : callable, optional
            Called with each episode's :class:`EpisodeRecord`.
        """
        if self._frozen_reason:
            raise RRLError(self._frozen_reason)
        if self._model is None:
            self._model = self._new_model()
        from tqdm import tqdm

        started = time.perf_counter()
        total = self.episodes_ + episodes
        bar = tqdm(total=episodes, disable=not progress, unit="ep", leave=False)
        rewards: list[float] = []
        validation: list[Disruption] = []
        if eval_every:
            drawing = time.perf_counter()
            validation = self._validation_cases(eval_cases)
            self.evaluation_seconds_ += time.perf_counter() - drawing
        try:
            for _ in range(episodes):
                if validation and self.episodes_ % eval_every == 0:
                    self._record_evaluation(validation)
                fraction = self.episodes_ / max(1, total - 1)
                epsilon = self.epsilon + (self.epsilon_min - self.epsilon) * fraction
                record = self._episode(epsilon)
                self.curve.append(record)
                self.episodes_ += 1
                rewards.append(record.reward)
                bar.update(1)
                bar.set_postfix(reward=f"{np.mean(rewards[-50:]):.2f}", steps=record.steps, leaves=record.leaves)
                if callback is not None:
                    callback(record)
            if validation:
                self._record_evaluation(validation)
        finally:
            bar.close()
            self.seconds_ += time.perf_counter() - started
        return self

    def _validation_cases(self, count: int) -> list[Disruption]:
        # The same cases whatever the training seed, so that a resumed run reseeded by
        # --seed validates on the cases its curve began with, and policies of other seeds
        # on the same cases (only training seed 7919 would draw them as its first cases).
        rng = random.Random(VALIDATION_SEED)
        return [draw_case(self.plant, rng, orders=self.orders, events=self.events, builder=self._builder(),
                          family_steps=self.family_steps) for _ in range(count)]

    def _record_evaluation(self, cases: Sequence[Disruption]) -> None:
        if self.evaluations and self.evaluations[-1]["episode"] == self.episodes_:
            return  # a resumed policy was validated when its last run ended
        started = time.perf_counter()
        self.evaluations.append(self._evaluate(cases))
        self.evaluation_seconds_ += time.perf_counter() - started

    def _evaluate(self, cases: Sequence[Disruption]) -> dict[str, float]:
        results = [self.repair(hit) for hit in cases]
        return {
            "episode": self.episodes_,
            "steps": float(np.mean([len(r.steps) for r in results])),
            "improvement": float(np.mean([r.disrupted.total_tardiness - r.plan.total_tardiness for r in results])),
            "reached": float(np.mean([r.reached for r in results])),
            "total_tardiness": float(np.mean([r.plan.total_tardiness for r in results])),
        }

    def _new_model(self) -> Any:
        if self.learner == "tg":
            from rrl.relational.tg import TGRegressor

            return TGRegressor(self.settings_path, self.background_path, min_samples=self.min_samples,
                               significance=self.significance)
        from rrl.relational.propositional import PropositionalRegressor

        return PropositionalRegressor(max_depth=8, min_samples_leaf=10)

    def _episode(self, epsilon: float) -> EpisodeRecord:
        """One episode of Algorithm 1 with a moving focus; its examples go to the learner.

        The return of step j is the n-step return: the next ``n_step`` rewards, then the
        discounted best Q-value of the state reached (0 in a goal state). The tree learns
        what follows the step's own reward, ``(return - reward) / gamma``: the reward is
        exact (the simulator's), so the tree's leaves describe what a step leads to.
        """
        rng = self._rng
        case = draw_case(self.plant, rng, orders=self.orders, events=self.events, builder=self._builder(),
                         family_steps=self.family_steps)
        ctx = self.goal.context(case.before, case.plan)
        hood = self.neighbourhood(case, ctx)
        node = hood.root()
        visited = {node.plan.schedule}
        trail: list[tuple[Node, Candidate, float]] = []
        best_q: list[float] = []  # best Q-value in each state of the trail
        while node.depth < self.max_steps:  # operator steps: a block step counts one per member
            if ctx.reached(node.plan):
                break
            room = self.max_steps - node.depth
            options = [c for c in hood.expand(node, lazy=True, room=room)
                       if c.length <= room and c.schedule not in visited]
            if not options:
                break
            best_q.append(max(c.q for c in options))
            choice = rng.choice(options) if rng.random() < epsilon else self._rank(options)[0]
            reached = ctx.reached(choice.plan)
            reward = ctx.reward_of(node.cost, choice.cost, reached, choice.length == room, choice.length)
            trail.append((node, choice, reward))
            node = hood.child(node, choice)
            visited.add(node.plan.schedule)
        reached = ctx.reached(node.plan)
        if trail:
            tail = [c for c in hood.expand(node, lazy=True) if c.schedule not in visited] if not reached else []
            best_q.append(max((c.q for c in tail), default=0.0))
        examples = []
        for j in range(len(trail) - 1, -1, -1):
            horizon = min(j + self.n_step, len(trail))
            target = sum(self.gamma ** (i - j) * trail[i][2] for i in range(j, horizon))
            target += self.gamma ** (horizon - j) * best_q[horizon]
            parent, choice, reward = trail[j]
            examples.append(Example(id=f"e{self.episodes_}_{j}", facts=hood.example_facts(parent, choice),
                                    target=(target - reward) / self.gamma))
        self._update(examples)
        return EpisodeRecord(
            episode=self.episodes_ + 1,
            steps=node.depth,
            improvement=case.plan.total_tardiness - node.plan.total_tardiness,
            reward=float(sum(r for _, _, r in trail)),
            reached=reached,
            leaves=self.n_leaves,
            event=str(case.event.get("type", "")),
        )

    def _update(self, examples: list[Example]) -> None:
        if not examples:
            return
        if self.learner == "tg":
            self._model.partial_fit(examples)
            rules = self._model.to_prolog() + self._q_rule()
            if rules != self._rules:
                self._rules = rules
                self._q.set_rules(rules)
            return
        self._examples.extend(examples)
        if self.episodes_ % 10 == 0 or len(self._examples) < 200:
            self._model.fit(self._examples)

    def _builder(self) -> Builder:
        return self.builder or rule_builder(self.rule)

    def reseed(self, seed: int) -> None:
        """Restart the random stream of training (cases, exploration) from ``seed``."""
        self.seed = seed
        self._rng = random.Random(seed)

    # ------------------------------------------------------------------ deciding

    def _q_rule(self) -> str:
        """The rule that turns the tree's ``predict/1`` (what follows a step) into the
        step's Q-value: its immediate reward plus the discounted prediction."""
        return ("\n% The Q-value of a candidate step: its reward (action_reward/1, from the simulator)\n"
                "% plus the discounted value the tree above predicts for what follows it.\n"
                f"q_value(Q) :- action_reward(R), predict(V), Q is R + {self.gamma!r} * V.\n")

    def _scorer(self) -> Scorer:
        if self.learner == "tg":
            return prolog_scorer(self._q)
        model = self._model
        gamma = self.gamma

        def score(state: list[str], groups: list[tuple[list[str], list[list[str]]]]) -> np.ndarray:
            actions = [focus + action for focus, group in groups for action in group]
            rewards = np.array([_reward_of(facts) for facts in actions])
            if model is None or not hasattr(model, "tree_"):
                return rewards
            predicted = model.predict([Example(id="q", facts=state + facts) for facts in actions])
            return rewards + gamma * np.asarray(predicted, dtype=float)
        return score

    def neighbourhood(self, hit: Disruption, ctx: RepairContext | None = None, *,
                      score_all: bool = True, focus_width: int | None = None) -> Neighbourhood:
        """The candidate steps of repairing ``hit`` as this policy sees and scores them
        (``score_all=False``: scored as a search needs them, see :class:`Neighbourhood`;
        ``focus_width``: instead of the policy's, e.g. :meth:`focus_width_for`)."""
        ctx = ctx or self.goal.context(hit.before, hit.plan)
        width = self.focus_width if focus_width is None else focus_width
        return Neighbourhood(hit, ctx, self._q, scorer=self._scorer(), focus_width=width,
                             moves_per_focus=self.moves_per_focus, reach=self.reach, score_all=score_all,
                             longest_block=self.longest_block, exchanges=self.exchanges)

    def _rank(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Candidates in the policy's order (:func:`~rrl.learning.search.ranked`), ties as
        ``tie_break`` says."""
        return ranked(candidates, self.tie_break)

    # ------------------------------------------------------------------ consult

    def predict(self, disruption: Disruption, plan: Plan | None = None) -> tuple[Action, float] | None:
        """The greedy first step of a repair of ``disruption`` and its Q-value (when the
        policy's choice is a block step: its first operator, valued as the whole block),
        among the foci of the policy's own ``focus_width`` (as in training; a repair of a
        larger plan looks wider: :meth:`focus_width_for`).

        Returns None when no operator applies to the disruption's focal tasks.
        """
        if plan is not None:
            disruption = Disruption(disruption.event, disruption.before, plan, disruption.focal)
        ctx = self.goal.context(disruption.before, disruption.plan)
        hood = self.neighbourhood(disruption, ctx)
        options = hood.expand(hood.root())
        if not options:
            return None
        choice = self._rank(options)[0]
        return choice.action, choice.q

    @timed_work
    def repair(self, plan: Plan | Disruption, event: str | None = None, *, seed: int = 0,
               max_steps: int | None = None, budget_ms: float | None = None, node_limit: int | None = None,
               focus_width: int | None = None, stop: Callable[[], bool] | None = None,
               name_foci: bool | Callable[[], bool] = False, **given: Any) -> RepairResult:
        """Repair a disrupted plan within a time budget (consult): a descent, a ruin-and-recreate
        walk and wider passes in the policy's order (:func:`~rrl.learning.search.beam_search`).

        Parameters
        ----------
        plan : Plan or Disruption
            A :class:`Disruption` (from ``rrl.events``), or a plan to hit with ``event``.
        event : str, optional
            With a plan: the event to draw (``given`` fixes any of its parameters, the rest
            is drawn from ``seed``).
        max_steps : int, optional
            Longest repair (default: :meth:`steps_for` the plan).
        budget_ms : float, optional
            Wall-time budget of the search (default: the agent's, else by plan size; with
            ``node_limit``: :data:`~rrl.bounds.MAX_BUDGET_MS`, so that the count alone ends it).
        node_limit : int, optional
            Stop after this many node expansions, the walk after
            :data:`~rrl.learning.search.RECREATE_PER_NODE` tries per expansion allowed: the
            same repair for the same ``seed`` on any machine, however loaded (unless a
            ``budget_ms`` given ends the search first).
        focus_width : int, optional
            Focus candidates per reason at each step (default: :meth:`focus_width_for`
            the plan).
        stop : callable, optional
            Ends the search early when it returns True (see
            :func:`~rrl.learning.search.beam_search`).
        name_foci : bool or callable
            Also name, for each step of a walk, block or exchange, the background's focus
            rule that its focal task meets (:attr:`RepairStep.meets`): a relational reason
            for a step the search did not take from a focus rule. It asks Prolog, after
            the search, for the reason each such step's order is proposed under in the
            state before the step (about 1 ms for the five named steps of an extruder
            repair of 10-20 orders on a two-core machine; on plans of more than
            :data:`NAMED_UP_TO` unstarted orders it names none;
            ``rrl consult`` does it for its printed explanation, not for ``--json``).
            A callable is asked once the search has ended (a caller that may be out of
            time by then, as the service under a queue). :attr:`RepairResult.foci_named`
            says whether the steps were named.

        Returns
        -------
        RepairResult
            Never worse on the goal's measure than the disrupted plan.
        """
        started = time.perf_counter()
        if isinstance(plan, Disruption):
            hit = plan
        else:
            if event is None:
                raise RRLError("repair: give a Disruption, or a plan and an event name")
            hit = draw_event(event, plan, random.Random(seed), **given)
        ctx = self.goal.context(hit.before, hit.plan)
        if focus_width is not None and (type(focus_width) is not int or focus_width < 1):
            raise RRLError(f"focus_width must be a whole number >= 1 (got {focus_width!r})")
        width = focus_width if focus_width is not None else self.focus_width_for(hit.plan)
        hood = self.neighbourhood(hit, ctx, score_all=False, focus_width=width)
        budget = budget_ms if budget_ms is not None else MAX_BUDGET_MS if node_limit is not None else self.budget_ms
        if budget is None:
            budget = default_budget_ms(len(hit.plan.problem.orders))
        _check_first_pass(self.first_pass)  # the attributes may have been set since
        _check_walkers(self.walkers)
        # (under a node limit the same on every machine: the walks are counted in tries,
        # and where the system cannot fork the second one runs after the first)
        walkers = self.walkers if self.walkers is not None else 2 if node_limit is not None else default_workers()
        outcome = beam_search(hood, budget_s=budget / 1000.0, max_depth=max_steps or self.steps_for(hit.plan),
                              node_limit=node_limit, rank=self._rank, descent_first=self.first_pass != "policy",
                              first_improvement=self.first_pass == "first_improvement", stop=stop,
                              recreate=RuinAndRecreate(walkers=walkers) if self.recreate else None, seed=seed)
        best = outcome.best
        problem = hit.plan.problem
        # (each named step sends its state to Prolog, and a walk may write many: NAMED_UP_TO)
        naming = len(problem.orders) - len(problem.frozen) <= NAMED_UP_TO and \
            bool(name_foci() if callable(name_foci) else name_foci)
        taken = self._steps(hood, best.path(), naming)
        note = "" if taken else "no step improved on the disrupted plan: it is returned unchanged"
        return RepairResult(
            event=hit.event, goal=self.goal.name, before=hit.before, disrupted=hit.plan, plan=best.plan,
            steps=taken, explored=outcome.expansions, reached=ctx.reached(best.plan), note=note,
            seconds=time.perf_counter() - started, cost=best.cost, expansions=outcome.expansions,
            search_seconds=outcome.seconds, foci_named=naming,
        )

    def steps_for(self, plan: Plan) -> int:
        """The longest repair of ``plan`` when none is asked for: the policy's
        ``max_steps`` (its training episodes' length); on a plan with more unstarted
        orders than a training case can have, as many more in proportion, up to
        :data:`LONG_REPAIR_STEPS` (never fewer than ``max_steps``)."""
        return self._scaled(self.max_steps, plan, LONG_REPAIR_STEPS)

    def focus_width_for(self, plan: Plan) -> int:
        """Focus candidates per reason when repairing ``plan`` (consult): the policy's
        ``focus_width``; on a plan with more unstarted orders than a training case can
        have, as many more in proportion, up to :data:`WIDE_FOCUS` (never fewer than
        ``focus_width``)."""
        return self._scaled(self.focus_width, plan, WIDE_FOCUS)

    def _scaled(self, value: int, plan: Plan, ceiling: int) -> int:
        """``value`` grown in proportion to ``plan``'s unstarted orders beyond the largest
        training case, up to ``ceiling`` (never below ``value``)."""
        problem = plan.problem
        # (a training case is a book and its event, which may add an order)
        unstarted, largest = len(problem.orders) - len(problem.frozen), max(self.orders) + 1
        if unstarted <= largest:
            return value
        return max(value, min(ceiling, value * unstarted // largest))

    def _steps(self, hood: Neighbourhood, path: Sequence[Node], name_foci: bool = False) -> list[RepairStep]:
        """The repair steps into the nodes of ``path``, with their Q-values and the rules
        that explain them (a search may not have read the values: each step's state is
        sent to Prolog once, for its value and its rule); with ``name_foci``, the focus
        rule each walk, block or exchange step's focal task meets."""
        rules = [""] * len(path)
        blocks = rule_blocks(self._rules) if self.learner == "tg" else []
        # only the facts the value can read: the same value and rule, and most trees
        # read no order's facts, which are most of a state's
        readable = self._q.value_facts() if blocks else None
        for k, node in enumerate(path):
            parent, via = node.parent, node.via
            if not blocks or parent is None or via is None:
                hood.score_step(node)
                continue
            facts = hood.action_facts(parent, via)
            if readable is not None:
                facts = [f for f in facts if predicate_of(f) in readable]
            state = hood.state_of(parent, only=readable)
            if via.scored:
                index = self._q.explain_steps([(state, facts)], only=readable)[0]
            else:  # the value and the rule in one call
                via.q, index = self._q.explained_value(state, facts, only=readable)
                via.scored = True
            rules[k] = blocks[index - 1] if 0 < index <= len(blocks) else ""
        taken = []
        for node, rule in zip(path, rules, strict=True):
            choice = node.via
            assert choice is not None
            meets = self._focus_met(hood, node) if name_foci else ""
            taken.append(RepairStep(choice.action, node.plan, choice.q, rule, choice.focus,
                                    self._focus_rule(choice.focus.reason), meets,
                                    self._focus_rule(meets) if meets else ""))
        return taken

    def _focus_met(self, hood: Neighbourhood, node: Node) -> str:
        """The first focus reason of the background that proposes the focal task of the
        step into ``node`` in the state before it, where the step came from a walk, a
        block or an exchange ("" where none does, or the step came from a focus rule)."""
        parent, via = node.parent, node.via
        if parent is None or via is None or via.focus.reason not in CHAIN_RULES:
            return ""
        try:  # (the reason :meth:`PrologQFunction.focus` would list it under, asked for it alone)
            return self._q.reason(via.focus.task, hood.state_of(parent))
        except PolicyError:  # (a background whose focus rules ran out of their bound: the step goes unnamed)
            return ""

    def _focus_rule(self, reason: str) -> str:
        """The background clause of a focus reason (read once per reason)."""
        found = self._focus_rules.get(reason)
        if found is None:
            text = CHAIN_RULES.get(reason) or focus_rule(self.background_path, reason)
            found = self._focus_rules[reason] = text
        return found

    def untrained(self) -> RepairAgent:
        """The same search without what was learned: an agent with this one's plant, goal,
        background knowledge and search settings (first pass, exchanges, walk, walkers,
        budget, step limit, foci) whose Q-tree is one leaf of value 0, so that a step's
        Q-value is its own reward (with the propositional learner, every step's is 0).
        :func:`~rrl.learning.evaluate.evaluate`'s ``untrained`` method: what the learned
        rules add to this agent's repairs."""
        twin = RepairAgent(self.plant, self.goal.name, events=self.events, orders=self.orders,
                           family_steps=self.family_steps, rule=self.rule, learner=self.learner, gamma=self.gamma,
                           max_steps=self.max_steps, tie_break=self.tie_break, focus_width=self.focus_width,
                           moves_per_focus=self.moves_per_focus, reach=self.reach, n_step=self.n_step,
                           budget_ms=self.budget_ms, first_pass=self.first_pass, longest_block=self.longest_block,
                           exchanges=self.exchanges, recreate=self.recreate, walkers=self.walkers, seed=self.seed)
        if twin.background_path != self.background_path:  # (a loaded policy's own copy)
            twin.background_path = self.background_path
            twin._q = PrologQFunction([self.background_path], twin._rules)
        return twin

    # ------------------------------------------------------------------ inspection

    @property
    def rules(self) -> str:
        """The current policy as Prolog rules (``predict/1`` decision list)."""
        return self._rules

    @property
    def q_function(self) -> PrologQFunction:
        """The policy's Prolog module (background knowledge and rules)."""
        return self._q

    @property
    def n_leaves(self) -> int:
        """Number of abstract states (leaf rules) of the current Q-tree."""
        return sum(1 for block in rule_blocks(self._rules) if block.startswith("% leaf")) or 1

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> Path:
        """Write the policy directory (DESIGN section 6): rules, metadata, background."""
        from rrl import __version__

        if self.learner != "tg":
            raise RRLError("only relational (tg) policies are saved as Prolog rules")
        header = (
            f"% rrl repair policy: goal {self.goal.name} ({self.goal.description}).\n"
            f"% Learned by relational Q-learning with TG over {self.episodes_} episodes on plant "
            f"{', '.join(quote_atom(r) for r in self.plant.resources)}.\n"
            f"% Load with:  swipl background.pl policy.pl   then assert a state's and an action's facts\n"
            f"% (docs/state.md) and ask  ?- predict(Q).  The greedy policy takes the action of largest Q.\n\n"
        )
        meta = {
            "format": FORMAT,
            "library_version": __version__,
            "goal": self.goal.name,
            "learner": self.learner,
            "bias": self.settings_path.read_text(encoding="utf-8"),
            "parameters": {
                "events": list(self.events), "orders": list(self.orders), "family_steps": self.family_steps,
                "rule": self.rule, "gamma": self.gamma,
                "epsilon": self.epsilon, "epsilon_min": self.epsilon_min, "max_steps": self.max_steps,
                "min_samples": self.min_samples, "significance": self.significance, "tie_break": self.tie_break,
                "focus_width": self.focus_width, "moves_per_focus": self.moves_per_focus, "reach": self.reach,
                "n_step": self.n_step,
                "budget_ms": self.budget_ms, "first_pass": self.first_pass, "longest_block": self.longest_block,
                "exchanges": self.exchanges, "recreate": self.recreate, "seed": self.seed,
            },
            "training": {"episodes": self.episodes_, "seconds": round(self.seconds_, 3),
                         "evaluation_seconds": round(self.evaluation_seconds_, 3), "leaves": self.n_leaves,
                         "curve": [r.to_dict() for r in self.curve], "evaluations": self.evaluations},
            "plant": {**self.plant.to_dict(), "orders": []},
        }
        state = None
        if self._model is not None and getattr(self._model, "tree_", None) is not None:
            from rrl.relational import tg_state

            version, internal, gauss = self._rng.getstate()
            state = {"tg": tg_state.to_json(self._model), "rng": [version, list(internal), gauss]}
        return write_policy(directory, header + self._rules, meta, self.background_path, state)

    @classmethod
    def load(cls, directory: str | Path) -> RepairAgent:
        """Read a policy directory written by :meth:`save` (no pickles involved)."""
        rules, meta, background = read_policy(directory)
        where = Path(directory) / "policy.json"
        try:
            plant = scenario_from_dict(meta["plant"], str(where)).plant
            params = meta.get("parameters", {})
            training = meta.get("training", {})
            if not isinstance(params, dict) or not isinstance(training, dict):
                raise TypeError("'parameters' and 'training' must be objects")
            agent = cls(plant, meta["goal"], events=tuple(params.get("events", ("new_order",))),
                        orders=tuple(params.get("orders", (10, 20))), family_steps=int(params.get("family_steps", 1)),
                        rule=params.get("rule", "edd"),
                        learner=meta.get("learner", "tg"), gamma=float(params.get("gamma", 0.5)),
                        epsilon=float(params.get("epsilon", 0.3)), epsilon_min=float(params.get("epsilon_min", 0.02)),
                        max_steps=int(params.get("max_steps", DEFAULT_MAX_STEPS)), min_samples=int(params.get("min_samples", 40)),
                        significance=float(params.get("significance", 0.05)),
                        tie_break=str(params.get("tie_break", "cost")), focus_width=int(params.get("focus_width", 2)),
                        moves_per_focus=_optional_int(params.get("moves_per_focus", 4)),
                        reach=_optional_int(params.get("reach")),
                        n_step=int(params.get("n_step", 3)), budget_ms=_optional_float(params.get("budget_ms")),
                        first_pass=str(params.get("first_pass", "descent")),
                        longest_block=_optional_int(params.get("longest_block")),
                        exchanges=params.get("exchanges", True), recreate=params.get("recreate", True),
                        seed=int(params.get("seed", 0)))
            agent.episodes_ = int(training.get("episodes", 0))
            agent.seconds_ = float(training.get("seconds", 0.0))
            agent.evaluation_seconds_ = float(training.get("evaluation_seconds", 0.0))
            agent.curve = [EpisodeRecord(**r) for r in training.get("curve", [])]
            agent.evaluations = [dict(r) for r in training.get("evaluations", [])]
        except RRLError as error:
            raise PolicyError(f"{where}: {error}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PolicyError(f"{where}: malformed policy metadata ({error})") from None
        agent.background_path = background
        agent._q = PrologQFunction([background], rules, source=Path(directory) / "policy.pl")
        agent._rules = rules
        agent._frozen_reason = agent._resume(Path(directory), meta)
        return agent

    def _resume(self, directory: Path, meta: dict[str, Any]) -> str:
        """Restore the learner from ``learner.json`` so that the agent can learn further;
        return why it cannot when the file is absent (a policy may be exchanged without it).

        Raises
        ------
        PolicyError
            When the file is there but damaged, or the policy's language bias is not this
            rrl's (the saved candidate tests would not match it).
        """
        path = directory / LEARNER_STATE
        if not path.is_file():
            return f"{path}: missing: this policy was saved without its learner state and cannot learn further"
        if self.learner != "tg":
            return "only relational (tg) policies learn further"
        if meta.get("bias") != self.settings_path.read_text(encoding="utf-8"):
            raise PolicyError(f"{directory / 'policy.json'}: bias: learned with another language bias than "
                              f"{self.settings_path.name} of this rrl; it can be consulted, not resumed")
        from rrl.relational import tg_state

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            model = tg_state.from_json(self._new_model(), data["tg"])
            version, internal, gauss = data["rng"]
            self._rng.setstate((int(version), tuple(int(v) for v in internal), gauss))
        except json.JSONDecodeError as error:
            raise PolicyError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
        except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as error:
            key = f"{error.args[0]}: missing key" if isinstance(error, KeyError) else str(error)
            raise PolicyError(f"{path}: malformed learner state ({key})") from None
        self._model = model
        return ""


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _reward_of(facts: Sequence[str]) -> float:
    """The value of the ``action_reward/1`` fact among a step's facts."""
    for fact in facts:
        if fact.startswith("action_reward("):
            return float(fact[len("action_reward("):-1])
    return 0.0
