"""Training candidate-scoring MaskablePPO policies, stage by stage.

Training has two phases:

1. imitation (:mod:`rrl.generative.imitation`): a rule's choices over the candidate rows
   are cloned into the network (policy and value), so that PPO starts from a policy that
   schedules as well as that rule;
2. PPO, stage by stage over a curriculum of instance sources: every stage trains the same
   network (its weights do not depend on the instance size), with checkpoints and an
   evaluation callback on fixed validation instances (seeds from ``VALIDATION_SEED``,
   apart from the training and the held-out test seeds), taken in turn by a seeded
   evaluation env so that the same seed gives the same model. The model that enters a
   stage is evaluated first and is a candidate too; each stage starts from the previous
   stage's best evaluated model, and the model written at the end is the final stage's
   best evaluated model.

The model file is MaskablePPO's ``.zip`` plus the numpy twin of the network
(:data:`rrl.generative.policy.MEMBER`), which is all that scheduling reads. The model and
its ``.json`` are written through temporary files, so an interrupted run never leaves
half a file.
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
from rrl.generative.candidates import OBJECTIVES, F, G
from rrl.generative.env import DispatchEnv
from rrl.generative.instances import (
    CyclingSource,
    FixedSource,
    InstanceSource,
    MixedSource,
    PlantSource,
    scenario_order_range,
    stage_source,
)
from rrl.generative.models import plant_signature
from rrl.generative.shapes import SHOPS

#: First seed of the validation instances that the evaluation callback uses.
VALIDATION_SEED = 3_000_000_000
#: Where the pilot's validation instances start (after the evaluation callback's).
PILOT_VALIDATION_SEED = VALIDATION_SEED + 1_000


#: Environment settings and teacher per objective (see docs/ppo.md for how they were chosen).
DEFAULTS = {
    "tardiness": {"scope": "active", "route": "all", "teacher": "slack"},
    "makespan": {"scope": "nondelay", "route": "all", "teacher": "fdd_mwkr"},
}


@dataclass
class TrainConfig:
    """What to train on and how long.

    Give ``scenario`` (a plant from a file, random order sets on it), ``problems`` (a
    fixed list of problems, validated on themselves), ``shops`` (generated flexible job
    shops / job shops of benchmark-like shapes, see :mod:`rrl.generative.shapes`) or
    ``curriculum`` (machine counts of generated plants, trained in that order).
    ``scope``, ``route`` and ``teacher`` default by objective (:data:`DEFAULTS`);
    ``teacher="none"`` skips imitation. ``pilot_episodes`` > 0 ends training by distilling
    the pilot teacher (:mod:`rrl.generative.pilot`) into the final model, kept if it does
    better on ``pilot_validation`` problems per stage.
    """

    out: Path
    objective: str = "tardiness"
    timesteps: int = 100_000
    curriculum: Sequence[int] = (10, 40)
    orders: int | None = None
    shops: Sequence[str] = ()
    scenario: Path | None = None
    problems: Sequence[Problem] | None = None
    scope: str | None = None
    route: str | None = None
    max_candidates: int = 64
    hidden: int = 64
    teacher: str | None = None
    imitation_episodes: int = 200
    imitation_epochs: int = 15
    envs: int = 1
    seed: int = 0
    tensorboard: Path | None = None
    resume: Path | None = None
    progress: bool = False
    eval_episodes: int = 8
    learning_rate: float = 1e-4
    stage_lr_decay: float = 0.5
    replay: float = 0.25
    n_steps: int = 512
    batch_size: int = 128
    n_epochs: int = 4
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip_range: float = 0.1
    ent_coef: float = 0.001
    pilot_episodes: int = 0
    pilot_rounds: int = 1
    pilot_k: int = 4
    pilot_epochs: int = 6
    pilot_learning_rate: float = 3e-4
    pilot_temperature: float = 0.5
    pilot_validation: int = 100
    command: str = ""

    def setting(self, name: str) -> str:
        """``scope``, ``route`` or ``teacher``: as given, else the objective's default."""
        value = getattr(self, name)
        return str(value) if value is not None else DEFAULTS[self.objective][name]


