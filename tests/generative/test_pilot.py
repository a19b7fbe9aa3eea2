"""The pilot teacher: rollouts that leave the episode as it was, the schedules it builds,
and its distillation into the network (kept only where validation improves)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sb3_contrib")

from click.testing import CliRunner  # noqa: E402

from rrl.cli.main import cli  # noqa: E402
from rrl.domain import Plan, validate  # noqa: E402
from rrl.generative.candidates import CandidateState, F, G  # noqa: E402
from rrl.generative.imitation import teacher_choice  # noqa: E402
from rrl.generative.instances import held_out, stage_source  # noqa: E402
from rrl.generative.pilot import PILOT_TEACHERS, improve, pilot_episode, rollout  # noqa: E402
from rrl.generative.policy import load_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "tardiness.zip"


def test_a_rollout_prices_the_completed_plan_and_leaves_the_episode_alone() -> None:
    problem = held_out(stage_source(10), 1)[0]
    policy = load_model(SHIPPED)
    state = CandidateState(problem, scope=policy.scope, route=policy.route)
    for _ in range(5):  # a few placements in, so that the copy holds a partial schedule
        state.place(state.observe().slots[0])
    ends = dict(state.builder.end)
    slots = state.observe().slots
    values = [rollout(state, slot, "mdd", "tardiness") for slot in slots[:4]]
    assert dict(state.builder.end) == ends
    assert state.observe().slots == slots
    # the builder's ends are the schedule world's: the same value from a plan timed afresh
    import copy

    from rrl.dispatching.rules import complete
    builder = copy.deepcopy(state.builder)
    builder.place(slots[0])
    complete(builder, "mdd", state.tables)
    plan = Plan.build(problem, builder.schedule())
    assert values[0] == pytest.approx(plan.metrics.total_tardiness, abs=1e-6)


@pytest.mark.parametrize("objective", ["tardiness", "makespan"])
def test_pilot_schedules_are_valid_and_their_decisions_fit_the_env(objective: str) -> None:
    policy = load_model(ROOT / "models" / f"{objective}.zip")
    for problem in held_out(stage_source(10), 3):
        found = pilot_episode(problem, policy, k=3, cap=128, objective=objective)
        plan = Plan.build(problem, found.schedule)
        assert validate(problem, found.schedule, plan.times) == []
        assert sorted(o for seq in found.schedule.sequences.values() for o in seq) == sorted(problem.orders)
        measure = plan.metrics.makespan if objective == "makespan" else plan.metrics.total_tardiness
        assert found.objective_value == pytest.approx(measure, abs=1e-6)
        n = len(found.actions)
        assert found.observations.shape[0] == found.masks.shape[0] == found.returns.shape[0] == n
        assert all(found.masks[i, a] for i, a in enumerate(found.actions))
        assert 0 <= found.overruled <= n
        # every decision tried the picks of the objective's own teachers (mwkr and mor
        # for makespan: the tardiness rules' picks would teach nothing about it)
        for i in range(n):
            rows = found.observations[i, G:].reshape(128, F)[: int(found.masks[i].sum())]
            for teacher in PILOT_TEACHERS[objective]:
                assert teacher_choice(teacher, rows) in found.tried[i]


def _scripted_validation(monkeypatch: pytest.MonkeyPatch, values: list[float]) -> None:
    """Make the validation's mean objective follow ``values``, one per call."""
    from rrl.generative import pilot

    calls = iter(values)
    monkeypatch.setattr(pilot, "greedy_cost", lambda *args: next(calls))


def test_a_worse_distillation_puts_the_incoming_network_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from sb3_contrib import MaskablePPO

    from rrl.generative.instances import FixedSource

    model = MaskablePPO.load(SHIPPED, device="cpu")
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    problems = held_out(stage_source(10), 2)
    _scripted_validation(monkeypatch, [10.0, 12.0])
    report = improve(model, [FixedSource(tuple(problems))], problems, episodes=2, epochs=2, learning_rate=1e-3)
    assert not report["kept"] and report["validation_after"] == 10.0 and report["best_round"] is None
    after = model.policy.state_dict()
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)


def test_the_best_round_is_kept_not_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    from sb3_contrib import MaskablePPO

    from rrl.generative.instances import FixedSource

    model = MaskablePPO.load(SHIPPED, device="cpu")
    problems = held_out(stage_source(10), 2)
    kept: list[dict] = []
    from rrl.generative import imitation

    original = imitation.clone

    def recording(model, *args, **kwargs):  # the weights each round ends with
        result = original(model, *args, **kwargs)
        kept.append({k: v.clone() for k, v in model.policy.state_dict().items()})
        return result

    monkeypatch.setattr(imitation, "clone", recording)
    _scripted_validation(monkeypatch, [10.0, 8.0, 9.0])
    report = improve(model, [FixedSource(tuple(problems))], problems, episodes=2, rounds=2, epochs=2,
                     learning_rate=1e-3)
    assert report["kept"] and report["best_round"] == 1 and report["validation_after"] == 8.0
    after = model.policy.state_dict()
    assert all(np.array_equal(kept[0][k].numpy(), after[k].numpy()) for k in after)
    assert not all(np.array_equal(kept[1][k].numpy(), after[k].numpy()) for k in after)


