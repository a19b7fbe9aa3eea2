"""Repair operators: applicability, effects, and invariants under random sequences."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from rrl.domain import Plan, Schedule, validate
from rrl.domain.problem import Problem
from rrl.domain.scenario import Scenario
from rrl.errors import NotApplicable
from rrl.events import clock
from rrl.operators import OPERATORS, Action, applicable_actions, apply, successors
from rrl.operators.blocks import block_chain, block_proposals
from rrl.operators.repair import applicable_operators, proposals
from tests.conftest import plans


def _plan(extruders: Scenario) -> Plan:
    schedule = Schedule({
        "ext1": ["o1", "o5", "o9", "o13", "o3"],
        "ext2": ["o6", "o14", "o10", "o4", "o8", "o12"],
        "ext3": ["o2", "o7", "o11", "o15"],
    })
    return Plan.build(extruders.problem, schedule)


def test_same_resource_operators(extruders: Scenario) -> None:
    plan = _plan(extruders)
    assert apply(plan, Action("left_move", "o9", "o5", "ext1")).schedule.sequence("ext1") == ("o1", "o9", "o5", "o13", "o3")
    assert apply(plan, Action("right_move", "o9", "o13", "ext1")).schedule.sequence("ext1") == ("o1", "o5", "o13", "o9", "o3")
    assert apply(plan, Action("left_swap", "o9", "o1", "ext1")).schedule.sequence("ext1") == ("o9", "o5", "o1", "o13", "o3")
    assert apply(plan, Action("right_swap", "o9", "o3", "ext1")).schedule.sequence("ext1") == ("o1", "o5", "o3", "o13", "o9")
    assert apply(plan, Action("left_jump", "o9", "o1", "ext1")).schedule.sequence("ext1") == ("o9", "o1", "o5", "o13", "o3")
    assert apply(plan, Action("right_jump", "o9", "o3", "ext1")).schedule.sequence("ext1") == ("o1", "o5", "o13", "o3", "o9")


def test_alternative_resource_operators(extruders: Scenario) -> None:
    plan = _plan(extruders)
    after = apply(plan, Action("left_jump_alt", "o9", "o7", "ext3"))
    assert after.schedule.sequence("ext3") == ("o2", "o9", "o7", "o11", "o15")
    assert "o9" not in after.schedule.sequence("ext1")
    swapped = apply(plan, Action("left_swap_alt", "o9", "o2", "ext3"))
    assert swapped.schedule.sequence("ext3")[0] == "o9"
    assert swapped.schedule.sequence("ext1")[2] == "o2"
    with pytest.raises(NotApplicable, match="cannot run on ext2"):
        apply(plan, Action("left_jump_alt", "o9", "o14", "ext2"))  # A is not made on ext2
    with pytest.raises(NotApplicable, match="o10 cannot run on ext3"):
        apply(plan, Action("left_swap_alt", "o10", "o2", "ext3"))  # C is not made on ext3
    with pytest.raises(NotApplicable, match="o1 cannot run on ext2"):
        apply(plan, Action("left_swap_alt", "o6", "o1", "ext1"))  # C fits ext1, but A does not fit ext2


def test_every_operator_occurs_and_listing_matches_apply(extruders: Scenario) -> None:
    plan = _plan(extruders)
    seen: Counter[str] = Counter()
    for focal in plan.schedule.orders():
        for action, result in successors(plan, focal):
            seen[action.operator] += 1
            again = apply(plan, action)
            assert again.schedule == result.schedule
            assert result.schedule != plan.schedule
    assert set(seen) == set(OPERATORS)


def test_frozen_orders_are_never_moved(extruders: Scenario) -> None:
    plan = clock(_plan(extruders), 4.0)
    frozen = plan.problem.frozen
    assert frozen
    for focal in plan.schedule.orders():
        actions = applicable_actions(plan, focal)
        if focal in frozen:
            assert actions == []
        for action, result in successors(plan, focal):
            if action.other in frozen:  # only "right after a started task" leaves it alone
                assert action.operator in ("right_move_alt", "right_jump_alt")
            for order in frozen:
                assert result.schedule.where[order] == plan.schedule.where[order]
                assert result.times.start[order] == plan.times.start[order]
            assert validate(result.problem, result.schedule, result.times, reference=(plan.schedule, plan.times)) == []


def test_focal_may_go_right_after_a_started_task(extruders: Scenario) -> None:
    plan = clock(_plan(extruders), 4.0)
    frozen = plan.problem.frozen
    found = [(a, p) for focal in plan.schedule.orders() for a, p in successors(plan, focal)
             if a.other in frozen and a.operator == "right_move_alt"]
    assert found
    for action, result in found:
        seq = result.schedule.sequence(action.resource)
        assert seq[seq.index(action.other) + 1] == action.focal
        with pytest.raises(NotApplicable, match="has started"):
            apply(plan, Action("left_move_alt", action.focal, action.other, action.resource))


def test_cycle_making_action_is_not_applicable() -> None:
    from rrl.domain import scenario_from_dict

    data = {
        "products": ["A"],
        "resources": [{"id": "r1", "rates": {"A": 100}}, {"id": "r2", "rates": {"A": 100}}],
        "orders": [
            {"id": "x", "product": "A", "size": 100, "due": 1},
            {"id": "y", "product": "A", "size": 100, "due": 1, "after": ["x"]},
        ],
        "schedule": {"r1": ["x", "y"], "r2": []},
    }
    plan = scenario_from_dict(data).plan()
    with pytest.raises(NotApplicable, match="cycle"):
        apply(plan, Action("left_move", "y", "x", "r1"))
    assert Action("left_move", "y", "x", "r1") not in applicable_actions(plan, "y")


@settings(max_examples=60, deadline=None)
@given(plans(), st.integers(0, 100_000), st.floats(0, 10))
def test_random_operator_sequences_keep_orders_and_validity(plan: Plan, seed: int, now: float) -> None:
    rng = random.Random(seed)
    plan = clock(plan, now)
    reference = (plan.schedule, plan.times)
    orders = sorted(plan.schedule.orders())
    for _ in range(8):
        focal = rng.choice(orders)
        moves = applicable_actions(plan, focal)
        if not moves:
            continue
        plan = apply(plan, rng.choice(moves))
        assert sorted(plan.schedule.orders()) == orders  # each order exactly once
        assert validate(plan.problem, plan.schedule, plan.times, reference=reference) == []


@given(plans(), st.integers(0, 100_000), st.floats(0, 10), st.sampled_from([None, 1, 3]),
       st.sets(st.sampled_from(OPERATORS), max_size=4))
def test_applicable_operators_are_those_of_the_proposals(plan: Plan, seed: int, now: float, reach: int | None,
                                                         only: set[str]) -> None:
    plan = clock(plan, now)
    operators = only or None
    orders = sorted(plan.schedule.orders())
    for focal in random.Random(seed).sample(orders, min(3, len(orders))):
        expected = {action.operator for action, _ in proposals(plan, focal, operators, reach)}
        assert applicable_operators(plan, focal, operators, reach) == expected


def test_a_block_moves_as_a_run_of_single_jumps(extruders: Scenario) -> None:
    problem = extruders.problem
    assert problem.dependents and not list(block_proposals(_plan(extruders), "o5", 2))  # never with ``after``
    unchained = Problem(problem.plant, {o: dataclasses.replace(spec, after=()) for o, spec in problem.orders.items()})
    plan = Plan.build(unchained, _plan(extruders).schedule)
    proposed = {(b.orders, b.resource, b.index): (b, a, c) for b, a, c in block_proposals(plan, "o5", 2)
                if b.orders[0] == "o5"}
    # o5 and o9 together to the end of ext1: o5 after o3, then o9 after o5
    block, first, changes = proposed[(("o5", "o9"), "ext1", 3)]
    assert changes == {"ext1": ("o1", "o13", "o3", "o5", "o9")}
    chain = block_chain(plan, block)
    assert [str(a) for a, _, _ in chain] == ["right_jump(o5, o3)", "right_jump(o9, o5)"]
    assert first == chain[0][0]
    assert chain[-1][2].schedule.sequence("ext1") == changes["ext1"]
    # and first on ext1: each member right before o1
    block, _, _ = proposed[(("o5", "o9"), "ext1", 0)]
    assert [str(a) for a, _, _ in block_chain(plan, block)] == ["left_move(o5, o1)", "left_move(o9, o1)"]
    # a run ending at the focal task: o9 comes first, o5 comes back right before it
    block = next(b for b, _, _ in block_proposals(plan, "o9", 2) if b.orders == ("o5", "o9") and b.index == 3)
    assert [str(a) for a, _, _ in block_chain(plan, block)] == ["right_jump(o9, o3)", "right_jump(o5, o3)"]
    ending = list(block_proposals(plan, "o3", 3))
    assert ending and all(b.orders[-1] == "o3" for b, _, _ in ending)  # nothing runs after o3


@settings(max_examples=150, deadline=None)
@given(plans(max_orders=16, min_orders=3), st.integers(0, 100_000), st.floats(0, 10), st.integers(2, 4))
def test_every_block_step_is_a_chain_of_operators(plan: Plan, seed: int, now: float, longest: int) -> None:
    """Each block proposed is written as one applicable operator per member, in order;
    the chain ends at the block's sequences, keeps every order once and started ones put."""
    rng = random.Random(seed)
    plan = clock(plan, now)
    assume(not plan.problem.dependents)  # block steps are offered on plants without ``after`` only
    reference = (plan.schedule, plan.times)
    orders = sorted(plan.schedule.orders())
    for focal in rng.sample(orders, min(4, len(orders))):
        proposed = list(block_proposals(plan, focal, longest))
        for block, first, changes in rng.sample(proposed, min(12, len(proposed))):
            event("a block proposed")
            assert focal in (block.orders[0], block.orders[-1]) and 2 <= len(block.orders) <= longest
            chain = block_chain(plan, block)
            assert first == chain[0][0] and chain[0][0].focal == focal
            assert sorted(a.focal for a, _, _ in chain) == sorted(block.orders)  # one step per member
            current = plan
            for action, _, after in chain:
                assert action.operator in OPERATORS
                current = apply(current, action)  # the operators' single definition agrees
                assert current.schedule == after.schedule
            assert current.schedule == plan.schedule.replace(changes)
            assert sorted(current.schedule.orders()) == orders
            assert validate(current.problem, current.schedule, current.times, reference=reference) == []
