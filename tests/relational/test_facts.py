"""State facts load in real SWI-Prolog with the background knowledge and mean what they say."""

from __future__ import annotations

import random
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from rrl.domain import Plan, load_scenario
from rrl.events import draw_event
from rrl.operators import successors
from rrl.relational.facts import (
    FACT_PREDICATES,
    action_facts,
    atom,
    number,
    plan_facts,
    state_facts,
)
from tests.conftest import ROOT, SCENARIOS, plans

BK = ROOT / "background_knowledge" / "repair.pl"


def _swipl(program: str, goal: str, tmp_path) -> str:
    path = tmp_path / "state.pl"
    path.write_text(program)
    proc = subprocess.run(
        ["swipl", "-q", "-g", f"consult('{BK}'), consult('{path}'), {goal}, halt", "-t", "halt(1)"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    return proc.stdout.strip()


def test_atoms_and_numbers() -> None:
    assert atom("o12") == "o12"
    assert atom("A") == "'A'"
    assert atom("F3-P1") == "'F3-P1'"
    assert atom("it's") == "'it\\'s'"
    assert number(1.0) == "1"
    assert number(-0.00001) == "0"
    assert number(2.345678) == "2.3457"


def test_background_knowledge_loads_without_warnings() -> None:
    for path in (ROOT / "background_knowledge").glob("*.pl"):
        proc = subprocess.run(["swipl", "-q", "-g", f"consult('{path}'), halt", "-t", "halt(1)"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0 and proc.stderr == "", (path.name, proc.stderr)


def test_state_facts_answer_queries_in_swipl(tmp_path) -> None:
    plan = load_scenario(SCENARIOS / "paper_table1.yaml").plan()
    hit = draw_event("new_order", plan, random.Random(7), product="A", size=458, due=1.0)
    focal = hit.focal[0]
    moves = list(successors(hit.plan, focal))
    action, after = next((a, p) for a, p in moves if a.other is not None)
    facts = state_facts(hit.plan, focal, {a.operator for a, _ in moves}) + action_facts(hit.plan, action, after)
    program = "\n".join(f + "." for f in facts) + "\n"
    assert len([f for f in facts if f.startswith("task(")]) == len(hit.plan.problem.orders)
    out = _swipl(program, "total_tardiness(X), format('~w~n', [X])", tmp_path)
    assert abs(float(out) - hit.plan.total_tardiness) < 1e-3
    out = _swipl(program, "aggregate_all(count, (focal(F), precedes(T, F)), N), format('~w~n', [N])", tmp_path)
    assert int(out) == hit.plan.schedule.position(focal)
    out = _swipl(program, "action_kind(K), action_side(S), action_place(P), format('~w ~w ~w~n', [K, S, P])", tmp_path)
    assert out == f"{action.kind} {action.side} {'alternative' if action.alternative else 'same'}"
    out = _swipl(program, "action_delta_tardiness(D), format('~w~n', [D])", tmp_path)
    assert abs(float(out) - (after.total_tardiness - hit.plan.total_tardiness)) < 1e-3


@settings(max_examples=40, deadline=None)
@given(plans(), st.integers(0, 10_000))
def test_facts_carried_from_the_parent_equal_fresh_ones(plan: Plan, seed: int) -> None:
    """A search writes a child's state by updating its parent's per-order facts with the
    orders its step re-timed or re-indexed: the result must be the child's state, for
    every step of the focal tasks along a random walk."""
    rng = random.Random(seed)
    cache: dict[str, list[str]] = {}
    plan_facts(plan, orders_facts=cache)
    for _ in range(3):
        focal = rng.choice(list(plan.schedule.orders()))
        moves = list(successors(plan, focal))
        if not moves:
            continue
        for _, child in moves:
            assert sorted(plan_facts(child, orders_facts=dict(cache))) == sorted(plan_facts(child))
        _, plan = rng.choice(moves)
        plan_facts(plan, orders_facts=cache)


@settings(max_examples=40, deadline=None)
@given(plans(), st.sets(st.sampled_from([name for name, _ in FACT_PREDICATES])))
def test_facts_of_some_predicates_are_those_of_the_whole_state(plan: Plan, only: set[str]) -> None:
    """An explanation builds only the facts its rules can read: the same facts, in the same
    order, as the whole state filtered to those predicates."""
    focal = sorted(plan.schedule.orders())[:2]
    whole = plan_facts(plan, event_focal=focal, delayed=focal[1:], previous_focus=focal[0])
    some = plan_facts(plan, event_focal=focal, delayed=focal[1:], previous_focus=focal[0], only=only)
    assert some == [f for f in whole if f.split("(", 1)[0] in only]
