"""Training MaskablePPO dispatching policies, stage by stage over a curriculum of plants.

Every stage trains the same network on its own instance source (the observation has a
fixed size, so a policy learnt on 2 machines is the starting point on 10, and so on).
The total budget is split evenly over the stages. Each stage has checkpoints and an
evaluation callback on fixed validation instances (seeds from ``VALIDATION_SEED``, apart
from the training and the held-out test seeds), taken in turn by a seeded evaluation
env so that the same seed gives the same model. Each stage starts from the previous
stage's best evaluated model, and the model written at the end is the final stage's best
evaluated model (or the last one when evaluation never ran). The model and its ``.json``
are written through temporary files, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rrl import __version__
from rrl.domain.problem import Problem
from rrl.domain.scenario import load_scenario
from rrl.errors import RRLError
from rrl.generative.env import SETUP_WEIGHT, DispatchEnv
from rrl.generative.features import SIZE
from rrl.generative.instances import (
    CyclingSource,
    FixedSource,
    GeneratedSource,
    InstanceSource,
    MixedSource,
    PlantSource,
    scenario_order_range,
    stage_source,
)
from rrl.generative.models import plant_signature
from rrl.generative.state import SLOTS

#: First seed of the validation instances that the evaluation callback uses.
VALIDATION_SEED = 3_000_000_000


@dataclass
class TrainConfig:
    """What to train on and how long.

    Give ``scenario`` (a plant from a file, random order sets on it), ``problems`` (a
    fixed list of problems, validated on themselves) or ``curriculum`` (machine counts of
    generated plants, trained in that order).
    """

    out: Path
    timesteps: int = 100_000
    curriculum: Sequence[int] = (40,)
    orders: int | None = None
    scenario: Path | None = None
    problems: Sequence[Problem] | None = None
    envs: int = 1
    seed: int = 0
    tensorboard: Path | None = None
    resume: Path | None = None
    progress: bool = False
    eval_episodes: int = 4
    learning_rate: float = 3e-4
    stage_lr_decay: float = 0.5
    replay: float = 0.25
    n_steps: int = 512
    batch_size: int = 128
    n_epochs: int = 5
    gamma: float = 0.99
    ent_coef: float = 0.01
    net_arch: Sequence[int] = (128, 128)
    setup_weight: float = SETUP_WEIGHT
    command: str = ""


@dataclass
class Stage:
    """One curriculum stage: a name, its training source and its validation problems."""

    name: str
    source: InstanceSource
    validation: list[Problem]


@dataclass
class TrainReport:
    """What :func:`train_ppo` did."""

    out: Path
    timesteps: int
    seconds: float
    stages: list[dict[str, Any]] = field(default_factory=list)


def build_stages(config: TrainConfig) -> list[Stage]:
    """The stages of a configuration (one for a scenario or problems, one per curriculum entry)."""
    if config.problems is not None:
        fixed = list(config.problems)
        if not fixed:
            raise RRLError("no problems to train on")
        return [Stage("problems", FixedSource(tuple(fixed)), fixed)]
    if config.scenario is not None:
        scenario = load_scenario(config.scenario)
        count = len(scenario.problem.orders)
        plant = PlantSource(scenario.plant, scenario_order_range(count), own=scenario.problem)
        validation = [plant.problem(VALIDATION_SEED + i) for i in range(config.eval_episodes)]
        return [Stage(scenario.name, plant, validation)]
    stages: list[Stage] = []
    sources: list[GeneratedSource] = []
    own: list[list[Problem]] = []
    last = len(config.curriculum) - 1
    for k, machines in enumerate(config.curriculum):
        generated = stage_source(machines, config.orders if k == last else None)
        validation = [generated.problem(VALIDATION_SEED + i) for i in range(config.eval_episodes)]
        source: InstanceSource = generated
        if sources and config.replay > 0:
            # earlier stages replayed in a share of the episodes, against forgetting
            share = config.replay / len(sources)
            source = MixedSource((generated, *sources), (1.0 - config.replay, *([share] * len(sources))))
        # a stage's best model must also still do well on the previous stage's plants
        stages.append(Stage(f"{machines}m", source, validation + (own[-1] if own else [])))
        sources.append(generated)
        own.append(validation)
    return stages


def train_ppo(config: TrainConfig) -> TrainReport:
    """Train (or continue training) a MaskablePPO policy and save it to ``config.out``.

    Writes ``out`` (the model), ``out`` with suffix ``.json`` (how it was trained) and a
    work directory ``<out>.d/`` with checkpoints and evaluation logs.
    """
    if config.timesteps < 1:
        raise RRLError(f"--timesteps must be >= 1, got {config.timesteps}")
    if config.envs < 1:
        raise RRLError(f"--envs must be >= 1, got {config.envs}")
    if config.tensorboard is not None:
        require_tensorboard()
    import torch
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
    from sb3_contrib.common.maskable.evaluation import evaluate_policy
    from stable_baselines3.common.callbacks import CheckpointCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

    from rrl.generative.policy import load_model

    torch.set_num_threads(1)
    # The evaluation env is one in-process env while training may use subprocesses: fine.
    warnings.filterwarnings("ignore", message="Training and eval env are not of the same type")
    stages = build_stages(config)
    out = Path(config.out)
    work = out.with_name(out.name + ".d")
    work.mkdir(parents=True, exist_ok=True)
    per_stage = max(1, config.timesteps // len(stages))
    began = time.perf_counter()

    def vec(source: InstanceSource, count: int, seed: int) -> VecEnv:
        makers: list[Callable[[], Any]] = [_maker(source, config.setup_weight) for _ in range(count)]
        env: VecEnv = SubprocVecEnv(makers) if count > 1 else DummyVecEnv(makers)  # type: ignore[arg-type]
        env.seed(seed)
        return env

    def load(path: Path, env: VecEnv) -> Any:
        # loading with the env sizes the rollout buffer for this run's --envs
        loaded = MaskablePPO.load(path, env=env, device="cpu")
        loaded.tensorboard_log = str(config.tensorboard) if config.tensorboard is not None else None
        return loaded

    model: Any = None
    report = TrainReport(out, 0, 0.0)
    bar = _Progress(config.timesteps if config.progress else 0)
    best_path: Path | None = None
    trained = 0
    for index, stage in enumerate(stages):
        env = vec(stage.source, config.envs, config.seed + 1000 * index)
        if model is None:
            if config.resume is not None:
                load_model(config.resume)  # one-line errors for a bad file, and a shape check
                model = load(config.resume, env)
                # loading re-seeds the network with the seed stored in the file: --seed wins
                model.set_random_seed(config.seed)
            else:
                model = MaskablePPO(
                    "MlpPolicy", env, learning_rate=config.learning_rate, n_steps=config.n_steps,
                    batch_size=config.batch_size, n_epochs=config.n_epochs, gamma=config.gamma,
                    ent_coef=config.ent_coef, seed=config.seed, device="cpu", verbose=0,
                    tensorboard_log=str(config.tensorboard) if config.tensorboard else None,
                    policy_kwargs={"net_arch": {"pi": list(config.net_arch), "vf": list(config.net_arch)}},
                )
        elif best_path is not None:
            # the previous stage's best evaluated model (perhaps the one it was given), not
            # its last weights, goes on: a stage never hands on a worse model than its best
            timesteps = model.num_timesteps
            model = load(best_path, env)
            model.num_timesteps = timesteps
        else:
            model.set_env(env)
        # Later stages fine-tune: a smaller step keeps what the smaller plants taught.
        rate = config.learning_rate * config.stage_lr_decay ** index
        model.learning_rate = rate
        model.lr_schedule = _constant(rate)
        stage_dir = work / f"stage{index + 1}-{stage.name}"
        stage_dir.mkdir(parents=True, exist_ok=True)
        # a best model left by an earlier run in the same OUT.d must not be taken for this one's
        (stage_dir / "best_model.zip").unlink(missing_ok=True)
        # the validation problems in turn, seeded: every evaluation sees each problem once
        eval_env = DummyVecEnv([_maker(CyclingSource(stage.validation), config.setup_weight)])
        eval_env.seed(config.seed + 1000 * index + 500)
        evaluator = MaskableEvalCallback(
            eval_env, n_eval_episodes=len(stage.validation), eval_freq=max(1, per_stage // (4 * config.envs)),
            best_model_save_path=str(stage_dir), log_path=str(stage_dir), deterministic=True, verbose=0,
        )
        if index > 0 or config.resume is not None:
            # The incoming model is a candidate too: training on a new stage can make it worse.
            before, _ = evaluate_policy(model, eval_env, n_eval_episodes=len(stage.validation),
                                        deterministic=True, use_masking=True)
            evaluator.best_mean_reward = float(before)  # type: ignore[arg-type]
            model.save(stage_dir / "best_model.zip")
        checkpoints = CheckpointCallback(save_freq=max(1, per_stage // (2 * config.envs)),
                                         save_path=str(stage_dir / "checkpoints"), name_prefix="ppo")
        model.learn(total_timesteps=per_stage, callback=[evaluator, checkpoints, bar.callback()],
                    reset_num_timesteps=False, tb_log_name="ppo", progress_bar=False)
        env.close()
        eval_env.close()
        trained += per_stage
        candidate = stage_dir / "best_model.zip"
        best_path = candidate if candidate.is_file() else None
        report.stages.append({"stage": stage.name, "timesteps": per_stage,
                              "best_eval_reward": float(evaluator.best_mean_reward)})
    bar.close()
    report.timesteps = max(int(model.num_timesteps), trained)
    report.seconds = time.perf_counter() - began
    if best_path is None:
        best_path = work / "last_model.zip"
        model.save(best_path)
    install_model(best_path, out, _metadata(config, report))
    return report


def require_tensorboard() -> None:
    """Fail before training (one line, with the fix) when TensorBoard logs are asked for
    but the ``tensorboard`` package is missing; SB3 would only fail once training runs."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise RRLError("--tensorboard needs the tensorboard package: pip install tensorboard") from None


