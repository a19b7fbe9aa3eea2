"""Training, the safety wrapper, the shipped models and the ``rrl ppo`` command line."""

from __future__ import annotations

import json
import statistics
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sb3_contrib")

from click.testing import CliRunner  # noqa: E402

from rrl.cli.main import cli  # noqa: E402
from rrl.dispatching import dispatch  # noqa: E402
from rrl.domain import Plan, validate  # noqa: E402
from rrl.generative.env import DispatchEnv  # noqa: E402
from rrl.generative.instances import held_out, stage_source  # noqa: E402
from rrl.generative.policy import load_model, run_policy  # noqa: E402
from rrl.generative.safety import COUNTER, PPOFallbackWarning, generate_schedule, ppo_schedule  # noqa: E402
from rrl.generative.train import TrainConfig, train_ppo  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXTRUDERS = ROOT / "scenarios" / "extruders.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A policy trained for a few thousand steps on four 10-machine instances."""
    problems = held_out(stage_source(10), 4)
    out = tmp_path_factory.mktemp("ppo") / "model.zip"
    train_ppo(TrainConfig(out=out, timesteps=4096, problems=problems, n_steps=256, batch_size=64,
                          learning_rate=1e-3, seed=0))
    return out, problems


def _random_tardiness(problem, seed: int) -> float:
    env = DispatchEnv(problem)
    env.reset()
    rng = np.random.default_rng(seed)
    done = False
    while not done:
        _, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
    assert env.state is not None
    return env.state.total_tardiness


def test_short_training_beats_the_random_policy(trained) -> None:
    path, problems = trained
    model = load_model(path)
    learnt = statistics.mean(Plan.build(p, run_policy(p, model)[0]).total_tardiness for p in problems)
    uniform = statistics.mean(_random_tardiness(p, s) for p in problems for s in range(5))
    assert learnt < uniform
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["timesteps"] >= 4096 and meta["slots"] == 12


def test_policy_is_deterministic(trained) -> None:
    path, problems = trained
    model = load_model(path)
    assert run_policy(problems[0], model)[0] == run_policy(problems[0], model)[0]


def test_ppo_schedule_is_validated(trained) -> None:
    path, problems = trained
    result = ppo_schedule(problems[1], path)
    assert result.source == "ppo" and not result.fallback
    assert validate(problems[1], result.plan.schedule, result.plan.times) == []


class _Masked:
    """A 'model' whose output is forced invalid: it always picks the last slot, masked or not."""

    def predict(self, observation, state=None, episode_start=None, deterministic=False, action_masks=None):
        return np.array(len(action_masks) - 1), None


class _Broken:
    """A 'model' whose inference fails."""

    def predict(self, observation, state=None, episode_start=None, deterministic=False, action_masks=None):
        raise RuntimeError("network exploded")


@pytest.mark.parametrize("model", [_Masked(), _Broken()])
def test_safety_wrapper_falls_back_and_reports_it(model) -> None:
    problem = held_out(stage_source(10), 1)[0]
    before = COUNTER.fallbacks
    result = ppo_schedule(problem, model)
    assert result.fallback and result.source in ("fallback:edd", "fallback:atcs")
    assert result.reason
    assert COUNTER.fallbacks == before + 1
    best = min(Plan.build(problem, dispatch(problem, r)).total_tardiness for r in ("edd", "atcs"))
    assert result.plan.total_tardiness == pytest.approx(best)
    assert validate(problem, result.plan.schedule, result.plan.times) == []
    with pytest.warns(PPOFallbackWarning):
        generate_schedule(problem, model=model)


def test_generate_schedule_from_plant_and_orders(trained) -> None:
    path, problems = trained
    problem = problems[2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PPOFallbackWarning)
        plan = generate_schedule(problem.plant, problem.orders.values(), path)
    assert sorted(plan.schedule.orders()) == sorted(problem.orders)


def test_corrupted_model_file_is_one_line_error(tmp_path: Path, trained) -> None:
    path, _ = trained
    bad = tmp_path / "bad.zip"
    bad.write_bytes(path.read_bytes()[:2000])  # a truncated zip
    garbage = tmp_path / "garbage.zip"
    garbage.write_text("not a model")
    runner = CliRunner()
    for model in (bad, garbage, tmp_path / "missing.zip"):
        result = runner.invoke(cli, ["schedule", "--scenario", str(EXTRUDERS), "--rule", "ppo",
                                     "--model", str(model)])
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rrl: error: PPO model"), result.output


