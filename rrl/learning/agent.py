"""RepairAgent: relational Q-learning of schedule-repair policies (the paper's Algorithm 1)
and their use in real time (consult mode), in the style of Stable-Baselines3.

Training: per episode a case is drawn (orders, initial plan, disruption); operators are
chosen epsilon-greedily from the current Q-tree over every applicable ground action of
the focal task(s); at the end of the episode the examples (state, action,
Q = r + gamma max Q(next)) are built backwards and handed to TG (or, for the
propositional baseline, to scikit-learn). Consult: the greedy policy repairs step by
step, never returns a plan worse on the goal's measure than the disrupted one, and
explains each step by the Prolog rule (abstract state) that gave the action its value.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rrl._paths import data_dir
from rrl.domain.plan import Plan
from rrl.domain.plant import Plant
from rrl.domain.scenario import scenario_from_dict
from rrl.errors import PolicyError, RRLError
from rrl.events import Disruption, draw_event
from rrl.learning.cases import Builder, draw_case, rule_builder
from rrl.learning.goals import RepairContext, get_goal
from rrl.learning.policy_io import read_policy, rule_blocks, write_policy
from rrl.learning.qfunction import PrologQFunction
from rrl.operators.repair import Action, successors
from rrl.relational.facts import action_facts, state_facts
from rrl.relational.kb import Example
from rrl.relational.terms import quote_atom

LEARNERS = ("tg", "propositional")
TIE_BREAKS = ("cost", "first")


@dataclass
class RepairStep:
    """One applied operator: the action, the plan it led to, its Q-value and why."""

    action: Action
    plan: Plan
    q_value: float
    rule: str = ""

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
    plan was not kept.
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

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics of the repaired plan."""
        return self.plan.metrics.to_dict()


@dataclass
class _Move:
    action: Action
    plan: Plan
    state: list[str]
    facts: list[str]


