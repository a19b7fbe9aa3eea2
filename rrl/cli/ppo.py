"""``rrl ppo``: train PPO dispatching policies and compare them with the dispatching rules."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from rrl.bounds import MAX_CASE_ORDERS, MAX_CASES, MAX_ENVS, MAX_MACHINES, MAX_TIMESTEPS
from rrl.cli.common import json_option, print_json, progress_enabled, seed_option
from rrl.domain.scenario import load_scenario
from rrl.errors import RRLError
from rrl.generative.imitation import TEACHER_NAMES
from rrl.generative.instances import STRESS


@click.group(short_help="Train and evaluate the PPO scheduler.")
def ppo() -> None:
    """PPO scheduler: train a policy (train) and measure it against the rules (evaluate).

    Use a model with `rrl schedule --rule ppo [--model M]`. Needs the `ppo` extra
    (torch, stable-baselines3, sb3-contrib, gymnasium).
    """


@ppo.command()
@click.option("--objective", type=click.Choice(["tardiness", "makespan"]), default="tardiness", show_default=True,
              help="What the policy learns to minimise: total tardiness or makespan. Also picks the default "
                   "training instances (tardiness: generated plants, curriculum 10,40; makespan: generated flexible "
                   "job shops and job shops, --shops fjsp,jsp).")
@click.option("--scenario", "scenario_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Train on this scenario's plant with random order sets (and its own orders).")
@click.option("--generate", is_flag=True, help="Train on generated plants (see --machines, --curriculum).")
@click.option("--machines", type=click.IntRange(1, MAX_MACHINES), default=None,
              help="Machines of the generated plants (one stage).")
@click.option("--orders", type=click.IntRange(1, MAX_CASE_ORDERS), default=None,
              help="Orders per generated instance (last stage); default: by plant size.")
@click.option("--curriculum", default=None,
              help="Machine counts trained in order, e.g. 10,40,152 (implies --generate).")
@click.option("--shops", default=None,
              help="Train on generated shops of benchmark-like shapes: fjsp (Brandimarte-like flexible job shops), "
                   "jsp (Fisher-Thompson/Lawrence-like job shops), or both: fjsp,jsp.")
@click.option("--timesteps", type=click.IntRange(0, MAX_TIMESTEPS), default=100_000, show_default=True,
              help="PPO decisions to train on after imitation, split evenly over the stages (0: imitation only).")
@click.option("--teacher", type=click.Choice([*TEACHER_NAMES, "none"]), default=None,
              help="Rule cloned into the network before PPO; default: slack (tardiness), fdd_mwkr (makespan).")
@click.option("--imitation-episodes", type=click.IntRange(0, MAX_CASES), default=200, show_default=True,
              help="Schedules the teacher builds for imitation.")
@click.option("--pilot-episodes", type=click.IntRange(0, MAX_CASES), default=0, show_default=True,
              help="After PPO, schedules built by the pilot teacher on training plants: at each decision the "
                   "network's 4 best candidates and the mdd and slack picks are each completed by a rule (mdd; "
                   "mwkr for makespan) and the best kept; its decisions are cloned into the network, which is "
                   "kept if it schedules the validation plants better (docs/ppo.md). 0: no pilot.")
@click.option("--pilot-rounds", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Rounds of pilot schedules, each asking the network cloned in the round before.")
@click.option("--max-candidates", type=click.IntRange(min=2), default=64, show_default=True,
              help="Candidate rows of the training observation (more candidates are cut to the best-ranked); "
                   "scheduling with the model has no such cap.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Model file to write (.zip); a .json with how it was trained goes beside it.")
@click.option("--envs", type=click.IntRange(1, MAX_ENVS), default=1, show_default=True,
              help="Parallel environments (processes when > 1).")
@click.option("--tensorboard", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write TensorBoard logs here.")
@click.option("--resume", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Continue training this model (no imitation).")
@seed_option
@json_option
def train(objective: str, scenario_path: Path | None, generate: bool, machines: int | None, orders: int | None,
          curriculum: str | None, shops: str | None, timesteps: int, teacher: str | None, imitation_episodes: int,
          pilot_episodes: int, pilot_rounds: int, max_candidates: int, out: Path, envs: int,
          tensorboard: Path | None, resume: Path | None, seed: int, as_json: bool) -> None:
    """Train a candidate-scoring MaskablePPO scheduling policy.

    The policy scores every candidate (order, machine) placement of the active schedule
    builder with shared weights, so one network serves any plant size. Training clones a
    rule first (--teacher), then runs PPO, then (--pilot-episodes) distils a look-ahead
    teacher into it. Instances: a scenario's plant (--scenario F),
    generated plants (--generate with --machines M, or --curriculum 10,40,152), or
    generated shops (--shops fjsp,jsp); the default follows --objective. Checkpoints and
    evaluation logs go to OUT.d/.
    """
    from rrl.generative.instances import parse_curriculum
    from rrl.generative.shapes import SHOPS
    from rrl.generative.train import TrainConfig, require_tensorboard, train_ppo

    if out.suffix.lower() != ".zip":  # (the .json beside it would otherwise be the model's own name)
        raise RRLError(f"--out {out}: a model file ends in .zip")
    plants = generate or curriculum is not None or machines is not None or orders is not None
    if sum([scenario_path is not None, plants, shops is not None]) > 1:
        raise RRLError("give one of --scenario, --shops, or --generate/--curriculum/--machines/--orders")
    if curriculum is not None and machines is not None:
        raise RRLError("give either --machines or --curriculum, not both")
    shop_names: tuple[str, ...] = ()
    if shops is not None:
        shop_names = tuple(part.strip() for part in shops.split(",") if part.strip())
        unknown = [name for name in shop_names if name not in SHOPS]
        if not shop_names or unknown:
            raise RRLError(f"--shops: expected some of {', '.join(SHOPS)} (comma-separated), got '{shops}'")
    elif scenario_path is None and not plants and objective == "makespan":
        shop_names = tuple(SHOPS)
    stages = parse_curriculum(curriculum) if curriculum is not None else [machines] if machines is not None else [10, 40]
    if resume is not None and not resume.is_file():
        raise RRLError(f"--resume: {resume}: no such file")
    if tensorboard is not None:
        require_tensorboard()  # before any output directory is made
    if scenario_path is not None:
        load_scenario(scenario_path)  # a bad file is a one-line error before any training starts
    config = TrainConfig(
        out=out, objective=objective, timesteps=timesteps, curriculum=tuple(stages), orders=orders,
        shops=shop_names, scenario=scenario_path, teacher=teacher, imitation_episodes=imitation_episodes,
        pilot_episodes=pilot_episodes, pilot_rounds=pilot_rounds, max_candidates=max_candidates,
        envs=envs, seed=seed, tensorboard=tensorboard, resume=resume,
        progress=progress_enabled(as_json), command=_command_line(click.get_current_context()),
    )
    report = train_ppo(config)
    if as_json:
        print_json({"out": str(report.out), "timesteps": report.timesteps, "seconds": report.seconds,
                    "imitation": report.imitation, "stages": report.stages, "pilot": report.pilot})
        return
    click.echo(f"trained {report.timesteps} steps in {report.seconds:.0f} s -> {report.out}")
    if report.imitation:
        click.echo(f"  imitation of {report.imitation['teacher']}: {int(report.imitation['decisions'])} decisions, "
                   f"agreement {report.imitation['agreement']:.1%}")
    for stage in report.stages:
        click.echo(f"  stage {stage['stage']}: {stage['timesteps']} steps, eval reward "
                   f"{stage['start_eval_reward']:.2f} at the start, best {stage['best_eval_reward']:.2f}")
    if report.pilot:
        pilot = report.pilot
        decisions = sum(r["decisions"] for r in pilot["round"])
        verdict = "kept" if pilot["kept"] else "not kept: the incoming network stays"
        click.echo(f"  pilot: {decisions} decisions in {pilot['rounds']} rounds, validation mean "
                   f"{pilot['validation_before']:.2f} -> {pilot['validation_after']:.2f} ({verdict})")


@ppo.command()
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PPO model (.zip); default: the shipped model for the plant.")
@click.option("--instances", type=click.IntRange(1, MAX_CASES), default=10, show_default=True,
              help="Held-out instances to schedule.")
@click.option("--machines", type=click.IntRange(1, MAX_MACHINES), default=40, show_default=True,
              help="Machines of the generated plants.")
@click.option("--orders", type=click.IntRange(1, MAX_CASE_ORDERS), default=None,
              help="Orders per instance; default: by plant size.")
@click.option("--scenario", "scenario_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Instead of generated plants: random order sets on this scenario's plant.")
@click.option("--stress", type=click.Choice(STRESS),
              default=None, help="Stress every instance this way.")
@click.option("--samples", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="Add a row: the best of PPO's greedy schedule and this many sampled ones per instance "
                   "(rrl schedule --rule ppo --samples).")
@seed_option
@json_option
def evaluate(model: Path | None, instances: int, machines: int, orders: int | None, scenario_path: Path | None,
             stress: str | None, samples: int, seed: int, as_json: bool) -> None:
    """KPI table of Random, FirstFit, EDD, MDD, Slack, ATCS and PPO on held-out instances.

    Instances come from the training distribution of the given plant size (seeds that
    training never draws); --stress makes them harder. --samples adds PPO's best of
    several schedules (rrl schedule --rule ppo --samples).
    """
    from rrl.generative.evaluate import evaluate as run
    from rrl.generative.evaluate import format_table
    from rrl.generative.instances import PlantSource, held_out, scenario_order_range, stage_source
    from rrl.generative.instances import stress as stressed
    from rrl.generative.models import default_model
    from rrl.generative.policy import load_model

    if instances < 1:
        raise RRLError(f"--instances must be >= 1, got {instances}")
    if scenario_path is not None:
        scenario = load_scenario(scenario_path)
        problems = held_out(PlantSource(scenario.plant, scenario_order_range(len(scenario.problem.orders))),
                            instances)
        label = f"{scenario.name} plant, random order sets"
    else:
        problems = held_out(stage_source(machines, orders), instances)
        label = f"generated {machines}-machine plants"
    if stress is not None:
        problems = [stressed(p, stress, seed=seed + k) for k, p in enumerate(problems)]
        label += f", stress {stress}"
    path = model if model is not None else default_model(problems[0].plant)
    policy = load_model(path)
    rows = run(problems, policy, seed=seed, samples=samples)
    if as_json:
        print_json({"instances": instances, "distribution": label, "model": str(path),
                    "methods": [r.to_dict() for r in rows]})
        return
    click.echo(format_table(rows, f"{instances} held-out instances, {label} (model {path.name})"))


def _command_line(ctx: click.Context) -> str:
    """The command as a user would type it, rebuilt from the parsed options (recorded in
    the model's .json so that a run can be repeated)."""
    words = ["rrl", "ppo", ctx.info_name or "train"]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        value = ctx.params.get(param.name)
        given = ctx.get_parameter_source(param.name) == click.core.ParameterSource.COMMANDLINE
        # options typed on the command line are kept even when they equal the default,
        # so that the recorded command repeats the run if a default changes
        if value is None or value is False or (value == param.default and not given):
            continue
        flag = max(param.opts, key=len)
        words += [flag] if value is True else [flag, shlex.quote(str(value))]
    return " ".join(words)
