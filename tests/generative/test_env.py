"""The construction environment: Gymnasium contract, masks, timing agreement, features."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from rrl.dispatching import dispatch  # noqa: E402
from rrl.domain import Plan, validate  # noqa: E402
from rrl.domain.formats import read_instance  # noqa: E402
from rrl.domain.generate import generate_scenario  # noqa: E402
from rrl.errors import RRLError  # noqa: E402
from rrl.events import breakdown, clock  # noqa: E402
from rrl.generative.candidates import CANDIDATE_FEATURES, LIMIT, CandidateState, F, G  # noqa: E402
from rrl.generative.env import DispatchEnv, InvalidAction, flat_size  # noqa: E402
from rrl.generative.imitation import teacher_choice  # noqa: E402
from rrl.generative.instances import held_out, stage_source  # noqa: E402
from rrl.generative.shapes import FlexibleShopSource, JobShopSource  # noqa: E402
from tests.conftest import BENCHMARKS, benchmark_yamls  # noqa: E402

COL = {name: k for k, name in enumerate(CANDIDATE_FEATURES)}


def _run_random(env: DispatchEnv, rng: np.random.Generator) -> float:
    """Play random masked actions to the end, checking every mask; the return."""
    obs, _ = env.reset()
    total = env._carry
    state = env.state
    assert state is not None
    done = state.done
    while not done:
        assert obs.shape == (flat_size(env.max_candidates),) and np.all(np.abs(obs) <= LIMIT)
        mask = env.action_masks()
        assert mask.any(), "every action masked while orders remain"
        rows = obs[G:].reshape(env.max_candidates, F)
        # exactly the rows that hold a candidate are open, and each candidate is feasible now
        assert (rows[:, COL["valid"]] == 1.0).tolist() == mask.tolist()
        placed = set(state.builder.end)
        for slot in state.observe(env.max_candidates).slots:
            spec = state.problem.orders[slot.order]
            assert slot.order not in placed and slot.resource in state.problem.durations[slot.order]
            assert all(a in placed for a in spec.after)
        obs, reward, done, _, _ = env.step(int(rng.choice(np.flatnonzero(mask))))
        total += reward
    return total


def _check_schedule(env: DispatchEnv) -> Plan:
    """The episode's schedule is complete, valid, and timed exactly as Plan.build times it."""
    state = env.state
    assert state is not None
    problem = state.problem
    schedule = env.schedule()
    assert sorted(schedule.orders()) == sorted(problem.orders)
    plan = Plan.build(problem, schedule)
    assert validate(problem, schedule, plan.times) == []
    for order, end in state.builder.end.items():
        assert end == pytest.approx(plan.times.end[order], abs=1e-9)
    assert state.placed_tardiness == pytest.approx(plan.total_tardiness, abs=1e-6)
    return plan


@settings(max_examples=40, deadline=None)
@given(machines=st.integers(1, 12), orders=st.integers(1, 60), steps=st.integers(1, 4), breaks=st.booleans(),
       seed=st.integers(0, 10_000), choice=st.integers(0, 10_000), scope=st.sampled_from(["nondelay", "active"]),
       route=st.sampled_from(["all", "ect"]), cap=st.sampled_from([2, 8, 64]),
       objective=st.sampled_from(["tardiness", "makespan"]))
def test_masks_on_generated_plants(machines, orders, steps, breaks, seed, choice, scope, route, cap,
                                   objective) -> None:
    problem = generate_scenario(machines=machines, types=min(machines, 4), orders=orders, family_steps=steps,
                                breaks=breaks, seed=seed).problem
    env = DispatchEnv(problem, objective=objective, scope=scope, route=route, max_candidates=cap,
                      skip_forced=bool(choice % 2))
    total = _run_random(env, np.random.default_rng(choice))
    plan = _check_schedule(env)
    # the return is the scaled drop of the objective's bound: start bound minus the result
    state = env.state
    assert state is not None
    start = CandidateState(problem).potential(objective)
    final = plan.metrics.makespan if objective == "makespan" else plan.total_tardiness
    assert total == pytest.approx((start - final) * env._scale, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", benchmark_yamls(["mk01", "mk04", "mk10", "ft06", "la01"]))
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), scope=st.sampled_from(["nondelay", "active"]), cap=st.sampled_from([4, 64]))
def test_masks_on_imported_benchmark_files(name, seed, scope, cap) -> None:
    raw = (BENCHMARKS / name).with_suffix(".fjs" if name.startswith("fjsp/") else ".jsp")
    problem = read_instance(raw).problem
    env = DispatchEnv(problem, objective="makespan", scope=scope, max_candidates=cap)
    _run_random(env, np.random.default_rng(seed))
    _check_schedule(env)


@pytest.mark.parametrize("objective", ["tardiness", "makespan"])
def test_check_env_passes(objective) -> None:
    for env in (DispatchEnv(stage_source(10), objective=objective),
                DispatchEnv(FlexibleShopSource(), objective=objective, max_candidates=16)):
        # Gymnasium's checker steps with unmasked samples of the action space, and a masked
        # action is refused (MaskablePPO never takes one): a seeded space draws the same
        # actions every run, instead of failing on a masked one now and then.
        env.action_space.seed(0)
        check_env(env, skip_render_check=True)


def test_masked_action_is_refused() -> None:
    env = DispatchEnv(generate_scenario(machines=2, types=1, orders=3, seed=0).problem, skip_forced=False)
    env.reset()
    with pytest.raises(InvalidAction):
        env.step(int(np.flatnonzero(~env.action_masks())[0]))