def install_model(source: Path, out: Path, meta: dict[str, Any]) -> None:
    """Copy the model file ``source`` to ``out`` and write ``meta`` beside it as ``.json``.

    Both are first written to temporary files in ``out``'s directory and then moved into
    place with ``os.replace``: an interrupted run leaves the previous model and its .json
    (or, between the two moves, the new model without a .json), never half a file or a
    .json that describes another model.
    """
    out = Path(out)
    side = out.with_suffix(".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    temps: list[str] = []
    try:
        for name in (out.name, side.name):
            handle, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{name}.", suffix=".tmp")
            os.close(handle)
            temps.append(temp)
        with open(source, "rb") as origin, open(temps[0], "wb") as target:
            shutil.copyfileobj(origin, target)
        Path(temps[1]).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        for temp in temps:  # mkstemp makes private files; give them a normal file's mode
            os.chmod(temp, 0o666 & ~umask)
        side.unlink(missing_ok=True)  # the old .json must not outlive its model
        os.replace(temps[0], out)
        os.replace(temps[1], side)
    finally:
        for temp in temps:
            Path(temp).unlink(missing_ok=True)


def _constant(value: float) -> Any:
    """A constant learning-rate schedule that SB3 can save (its class where available)."""
    try:
        from stable_baselines3.common.utils import ConstantSchedule

        return ConstantSchedule(value)
    except ImportError:  # stable-baselines3 < 2.7
        from stable_baselines3.common.utils import get_schedule_fn

        return get_schedule_fn(value)


def _maker(source: InstanceSource, setup_weight: float) -> Callable[[], Any]:
    # Monitor records episode returns and lengths for the logs and the evaluation callback.
    from stable_baselines3.common.monitor import Monitor

    def make() -> Any:
        return Monitor(DispatchEnv(source, setup_weight=setup_weight))

    return make


def _metadata(config: TrainConfig, report: TrainReport) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "rrl_version": __version__,
        "command": config.command,
        "observation": SIZE,
        "slots": SLOTS,
        "timesteps": report.timesteps,
        "seconds": round(report.seconds, 1),
        "stages": report.stages,
        "config": {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                   for k, v in asdict(config).items() if k not in ("out", "command", "progress", "problems")},
    }
    if config.scenario is not None or config.problems is not None:
        for key in ("curriculum", "orders"):  # not used by these sources
            meta["config"].pop(key, None)
    if config.scenario is not None:
        meta["plant_signature"] = plant_signature(load_scenario(config.scenario).plant)
    return meta


class _Progress:
    """A tqdm bar on stderr over the whole run (all stages); inert when total is 0."""

    def __init__(self, total: int) -> None:
        self.bar: Any = None
        if total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="step", desc="ppo", dynamic_ncols=True)

    def callback(self) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        bar = self.bar

        class _Tick(BaseCallback):
            def _on_step(self) -> bool:
                if bar is not None:
                    bar.update(self.training_env.num_envs)
                return True

        return _Tick()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