def test_worker_processes_give_the_same_decisions() -> None:
    from rrl.generative.instances import FixedSource
    from rrl.generative.pilot import collect_pilot

    policy = load_model(SHIPPED)
    sources = [FixedSource(tuple(held_out(stage_source(4), 3)))]
    alone = collect_pilot(sources, policy, 3, k=2, seed=1)
    shared = collect_pilot(sources, policy, 3, k=2, workers=2, seed=1)
    assert [d.actions.tolist() for d in alone] == [d.actions.tolist() for d in shared]
    assert [d.objective_value for d in alone] == [d.objective_value for d in shared]


def test_training_ends_with_the_pilot_and_records_it(tmp_path: Path) -> None:
    out = tmp_path / "m.zip"
    result = CliRunner().invoke(cli, [
        "ppo", "train", "--curriculum", "4", "--timesteps", "0", "--resume", str(SHIPPED), "--max-candidates", "128",
        "--pilot-episodes", "3", "--out", str(out), "--json",
    ])
    assert result.exit_code == 0, result.output
    meta = json.loads(out.with_suffix(".json").read_text())
    pilot = meta["pilot"]
    assert pilot["episodes"] == 3 and len(pilot["round"]) == 1 and pilot["round"][0]["decisions"] > 0
    assert pilot["kept"] == (pilot["validation_after"] < pilot["validation_before"])
    assert meta["resumed_from"]["objective"] == "tardiness"
    # the written network is the resumed one exactly where the pilot's was not kept
    written, resumed = load_model(out), load_model(SHIPPED)
    same = all(np.array_equal(getattr(written, name), getattr(resumed, name))
               for name in ("_e0_rows", "_e0_glob", "_e1_w", "_s0_h", "_s1_w"))
    assert same != pilot["kept"]


@pytest.mark.parametrize("args, message", [
    (["--pilot-rounds", "0"], "--pilot-rounds"),
    (["--pilot-episodes", "-1"], "--pilot-episodes"),
])
def test_bad_pilot_options_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["ppo", "train", "--out", str(tmp_path / "m.zip"), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "m.zip").exists()


def test_bad_pilot_settings_in_the_api_are_refused_before_training(tmp_path: Path) -> None:
    from rrl.errors import RRLError
    from rrl.generative.train import TrainConfig, train_ppo

    with pytest.raises(RRLError, match="--pilot-rounds"):
        train_ppo(TrainConfig(out=tmp_path / "m.zip", pilot_episodes=2, pilot_rounds=0))
    assert list(tmp_path.iterdir()) == []


def test_resuming_with_another_candidate_cap_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "m.zip"
    result = CliRunner().invoke(cli, ["ppo", "train", "--curriculum", "4", "--timesteps", "0", "--resume",
                                      str(SHIPPED), "--max-candidates", "32", "--out", str(out)])
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "--max-candidates" in result.output and len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the work directory


def test_soft_targets_share_ties_and_favour_the_best() -> None:
    from rrl.generative.pilot import Decisions, soft_targets

    tried = np.array([[3, 1, 4, -1], [0, 2, -1, -1]])
    values = np.array([[5.0, 5.0, 9.0, np.inf], [2.0, 1.0, np.inf, np.inf]])
    decisions = Decisions(np.zeros((2, 1)), np.ones((2, 6), dtype=bool), np.array([3, 2]), np.zeros(2), 0.0, 0,
                          None, tried, values)  # type: ignore[arg-type]
    targets = soft_targets(decisions, 6, temperature=1.0)
    assert targets.shape == (2, 6)
    assert np.allclose(targets.sum(axis=1), 1.0)
    assert targets[0, 3] == pytest.approx(targets[0, 1]) and targets[0, 3] > targets[0, 4] > 0
    assert targets[0, [0, 2, 5]].sum() == 0
    assert targets[1, 2] > targets[1, 0] > 0
    sharp = soft_targets(decisions, 6, temperature=1e-6)
    assert sharp[1, 2] == pytest.approx(1.0) and sharp[0, 3] == pytest.approx(0.5)


def test_cloning_soft_targets_moves_the_network_towards_them() -> None:
    from sb3_contrib import MaskablePPO

    from rrl.generative.imitation import clone

    model = MaskablePPO.load(SHIPPED, device="cpu")
    policy = load_model(SHIPPED)
    problem = held_out(stage_source(10), 1)[0]
    found = pilot_episode(problem, policy, k=3, cap=128)
    # one-hot targets on the network's second-best row, which it never picks
    targets = np.zeros((len(found.actions), 128), dtype=np.float32)
    targets[np.arange(len(targets)), found.tried[:, 1]] = 1.0
    data = (found.observations, found.masks, targets, found.returns)
    before = clone(model, data, epochs=0)
    after = clone(model, data, epochs=40, batch_size=8, learning_rate=1e-3)
    assert before["agreement"] == 0.0 and after["agreement"] > 0.5