@dataclass
class _Decision:
    move: _Move
    q_value: float
    best_q: float


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
        Step limit of an episode and of a repair.
    min_samples, significance : int, float
        TG: examples a leaf must see before a split, and the F-test level of a split.
    tie_break : str
        How actions with the same best Q-value (the same abstract state) are ranked:
        ``first`` takes the first in the fixed action order, so the Q-tree alone decides
        and every choice is explained by its rule; ``cost`` takes the one whose plan has
        the lowest goal cost (a greedy look at the simulator inside the abstract state).
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
        rule: str = "edd",
        builder: Builder | None = None,
        learner: str = "tg",
        gamma: float = 0.9,
        epsilon: float = 0.3,
        epsilon_min: float = 0.02,
        max_steps: int = 10,
        min_samples: int = 60,
        significance: float = 0.01,
        tie_break: str = "first",
        seed: int = 0,
    ) -> None:
        if learner not in LEARNERS:
            raise RRLError(f"unknown learner '{learner}' (expected one of {', '.join(LEARNERS)})")
        if tie_break not in TIE_BREAKS:
            raise RRLError(f"unknown tie_break '{tie_break}' (expected one of {', '.join(TIE_BREAKS)})")
        self.plant = plant
        self.goal = get_goal(goal)
        self.events = tuple(events)
        self.orders = orders
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
        self.seed = seed
        self.settings_path = data_dir("background_knowledge") / "repair.s"
        self.background_path = data_dir("background_knowledge") / "repair.pl"
        self.curve: list[EpisodeRecord] = []
        self.evaluations: list[dict[str, float]] = []
        self.episodes_ = 0
        self.seconds_ = 0.0
        self._rng = random.Random(seed)
        self._model: Any = None
        self._examples: list[Example] = []
        self._q = PrologQFunction([self.background_path])
        self._rules = "predict(0.0).\n"
        self._loaded = False

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
            Every so many episodes (and before the first), repair ``eval_cases`` fixed
            validation cases greedily and append the means to :attr:`evaluations` (the
            learning curve of the greedy policy, free of exploration noise). 0: never.
        callback : callable, optional
            Called with each episode's :class:`EpisodeRecord`.
        """
        if self._loaded:
            raise RRLError("a loaded policy cannot learn further (TG's statistics are not saved); train a new one")
        if self._model is None:
            self._model = self._new_model()
        from tqdm import tqdm

        started = time.perf_counter()
        total = self.episodes_ + episodes
        bar = tqdm(total=episodes, disable=not progress, unit="ep", leave=False)
        rewards: list[float] = []
        validation = self._validation_cases(eval_cases) if eval_every else []
        try:
            for _ in range(episodes):
                if validation and self.episodes_ % eval_every == 0:
                    self.evaluations.append(self._evaluate(validation))
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
                self.evaluations.append(self._evaluate(validation))
        finally:
            bar.close()
        self.seconds_ += time.perf_counter() - started
        return self

    def _validation_cases(self, count: int) -> list[Disruption]:
        rng = random.Random(7_919 * (self.seed + 1))  # apart from the training stream
        return [draw_case(self.plant, rng, orders=self.orders, events=self.events, builder=self._builder())
                for _ in range(count)]

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
        rng = self._rng
        case = draw_case(self.plant, rng, orders=self.orders, events=self.events, builder=self._builder())
        ctx = self.goal.context(case.before, case.plan)
        plan = case.plan
        trail: list[tuple[_Move, float]] = []
        next_best: list[float] = []
        visited = {plan.schedule}
        for step in range(self.max_steps):
            if ctx.reached(plan):
                break
            decision = self._decide(plan, case.focal, ctx, rng, epsilon, visited)
            if decision is None:
                break
            if trail:
                next_best.append(decision.best_q)
            following = decision.move.plan
            last = step == self.max_steps - 1
            trail.append((decision.move, ctx.reward(plan, following, last)))
            plan = following
            visited.add(plan.schedule)
        reached = ctx.reached(plan)
        if trail:
            if reached:
                next_best.append(0.0)  # a goal state is terminal
            else:
                tail = self._decide(plan, case.focal, ctx, rng, 0.0, visited)
                next_best.append(tail.best_q if tail else 0.0)
        examples = []
        for j in range(len(trail) - 1, -1, -1):
            move, reward = trail[j]
            target = reward + self.gamma * next_best[j]
            examples.append(Example(id=f"e{self.episodes_}_{j}", facts=move.state + move.facts, target=target))
        self._update(examples)
        return EpisodeRecord(
            episode=self.episodes_ + 1,
            steps=len(trail),
            improvement=case.plan.total_tardiness - plan.total_tardiness,
            reward=float(sum(r for _, r in trail)),
            reached=reached,
            leaves=self.n_leaves,
            event=str(case.event.get("type", "")),
        )

    def _update(self, examples: list[Example]) -> None:
        if not examples:
            return
        if self.learner == "tg":
            self._model.partial_fit(examples)
            rules = self._model.to_prolog()
            if rules != self._rules:
                self._rules = rules
                self._q.set_rules(rules)
            return
        self._examples.extend(examples)
        if self.episodes_ % 10 == 0 or len(self._examples) < 200:
            self._model.fit(self._examples)

    def _builder(self) -> Builder:
        return self.builder or rule_builder(self.rule)

    # ------------------------------------------------------------------ deciding

    def _moves(self, plan: Plan, focal: Sequence[str], visited: AbstractSet[Any] = frozenset()) -> list[_Move]:
        """Every applicable action of the focal tasks that leads to a plan not visited yet."""
        moves = []
        for task in focal:
            found = list(successors(plan, task))
            if not found:
                continue
            # The state lists every applicable operator, visited targets included.
            state = state_facts(plan, task, {a.operator for a, _ in found})
            for action, after in found:
                if after.schedule not in visited:
                    moves.append(_Move(action, after, state, action_facts(plan, action, after)))
        return moves

    def q_values(self, moves: Sequence[_Move]) -> np.ndarray:
        """Q-values of candidate moves (grouped per state: one Prolog call per focal task)."""
        values = np.zeros(len(moves))
        if self.learner == "propositional":
            if self._model is None or not hasattr(self._model, "tree_"):
                return values
            return np.asarray(self._model.predict([Example(id="q", facts=m.state + m.facts) for m in moves]))
        groups: dict[int, list[int]] = {}
        for index, move in enumerate(moves):
            groups.setdefault(id(move.state), []).append(index)
        for indices in groups.values():
            state = moves[indices[0]].state
            values[indices] = self._q.values(state, [moves[i].facts for i in indices])
        return values

    def _decide(self, plan: Plan, focal: Sequence[str], ctx: RepairContext, rng: random.Random | None,
                epsilon: float, visited: set[Any]) -> _Decision | None:
        """The epsilon-greedy choice among the moves to plans not visited yet.

        Actions in the same abstract state share a Q-value; ties among the best are
        broken as ``tie_break`` says.
        """
        moves = self._moves(plan, focal, visited)
        if not moves:
            return None
        q = self.q_values(moves)
        best = float(q.max())
        if rng is not None and rng.random() < epsilon:
            index = rng.randrange(len(moves))
        else:
            ties = np.flatnonzero(q >= best - 1e-9)
            if self.tie_break == "cost":
                index = int(min(ties, key=lambda i: ctx.cost(moves[i].plan)))
            else:
                index = int(ties[0])
        return _Decision(moves[index], float(q[index]), best)

    # ------------------------------------------------------------------ consult

    def predict(self, disruption: Disruption, plan: Plan | None = None) -> tuple[Action, float] | None:
        """The greedy action in ``plan`` (default: the disrupted plan) and its Q-value.

        Returns None when no operator applies to the disruption's focal tasks.
        """
        ctx = self.goal.context(disruption.before, disruption.plan)
        current = plan or disruption.plan
        decision = self._decide(current, disruption.focal, ctx, None, 0.0, {current.schedule})
        return (decision.move.action, decision.q_value) if decision else None

    def repair(self, plan: Plan | Disruption, event: str | None = None, *, seed: int = 0,
               max_steps: int | None = None, **given: Any) -> RepairResult:
        """Repair a disrupted plan greedily (consult mode).

        Parameters
        ----------
        plan : Plan or Disruption
            A :class:`Disruption` (from ``rrl.events``), or a plan to hit with ``event``.
        event : str, optional
            With a plan: the event to draw (``given`` fixes any of its parameters, the rest
            is drawn from ``seed``).
        max_steps : int, optional
            Step limit (default: the agent's).

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
        current = hit.plan
        best, best_cost, best_index = current, ctx.cost(current), 0
        taken: list[RepairStep] = []
        visited = {current.schedule}
        for _ in range(max_steps or self.max_steps):
            if ctx.reached(current):
                break
            decision = self._decide(current, hit.focal, ctx, None, 0.0, visited)
            if decision is None:
                break
            current = decision.move.plan
            visited.add(current.schedule)
            taken.append(RepairStep(decision.move.action, current, decision.q_value,
                                    self._explain(decision.move)))
            cost = ctx.cost(current)
            if cost < best_cost - 1e-9:
                best, best_cost, best_index = current, cost, len(taken)
        note = ""
        if best_index == 0 and taken:
            note = "no step improved on the disrupted plan: it is returned unchanged"
        elif best_index < len(taken):
            note = f"kept the best plan seen (after step {best_index} of {len(taken)})"
        return RepairResult(
            event=hit.event, goal=self.goal.name, before=hit.before, disrupted=hit.plan, plan=best,
            steps=taken[:best_index], explored=len(taken), reached=ctx.reached(best), note=note,
            seconds=time.perf_counter() - started, cost=best_cost,
        )

    def _explain(self, move: _Move) -> str:
        if self.learner != "tg":
            return ""
        index = self._q.explain(move.state, move.facts)
        blocks = rule_blocks(self._rules)
        return blocks[index - 1] if 0 < index <= len(blocks) else ""

    # ------------------------------------------------------------------ inspection

    @property
    def rules(self) -> str:
        """The current policy as Prolog rules (``predict/1`` decision list)."""
        return self._rules

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
            "format": 1,
            "library_version": __version__,
            "goal": self.goal.name,
            "learner": self.learner,
            "bias": self.settings_path.read_text(encoding="utf-8"),
            "parameters": {
                "events": list(self.events), "orders": list(self.orders), "rule": self.rule, "gamma": self.gamma,
                "epsilon": self.epsilon, "epsilon_min": self.epsilon_min, "max_steps": self.max_steps,
                "min_samples": self.min_samples, "significance": self.significance, "tie_break": self.tie_break,
                "seed": self.seed,
            },
            "training": {"episodes": self.episodes_, "seconds": round(self.seconds_, 3), "leaves": self.n_leaves,
                         "curve": [r.to_dict() for r in self.curve], "evaluations": self.evaluations},
            "plant": {**self.plant.to_dict(), "orders": []},
        }
        return write_policy(directory, header + self._rules, meta, self.background_path)

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
                        orders=tuple(params.get("orders", (10, 20))), rule=params.get("rule", "edd"),
                        learner=meta.get("learner", "tg"), gamma=float(params.get("gamma", 0.9)),
                        epsilon=float(params.get("epsilon", 0.3)), epsilon_min=float(params.get("epsilon_min", 0.02)),
                        max_steps=int(params.get("max_steps", 10)), min_samples=int(params.get("min_samples", 60)),
                        significance=float(params.get("significance", 0.01)),
                        tie_break=str(params.get("tie_break", "first")), seed=int(params.get("seed", 0)))
            agent.episodes_ = int(training.get("episodes", 0))
            agent.seconds_ = float(training.get("seconds", 0.0))
            agent.curve = [EpisodeRecord(**r) for r in training.get("curve", [])]
            agent.evaluations = [dict(r) for r in training.get("evaluations", [])]
        except RRLError as error:
            raise PolicyError(f"{where}: {error}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PolicyError(f"{where}: malformed policy metadata ({error})") from None
        agent.background_path = background
        agent._q = PrologQFunction([background], rules, source=Path(directory) / "policy.pl")
        agent._rules = rules
        agent._loaded = True
        return agent
