"""The dispatching environment: Gymnasium contract, masks, determinism, timing agreement."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from rrl.dispatching import dispatch  # noqa: E402
from rrl.domain import Plan, validate  # noqa: E402
from rrl.domain.generate import generate_scenario  # noqa: E402
from rrl.events import breakdown, clock  # noqa: E402
from rrl.generative.env import DispatchEnv, InvalidAction  # noqa: E402
from rrl.generative.features import LIMIT, SIZE  # noqa: E402
from rrl.generative.instances import held_out, stage_source  # noqa: E402
from rrl.generative.state import SLOTS  # noqa: E402


def _feasible(env: DispatchEnv, slot: int) -> bool:
    """Is the order in ``slot`` dispatchable now: unplaced, eligible, every ``after`` placed?"""
    state = env.state
    assert state is not None
    order = state.ids[state.candidates().orders[slot]]
    problem = state.problem
    placed = set(state.builder.end)
    return (order not in placed and bool(problem.durations[order])
            and all(a in placed for a in problem.orders[order].after))


@settings(max_examples=40, deadline=None)
@given(machines=st.integers(1, 12), orders=st.integers(1, 60), steps=st.integers(1, 4), breaks=st.booleans(),
       seed=st.integers(0, 10_000), choice=st.integers(0, 10_000))
def test_masks_allow_only_feasible_actions_and_never_none(machines, orders, steps, breaks, seed, choice) -> None:
    problem = generate_scenario(machines=machines, types=min(machines, 4), orders=orders, family_steps=steps,
                                breaks=breaks, seed=seed).problem
    env = DispatchEnv(problem, skip_forced=False)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(choice)
    done = False
    while not done:
        assert obs.shape == (SIZE,) and np.all(np.abs(obs) <= LIMIT)
        mask = env.action_masks()
        assert mask.any(), "every action masked while orders remain"
        for slot in np.flatnonzero(mask):
            assert _feasible(env, int(slot))
        obs, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(mask))))
    schedule = env.schedule()
    assert sorted(schedule.orders()) == sorted(problem.orders)
    plan = Plan.build(problem, schedule)
    assert validate(problem, schedule, plan.times) == []
    # the environment's own end times are the schedule world's
    state = env.state
    assert state is not None
    for order, end in state.builder.end.items():
        assert end == pytest.approx(plan.times.end[order], abs=1e-9)
    assert state.total_tardiness == pytest.approx(plan.total_tardiness, abs=1e-6)


def test_check_env_passes() -> None:
    check_env(DispatchEnv(stage_source(10)), skip_render_check=True)


def test_slot_zero_is_edd() -> None:
    for problem in held_out(stage_source(40), 2):
        env = DispatchEnv(problem)
        env.reset()
        done = False
        while not done:
            _, _, done, _, _ = env.step(0)
        assert env.schedule() == dispatch(problem, "edd", mode="append")


def test_returns_sum_to_total_tardiness_and_setups() -> None:
    problem = held_out(stage_source(10), 1)[0]
    env = DispatchEnv(problem, setup_weight=0.0)
    env.reset()
    total, done = 0.0, False
    while not done:
        _, reward, done, _, _ = env.step(1)
        total += reward
    state = env.state
    assert state is not None
    scale = 100.0 / (state.n * state.p_bar)
    assert -total / scale == pytest.approx(Plan.build(problem, env.schedule()).total_tardiness, rel=1e-9)


def test_same_seed_same_episode() -> None:
    def run(seed: int) -> tuple:
        env = DispatchEnv(stage_source(10))
        env.reset(seed=seed)
        env.action_space.seed(seed)
        done = False
        while not done:
            mask = env.action_masks()
            _, _, done, _, _ = env.step(int(np.flatnonzero(mask)[-1]))
        return tuple(sorted(env.schedule().to_dict().items()))

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_masked_action_is_refused() -> None:
    env = DispatchEnv(generate_scenario(machines=2, types=1, orders=1, seed=0).problem)
    env.reset()
    with pytest.raises(InvalidAction):
        env.step(SLOTS - 1)


def test_frozen_orders_stay_and_downtime_is_respected(extruders) -> None:
    problem = extruders.problem
    plan = Plan.build(problem, dispatch(problem, "edd"))
    disrupted = breakdown(clock(plan, 5.0), "ext2", 6.0, 4.0).plan
    env = DispatchEnv(disrupted.problem, keep=disrupted.schedule)
    env.reset()
    done = False
    while not done:
        _, _, done, _, _ = env.step(int(np.flatnonzero(env.action_masks())[-1]))
    schedule = env.schedule()
    before = disrupted.times
    reference = (disrupted.schedule, before)
    new = Plan.build(disrupted.problem, schedule)
    assert validate(disrupted.problem, schedule, new.times, reference=reference) == []


@pytest.mark.parametrize("name", ["all_urgent", "machine_breakdown", "rush_order", "overload"])
def test_stress_scenarios_give_valid_episodes(name) -> None:
    from rrl.generative.instances import stress

    base = held_out(stage_source(10), 1)[0]
    problem = stress(base, name, seed=1)
    assert len(problem.orders) >= len(base.orders)
    env = DispatchEnv(problem)
    env.reset()
    done = False
    while not done:
        _, _, done, _, _ = env.step(int(np.flatnonzero(env.action_masks())[-1]))
    assert validate(problem, env.schedule()) == []


def test_held_out_instances_are_reproducible() -> None:
    source = stage_source(40)
    first, again = held_out(source, 2), held_out(source, 2)
    assert [p.orders for p in first] == [p.orders for p in again]
    assert first[0].orders != first[1].orders


def test_machine_contention_counts_only_real_eligible_entries() -> None:
    from rrl.generative.features import machine_contention
    from rrl.generative.state import DispatchState

    # 10 machines of 4 types: most orders run on a few machines, so their eligibility
    # rows are padded with entries that point at machine 0
    problem = generate_scenario(machines=10, types=4, orders=40, seed=7).problem
    state = DispatchState(problem)
    ready = state.ready()
    counts = machine_contention(state, ready)
    expected = [sum(1 for i in ready if r in problem.durations[state.ids[i]]) for r in state.machines]
    assert counts.tolist() == expected
    assert (state.dur[ready] == np.inf).any()  # the instance does have padding


def test_contention_feature_of_a_candidate_on_machine_zero() -> None:
    from rrl.generative.features import CANDIDATE, GLOBAL, observe
    from rrl.generative.state import TYPE_BUCKETS, DispatchState

    problem = generate_scenario(machines=10, types=4, orders=40, seed=7).problem
    state = DispatchState(problem)
    cand = state.candidates()
    obs = observe(state).astype(float)
    slots = obs[GLOBAL + TYPE_BUCKETS * 4:].reshape(SLOTS, CANDIDATE)
    for k, o in enumerate(cand.orders):
        machine = state.machines[cand.exact[o].machine]
        true = sum(1 for i in cand.ready if machine in problem.durations[state.ids[i]])
        assert slots[k, 13] == pytest.approx(np.log1p(true) / 5.0, abs=1e-6)


def test_cycling_source_takes_the_problems_in_turn() -> None:
    from rrl.generative.instances import CyclingSource

    problems = held_out(stage_source(4), 3)
    source = CyclingSource(problems)
    rng = np.random.default_rng()
    drawn = [source.sample(rng) for _ in range(7)]
    assert drawn == [problems[k % 3] for k in range(7)]