def test_same_seed_same_episode() -> None:
    def run(seed: int) -> tuple:
        env = DispatchEnv(stage_source(10))
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, done, _, _ = env.step(int(np.flatnonzero(env.action_masks())[-1]))
        return tuple(sorted(env.schedule().to_dict().items()))

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_frozen_orders_stay_and_downtime_is_respected(extruders) -> None:
    problem = extruders.problem
    plan = Plan.build(problem, dispatch(problem, "edd"))
    disrupted = breakdown(clock(plan, 5.0), "ext2", 6.0, 4.0).plan
    env = DispatchEnv(disrupted.problem, keep=disrupted.schedule)
    _run_random(env, np.random.default_rng(0))
    schedule = env.schedule()
    new = Plan.build(disrupted.problem, schedule)
    assert validate(disrupted.problem, schedule, new.times, reference=(disrupted.schedule, disrupted.times)) == []


@pytest.mark.parametrize("name", ["all_urgent", "machine_breakdown", "rush_order", "overload"])
def test_stress_scenarios_give_valid_episodes(name) -> None:
    from rrl.generative.instances import stress

    problem = stress(held_out(stage_source(10), 1)[0], name, seed=1)
    env = DispatchEnv(problem)
    _run_random(env, np.random.default_rng(1))
    _check_schedule(env)


def test_generated_shops_have_the_benchmark_shapes() -> None:
    for seed in range(5):
        fjs = FlexibleShopSource().problem(seed)
        jobs = [o for o, spec in fjs.orders.items() if not spec.after]
        assert 10 <= len(jobs) <= 20 and 4 <= len(fjs.plant.resources) <= 15
        times = [t for d in fjs.durations.values() for t in d.values()]
        assert all(1 <= t <= 20 and float(t).is_integer() for t in times)
        jsp = JobShopSource().problem(seed)
        machines = len(jsp.plant.resources)
        assert all(len(d) == 1 for d in jsp.durations.values())
        assert len(jsp.orders) == machines * sum(1 for spec in jsp.orders.values() if not spec.after)


def test_teacher_clones_the_rule_it_names() -> None:
    # slack: among the candidates at their order's earliest completion, least due - end
    problem = held_out(stage_source(10), 1)[0]
    state = CandidateState(problem, scope="active")
    obs = state.observe()
    k = teacher_choice("slack", obs.rows)
    ect = [i for i, s in enumerate(obs.slots)
           if s.end <= min(state.builder.slot(s.order, r).end for r in problem.durations[s.order]) + 1e-9]
    assert k in ect
    chosen = obs.slots[k]
    assert problem.orders[chosen.order].due - chosen.end == pytest.approx(
        min(problem.orders[obs.slots[i].order].due - obs.slots[i].end for i in ect))


@pytest.mark.parametrize("rule", ["mwkr", "fdd_mwkr"])
def test_teacher_builds_what_its_rule_builds_on_job_shops(rule) -> None:
    # in a job shop every order has one resource, so the teacher's non-delay choice by
    # its rule's key is the rule's
    problem = JobShopSource().problem(3)
    state = CandidateState(problem, scope="nondelay")
    while not state.done:
        obs = state.observe()
        state.place(obs.slots[teacher_choice(rule, obs.rows, obs.slots, state.tables)])
    ours = Plan.build(problem, state.schedule()).metrics.makespan
    assert ours == pytest.approx(Plan.build(problem, dispatch(problem, rule)).metrics.makespan)


def test_a_slot_teacher_refuses_rows_without_their_slots() -> None:
    state = CandidateState(JobShopSource().problem(3), scope="nondelay")
    obs = state.observe()
    with pytest.raises(RRLError, match="one slot per candidate row"):
        teacher_choice("fdd_mwkr", obs.rows)
    with pytest.raises(RRLError, match="one slot per candidate row"):
        teacher_choice("fdd_mwkr", obs.rows, obs.slots[:-1], state.tables)
    with pytest.raises(RRLError, match="unknown teacher"):
        teacher_choice("fdd", obs.rows, obs.slots, state.tables)


def test_rows_are_cut_to_the_cap_and_keep_the_best_ranked() -> None:
    problem = held_out(stage_source(40), 1)[0]
    full = CandidateState(problem, scope="active").observe()
    assert len(full.slots) > 16
    cut = CandidateState(problem, scope="active").observe(16)
    assert len(cut.slots) == 16 and set(cut.slots) <= set(full.slots)
    # the least-slack and the earliest-due candidates survive the cut
    for column in ("slack", "due"):
        best = full.slots[int(np.argmin(full.rows[:, COL[column]]))]
        assert best in cut.slots


def test_cycling_source_takes_the_problems_in_turn() -> None:
    from rrl.generative.instances import CyclingSource

    problems = held_out(stage_source(4), 3)
    source = CyclingSource(problems)
    rng = np.random.default_rng()
    assert [source.sample(rng) for _ in range(7)] == [problems[k % 3] for k in range(7)]


def test_held_out_instances_are_reproducible() -> None:
    source = stage_source(40)
    first, again = held_out(source, 2), held_out(source, 2)
    assert [p.orders for p in first] == [p.orders for p in again]
    assert first[0].orders != first[1].orders


def test_held_out_instances_further_on_are_the_same_plants_a_longer_list_holds() -> None:
    """``first`` skips held-out seeds: a fresh sample, yet the plants of the long list."""
    source = stage_source(10)
    longer, later = held_out(source, 3), held_out(source, 2, first=1)
    assert [p.orders for p in later] == [p.orders for p in longer[1:]]