@dataclass
class Stage:
    """One curriculum stage: a name, its training source and its validation problems
    (``draw``: the problem of a seed from the stage's own distribution, where it has one)."""

    name: str
    source: InstanceSource
    validation: list[Problem]
    draw: Callable[[int], Problem] | None = None


@dataclass
class TrainReport:
    """What :func:`train_ppo` did."""

    out: Path
    timesteps: int
    seconds: float
    stages: list[dict[str, Any]] = field(default_factory=list)
    imitation: dict[str, Any] = field(default_factory=dict)
    pilot: dict[str, Any] = field(default_factory=dict)


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
        return [Stage(scenario.name, plant, validation, plant.problem)]
    if config.shops:
        unknown = [name for name in config.shops if name not in SHOPS]
        if unknown:
            raise RRLError(f"unknown shop family '{unknown[0]}' (expected one of {', '.join(SHOPS)})")
        shops = [SHOPS[name]() for name in config.shops]
        per = max(1, config.eval_episodes // len(shops))
        validation = [shop.problem(VALIDATION_SEED + i) for shop in shops for i in range(per)]
        mixed = MixedSource(tuple(shops), tuple([1.0] * len(shops)))
        return [Stage("+".join(config.shops), mixed, validation, lambda seed: shops[seed % len(shops)].problem(seed))]
    stages: list[Stage] = []
    sources: list[InstanceSource] = []
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
        stages.append(Stage(f"{machines}m", source, validation + (own[-1] if own else []), generated.problem))
        sources.append(generated)
        own.append(validation)
    return stages


def train_ppo(config: TrainConfig) -> TrainReport:
    """Train (or continue training) a MaskablePPO policy and save it to ``config.out``.

    Writes ``out`` (the model), ``out`` with suffix ``.json`` (how it was trained) and a
    work directory ``<out>.d/`` with checkpoints and evaluation logs (removed again when
    the run fails before it holds a model: no empty folder is left behind).
    """
    out = Path(config.out)
    work = out.with_name(out.name + ".d")
    created = not work.exists()
    try:
        return _train_ppo(config, work)
    except BaseException:
        if created and work.is_dir() and not any(work.rglob("*.zip")):
            shutil.rmtree(work, ignore_errors=True)
        raise


def _train_ppo(config: TrainConfig, work: Path) -> TrainReport:
    """:func:`train_ppo` with its work directory ``work``."""
    if config.objective not in OBJECTIVES:
        raise RRLError(f"unknown objective '{config.objective}' (expected one of {', '.join(OBJECTIVES)})")
    if config.timesteps < 0:
        raise RRLError(f"--timesteps must be >= 0, got {config.timesteps}")
    if config.envs < 1:
        raise RRLError(f"--envs must be >= 1, got {config.envs}")
    if config.pilot_episodes < 0 or config.pilot_rounds < 1:
        raise RRLError(f"--pilot-episodes must be >= 0 and --pilot-rounds >= 1, got {config.pilot_episodes} "
                       f"and {config.pilot_rounds}")
    if config.tensorboard is not None:
        require_tensorboard()
    import torch
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
    from sb3_contrib.common.maskable.evaluation import evaluate_policy
    from stable_baselines3.common.callbacks import CheckpointCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

    from rrl.generative.imitation import clone, collect
    from rrl.generative.network import CandidatePolicy

    torch.set_num_threads(1)
    # The evaluation env is one in-process env while training may use subprocesses: fine.
    warnings.filterwarnings("ignore", message="Training and eval env are not of the same type")
    stages = build_stages(config)
    if config.resume is not None:
        _check_resume(config)
    out = Path(config.out)
    work.mkdir(parents=True, exist_ok=True)
    per_stage = config.timesteps // len(stages)
    began = time.perf_counter()
    settings = {"objective": config.objective, "scope": config.setting("scope"), "route": config.setting("route"),
                "max_candidates": config.max_candidates}

    def vec(source: InstanceSource, count: int, seed: int) -> VecEnv:
        makers: list[Callable[[], Any]] = [_maker(source, settings) for _ in range(count)]
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
                model = load(config.resume, env)
                # loading re-seeds the network with the seed stored in the file: --seed wins
                model.set_random_seed(config.seed)
            else:
                model = MaskablePPO(
                    CandidatePolicy, env, learning_rate=config.learning_rate, n_steps=config.n_steps,
                    batch_size=config.batch_size, n_epochs=config.n_epochs, gamma=config.gamma,
                    gae_lambda=config.gae_lambda, clip_range=config.clip_range, ent_coef=config.ent_coef,
                    seed=config.seed, device="cpu", verbose=0,
                    tensorboard_log=str(config.tensorboard) if config.tensorboard else None,
                    policy_kwargs={"max_candidates": config.max_candidates, "hidden": config.hidden,
                                   "objective": config.objective, "scope": settings["scope"],
                                   "route": settings["route"]},
                )
                teacher = config.setting("teacher")
                if teacher != "none" and config.imitation_episodes > 0:
                    report.imitation = _imitate(model, stages, settings, teacher, config, collect, clone)
        elif best_path is not None:
            # the previous stage's best evaluated model (perhaps the one it was given), not
            # its last weights, goes on: a stage never hands on a worse model than its best
            timesteps = model.num_timesteps
            model = load(best_path, env)
            model.num_timesteps = timesteps
        else:
            model.set_env(env)
        # Later stages fine-tune: a smaller step keeps what the earlier stages taught.
        rate = config.learning_rate * config.stage_lr_decay ** index
        model.learning_rate = rate
        model.lr_schedule = _constant(rate)
        stage_dir = work / f"stage{index + 1}-{stage.name}"
        stage_dir.mkdir(parents=True, exist_ok=True)
        # a best model left by an earlier run in the same OUT.d must not be taken for this one's
        (stage_dir / "best_model.zip").unlink(missing_ok=True)
        # the validation problems in turn, seeded: every evaluation sees each problem once
        eval_env = DummyVecEnv([_maker(CyclingSource(stage.validation), settings)])
        eval_env.seed(config.seed + 1000 * index + 500)
        evaluator = MaskableEvalCallback(
            eval_env, n_eval_episodes=len(stage.validation), eval_freq=max(1, per_stage // (4 * config.envs)),
            best_model_save_path=str(stage_dir), log_path=str(stage_dir), deterministic=True, verbose=0,
        )
        # The incoming model is a candidate too: PPO can make a cloned or earlier-stage policy worse.
        before, _ = evaluate_policy(model, eval_env, n_eval_episodes=len(stage.validation),
                                    deterministic=True, use_masking=True)
        before = float(before)  # type: ignore[arg-type]
        evaluator.best_mean_reward = before
        model.save(stage_dir / "best_model.zip")
        if per_stage > 0:
            checkpoints = CheckpointCallback(save_freq=max(1, per_stage // (2 * config.envs)),
                                             save_path=str(stage_dir / "checkpoints"), name_prefix="ppo")
            model.learn(total_timesteps=per_stage, callback=[evaluator, checkpoints, bar.callback()],
                        reset_num_timesteps=False, tb_log_name="ppo", progress_bar=False)
        env.close()
        eval_env.close()
        trained += per_stage
        best_path = stage_dir / "best_model.zip"
        report.stages.append({"stage": stage.name, "timesteps": per_stage, "start_eval_reward": before,
                              "best_eval_reward": float(evaluator.best_mean_reward)})
    bar.close()
    report.timesteps = max(int(model.num_timesteps), trained)
    assert best_path is not None
    final = work / "final_model.zip"
    model = load(best_path, DummyVecEnv([_maker(stages[-1].source, settings)]))
    if config.pilot_episodes > 0:
        from rrl.generative.pilot import improve

        # more plants than PPO's evaluations use: one greedy schedule's tardiness varies a
        # lot from plant to plant, and 8 plants per stage would often reject a better network
        validation = [p for stage in stages for p in (
            [stage.draw(PILOT_VALIDATION_SEED + i) for i in range(config.pilot_validation)]
            if stage.draw is not None else stage.validation)]
        report.pilot = improve(
            model, [stage.source for stage in stages], validation, episodes=config.pilot_episodes,
            rounds=config.pilot_rounds, k=config.pilot_k, cap=config.max_candidates, objective=config.objective,
            workers=config.envs, epochs=config.pilot_epochs, learning_rate=config.pilot_learning_rate,
            temperature=config.pilot_temperature, seed=config.seed,
        )
    report.seconds = time.perf_counter() - began
    export(model, final)
    install_model(final, out, _metadata(config, report, settings))
    return report


def _check_resume(config: TrainConfig) -> None:
    """One line, before anything is written, where the model to resume was made for
    another observation size than this run's ``max_candidates`` gives."""
    from sb3_contrib import MaskablePPO

    from rrl.generative.env import flat_size
    from rrl.generative.policy import load_model

    assert config.resume is not None
    load_model(config.resume)  # one-line errors for a bad file, and the features' check
    shape = tuple(MaskablePPO.load(config.resume, device="cpu").observation_space.shape or ())
    if shape != (flat_size(config.max_candidates),):
        raise RRLError(f"--resume {config.resume}: the model was trained with another --max-candidates than "
                       f"{config.max_candidates} (its observation has {shape[0] if shape else 0} values)")


def _imitate(model: Any, stages: list[Stage], settings: dict[str, Any], teacher: str, config: TrainConfig,
             collect: Callable[..., Any], clone: Callable[..., Any]) -> dict[str, Any]:
    """Clone the teacher into ``model`` on episodes drawn from every stage's source."""
    per = max(1, config.imitation_episodes // len(stages))
    parts = [collect(_maker(stage.source, settings, monitor=False), teacher, per, config.gamma, config.seed + 77 * k)
             for k, stage in enumerate(stages)]
    import numpy as np

    data = tuple(np.concatenate([part[i] for part in parts]) for i in range(4))
    result: dict[str, Any] = clone(model, data, epochs=config.imitation_epochs, seed=config.seed)
    result.update(teacher=teacher, episodes=per * len(stages))
    return result


def export(model: Any, path: Path) -> None:
    """Save a MaskablePPO model with its numpy twin (:data:`rrl.generative.policy.MEMBER`)."""
    import zipfile

    from rrl.generative.network import numpy_weights
    from rrl.generative.policy import MEMBER, npz_bytes

    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(MEMBER, npz_bytes(numpy_weights(model.policy)))


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


def _maker(source: InstanceSource, settings: dict[str, Any], monitor: bool = True) -> Callable[[], Any]:
    # Monitor records episode returns and lengths for the logs and the evaluation callback.
    def make() -> Any:
        env = DispatchEnv(source, **settings)
        if not monitor:
            return env
        from stable_baselines3.common.monitor import Monitor

        return Monitor(env)

    return make


def _metadata(config: TrainConfig, report: TrainReport, settings: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "rrl_version": __version__,
        "command": config.command,
        "objective": config.objective,
        "scope": settings["scope"],
        "route": settings["route"],
        "features": {"candidate": F, "global": G},
        "timesteps": report.timesteps,
        "seconds": round(report.seconds, 1),
        "imitation": report.imitation,
        "stages": report.stages,
        "pilot": report.pilot,
        "config": {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                   for k, v in asdict(config).items() if k not in ("out", "command", "progress", "problems")},
    }
    if config.scenario is not None or config.problems is not None or config.shops:
        for key in ("curriculum", "orders"):  # not used by these sources
            meta["config"].pop(key, None)
    if config.resume is not None:
        # what the resumed model was, so that a chain of runs stays traceable
        previous = Path(config.resume).with_suffix(".json")
        try:
            meta["resumed_from"] = json.loads(previous.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta["resumed_from"] = {"model": str(config.resume)}
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