@pytest.mark.parametrize("args, message", [
    (["--curriculum", "2,ten"], "--curriculum"),
    (["--curriculum", "0,10"], "--curriculum"),
    ([], "nothing to train on"),
    (["--scenario", str(EXTRUDERS), "--curriculum", "2,10"], "not both"),
    (["--generate", "--timesteps", "0"], "--timesteps"),
    (["--generate", "--resume", "nowhere.zip"], "--resume"),
])
def test_train_bad_input_is_one_line(tmp_path: Path, args, message) -> None:
    result = CliRunner().invoke(cli, ["ppo", "train", "--out", str(tmp_path / "m.zip"), *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output


def test_evaluate_prints_kpi_table(trained) -> None:
    path, _ = trained
    result = CliRunner().invoke(cli, ["ppo", "evaluate", "--model", str(path), "--instances", "2",
                                      "--machines", "10", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    methods = {row["method"]: row for row in data["methods"]}
    assert set(methods) == {"random", "first_fit", "edd", "atcs", "ppo"}
    assert all(row["break_work_h"] == 0 for row in methods.values())
    stressed = CliRunner().invoke(cli, ["ppo", "evaluate", "--model", str(path), "--instances", "1",
                                        "--machines", "10", "--stress", "machine_breakdown"])
    assert stressed.exit_code == 0 and "PPO" in stressed.output


def test_shipped_extruder_model_works_out_of_the_box() -> None:
    if not (ROOT / "models" / "extruders.zip").is_file():
        pytest.skip("the extruder model is not trained yet")
    result = CliRunner().invoke(cli, ["schedule", "--scenario", str(EXTRUDERS), "--rule", "ppo", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["schedule"]) == 15


def _weights(path: Path) -> dict:
    return {k: v.clone() for k, v in load_model(path).policy.state_dict().items()}


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def test_same_seed_same_training(tmp_path: Path) -> None:
    # long enough for the evaluation callback to choose a best model several times, on
    # validation instances that must be the same ones in both runs (of mixed sizes, so
    # that evaluating on other draws would change which model is best)
    problems = held_out(stage_source(10), 3) + held_out(stage_source(3), 3)
    weights = []
    for name in ("a", "b"):
        out = tmp_path / name / "model.zip"
        train_ppo(TrainConfig(out=out, timesteps=4096, problems=problems, n_steps=256, batch_size=64,
                              learning_rate=1e-3, seed=3))
        weights.append(_weights(out))
    assert _same_weights(weights[0], weights[1])


def test_next_stage_starts_from_the_best_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sb3_contrib.common.maskable.evaluation as evaluation

    incoming = []
    original = evaluation.evaluate_policy

    def spy(model, *args, **kwargs):  # the evaluation of the model a stage is given
        incoming.append({k: v.clone() for k, v in model.policy.state_dict().items()})
        return original(model, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_policy", spy)
    out = tmp_path / "cur.zip"
    train_ppo(TrainConfig(out=out, timesteps=2048, curriculum=(2, 4), n_steps=256, batch_size=64, seed=1))
    assert len(incoming) == 1
    assert _same_weights(incoming[0], _weights(tmp_path / "cur.zip.d" / "stage1-2m" / "best_model.zip"))


def test_resume_is_seeded(tmp_path: Path) -> None:
    # one problem: the environments draw nothing at random, only the network's seed counts
    problems = held_out(stage_source(4), 1)
    base = tmp_path / "base.zip"
    train_ppo(TrainConfig(out=base, timesteps=256, problems=problems, n_steps=128, batch_size=64, seed=0))
    weights = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        out = tmp_path / f"{name}.zip"
        train_ppo(TrainConfig(out=out, timesteps=512, problems=problems, n_steps=128, batch_size=64, seed=seed,
                              resume=base))
        weights.append(_weights(out))
    assert _same_weights(weights[0], weights[1])
    assert not _same_weights(weights[0], weights[2])


def test_model_and_json_are_replaced_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrl.generative import train as train_module

    source = tmp_path / "new.zip"
    source.write_bytes(b"new model" * 1000)
    out = tmp_path / "m.zip"
    out.write_bytes(b"old model")
    out.with_suffix(".json").write_text('{"old": true}')

    def interrupted(origin, target, *args):
        target.write(origin.read(100))
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module.shutil, "copyfileobj", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_module.install_model(source, out, {"new": True})
    assert out.read_bytes() == b"old model"
    assert json.loads(out.with_suffix(".json").read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.zip", "new.zip"]
    monkeypatch.undo()
    train_module.install_model(source, out, {"new": True})
    assert out.read_bytes() == source.read_bytes()
    assert json.loads(out.with_suffix(".json").read_text()) == {"new": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.zip", "new.zip"]


def test_curriculum_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "cur.zip"
    result = CliRunner().invoke(cli, ["ppo", "train", "--curriculum", "2,4", "--timesteps", "1024", "--out", str(out),
                                      "--seed", "0", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [s["stage"] for s in data["stages"]] == ["2m", "4m"]
    meta = json.loads(out.with_suffix(".json").read_text())
    # options typed with their default value (--seed 0) are recorded too
    assert meta["command"] == f"rrl ppo train --curriculum 2,4 --timesteps 1024 --out {out} --seed 0 --json"
    assert meta["config"]["curriculum"] == [2, 4]
    assert (tmp_path / "cur.zip.d" / "stage2-4m" / "best_model.zip").is_file()
    assert ppo_schedule(held_out(stage_source(4), 1)[0], out).source == "ppo"


def _disrupted():
    from rrl.domain.scenario import load_scenario
    from rrl.events import breakdown, clock

    problem = load_scenario(EXTRUDERS).problem
    plan = Plan.build(problem, dispatch(problem, "edd"))
    return breakdown(clock(plan, 5.0), "ext2", 6.0, 4.0).plan


def test_frozen_orders_without_keep_are_refused() -> None:
    from rrl.errors import RRLError

    disrupted = _disrupted()
    assert disrupted.problem.frozen
    with pytest.raises(RRLError, match="keep"):
        DispatchEnv(disrupted.problem).reset()
    for model in (_Broken(), _Masked()):
        with pytest.raises(RRLError, match="keep"):
            ppo_schedule(disrupted.problem, model)
        with pytest.raises(RRLError, match="keep"):
            generate_schedule(disrupted.problem, model=model)
    # with the current schedule, the fallback keeps the frozen orders and is validated
    result = ppo_schedule(disrupted.problem, _Broken(), keep=disrupted.schedule)
    assert result.fallback
    reference = (disrupted.schedule, disrupted.times)
    assert validate(disrupted.problem, result.plan.schedule, result.plan.times, reference=reference) == []


def test_invalid_fallback_is_never_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    from rrl.domain.schedule import Schedule
    from rrl.errors import RRLError
    from rrl.generative import safety

    problem = held_out(stage_source(4), 1)[0]

    def lossy(problem, rule, **kwargs):  # a rule that forgets an order
        schedule = dispatch(problem, rule, **kwargs)
        first = next(r for r, seq in schedule.sequences.items() if seq)
        return Schedule({r: (seq[1:] if r == first else seq) for r, seq in schedule.sequences.items()})

    monkeypatch.setattr(safety, "dispatch", lossy)
    with pytest.raises(RRLError, match="no fallback rule gives a valid plan"):
        ppo_schedule(problem, _Broken())


def test_machines_must_be_positive(tmp_path: Path) -> None:
    out = tmp_path / "m.zip"
    for command in (["train", "--generate", "--machines", "0", "--out", str(out)],
                    ["evaluate", "--machines", "0"]):
        result = CliRunner().invoke(cli, ["ppo", *command])
        assert result.exit_code == 2 and "--machines" in result.output, result.output
    assert not out.exists() and not (tmp_path / "m.zip.d").exists()


def test_tensorboard_missing_is_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    out = tmp_path / "m.zip"
    result = CliRunner().invoke(cli, ["ppo", "train", "--generate", "--machines", "2", "--timesteps", "64",
                                      "--out", str(out), "--tensorboard", str(tmp_path / "tb")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "pip install tensorboard" in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    from rrl.errors import RRLError

    with pytest.raises(RRLError, match="pip install tensorboard"):
        train_ppo(TrainConfig(out=out, timesteps=64, curriculum=(2,), tensorboard=tmp_path / "tb"))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_evaluate_without_a_model_uses_the_shipped_one() -> None:
    from rrl.generative.evaluate import evaluate

    if not (ROOT / "models" / "generated.zip").is_file():
        pytest.skip("the generated-plant model is not trained yet")
    rows = evaluate(held_out(stage_source(4), 1), methods=("edd", "ppo"))
    assert [r.method for r in rows] == ["edd", "ppo"] and rows[1].fallbacks == 0
