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


# -- classification: molecules with a nitroso-like group ------------------------------

CLASS_SETTINGS = """\
% language bias for the synthetic molecules: is some n atom double-bonded to an o atom?
type(atm(atom, element, charge)).
type(bond(atom, atom, bondtype)).
rmode(atm(-A, #, -C)).
rmode((atm(-A, #, -C), bond(A, -B, #), atm(B, #, -D))).
rmode(bond(+A, -B, #)).
rmode(atm(+A, #, -C)).
rmode(+C >= #).
"""

_ELEMENTS = ("c", "h", "n", "o", "cl")


def make_molecules(n: int, seed: int = 0, noise: float = 0.0, prefix: str = "mol") -> list[Example]:
    """``n`` small random molecules (6 to 20 atoms with elements and partial charges,
    bonds of type 1, 2 or 7 stored in both directions), target ``active`` when some
    ``n`` atom has a double bond (type 2) to an ``o`` atom, else ``inactive``.

    Both classes have n and o atoms and double bonds, so no single atom or bond test
    separates them: the rule links three literals.  ``noise`` is the share of examples
    whose class is flipped after the molecule is built (for pruning).
    """
    rng = np.random.default_rng(seed)
    examples = []
    for k in range(n):
        size = int(rng.integers(6, 21))
        elements = [str(e) for e in rng.choice(_ELEMENTS, size, p=[0.35, 0.3, 0.12, 0.15, 0.08])]
        elements[:2] = ["n", "o"]  # every molecule has both
        charges = np.round(rng.normal(0.0, 0.3, size), 3)
        bonds: dict[tuple[int, int], int] = {}
        for atom in range(1, size):  # a random tree, then a few extra bonds
            bonds[(int(rng.integers(0, atom)), atom)] = int(rng.choice([1, 2, 7], p=[0.6, 0.2, 0.2]))
        for _ in range(size // 4):
            a, b = sorted(int(x) for x in rng.choice(size, 2, replace=False))
            bonds.setdefault((a, b), int(rng.choice([1, 2, 7])))
        active = bool(rng.random() < 0.5)
        nitroso = [pair for pair, kind in bonds.items()
                   if kind == 2 and {elements[pair[0]], elements[pair[1]]} == {"n", "o"}]
        if active and not nitroso:
            bonds[(0, 1)] = 2
        elif not active:
            for pair in nitroso:
                bonds[pair] = 1
        if rng.random() < noise:
            active = not active
        facts = [f"atm(a{i}, {e}, {c})" for i, (e, c) in enumerate(zip(elements, charges, strict=True))]
        facts += [f"bond(a{a}, a{b}, {kind})" for (a, b), kind in bonds.items()]
        facts += [f"bond(a{b}, a{a}, {kind})" for (a, b), kind in bonds.items()]
        examples.append(Example(f"{prefix}{k}", facts, "active" if active else "inactive"))
    return examples


def has_nitroso(example: Example) -> bool:
    """Ground truth of the rule of :func:`make_molecules` (for checks)."""
    elements = {}
    for fact in example.facts:
        if fact.startswith("atm("):
            atom, element, _ = fact[4:-1].split(", ")
            elements[atom] = element
    for fact in example.facts:
        if fact.startswith("bond("):
            a, b, kind = fact[5:-1].split(", ")
            if kind == "2" and {elements[a], elements[b]} == {"n", "o"}:
                return True
    return False
