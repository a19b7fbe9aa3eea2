"""Synthetic relational data whose target depends on an existential relation.

Each example is a small schedule: tasks on resources, each with a position in its
resource's sequence and a due date, and one focal task.  The target is high when *some*
task on the focal task's resource, earlier in sequence, has a later due date than the
focal task; low otherwise.  The label is drawn first and the schedule is built to match
it, so the number of tasks and the global distributions of positions and due dates carry
(almost) no information: only a relational test linking the focal task to another task
can predict the target.  Used by the tests, the benchmark and the docs.
"""

from __future__ import annotations

import numpy as np

from rrl.relational.kb import Example

SETTINGS = """\
% language bias for the synthetic "earlier task due later" data
type(focal(task)).
type(task(task, res, pos, due)).
type(before(task, task)).
type(later_due(task, task)).
type(tardy(task)).
root((focal(T), task(T, R, P, D))).
rmode(2: (before(+T, -U), later_due(+U, +T))).
rmode(1: before(+T, -U)).
rmode(tardy(+T)).
rmode(task(-T, +R, -P, -D)).
rmode(2: +D >= #).
rmode(2: +P >= #).
minimal_cases(5).
max_depth(6).
significance(0.001).
"""

BACKGROUND = """\
% U is earlier than T on the same resource
before(T, U) :- task(T, R, P, _), task(U, R, Q, _), Q < P.
% U is due later than T
later_due(U, T) :- task(U, _, _, DU), task(T, _, _, DT), DU > DT.
% a task due before its position in the sequence would let it finish (a distractor)
tardy(T) :- task(T, _, P, D), D < P * 10.
"""


def make_examples(n: int, seed: int = 0, tasks: tuple[int, int] = (5, 50),
                  noise: float = 0.5, prefix: str = "m") -> list[Example]:
    """``n`` examples with between ``tasks[0]`` and ``tasks[1]`` tasks each.

    Targets are 10 (relation holds) or 0, plus Gaussian noise of deviation ``noise``.
    """
    rng = np.random.default_rng(seed)
    examples = []
    for k in range(n):
        n_tasks = int(rng.integers(tasks[0], tasks[1] + 1))
        n_res = int(rng.integers(2, 5))
        res = rng.integers(0, n_res, n_tasks)
        res[: n_res] = np.arange(n_res)  # every resource has a task
        due = np.round(rng.uniform(0, 100, n_tasks), 1)
        pos = np.zeros(n_tasks, dtype=int)
        for r in range(n_res):
            members = np.flatnonzero(res == r)
            pos[members] = rng.permutation(len(members))
        candidates = np.flatnonzero(pos > 0)
        if len(candidates) == 0:  # every task alone on its resource: make one follow another
            res[1], pos[1] = res[0], 1
            candidates = np.array([1])
        focal = int(rng.choice(candidates))
        earlier = np.flatnonzero((res == res[focal]) & (pos < pos[focal]))
        high = bool(rng.random() < 0.5)
        late = earlier[due[earlier] > due[focal]]
        if high and len(late) == 0:
            u = int(rng.choice(earlier))
            due[u] = np.round(rng.uniform(due[focal], 100.0), 1)
            if due[u] <= due[focal]:
                due[u] = due[focal] + 0.1
        elif not high:
            for u in late:  # move each later due date below the focal task's
                due[u] = np.round(rng.uniform(0, due[focal]), 1)
                if due[u] >= due[focal]:
                    due[u] = max(due[focal] - 0.1, 0.0)
        if not high and due[focal] == 0.0:
            due[earlier] = 0.0
        facts = [f"focal(t{focal})"]
        facts += [f"task(t{i}, r{res[i]}, {pos[i]}, {due[i]})" for i in range(n_tasks)]
        target = (10.0 if high else 0.0) + float(rng.normal(0, noise))
        examples.append(Example(f"{prefix}{k}", facts, round(target, 4)))
    return examples


def is_high(example: Example) -> bool:
    """Ground truth of the relation (for checks): parse the facts written above."""
    focal = example.facts[0][len("focal("):-1]
    tasks = {}
    for fact in example.facts[1:]:
        name, res, pos, due = fact[len("task("):-1].split(", ")
        tasks[name] = (res, int(pos), float(due))
    r, p, d = tasks[focal]
    return any(r2 == r and p2 < p and d2 > d for r2, p2, d2 in tasks.values())
