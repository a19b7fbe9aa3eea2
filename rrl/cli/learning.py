"""``rrl train``, ``rrl consult``, ``rrl policy``, ``rrl evaluate``: repair policies."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from rrl.bounds import MAX_BUDGET_MS, MAX_CASES, MAX_EPISODES, MAX_STEPS, MAX_WALKERS
from rrl.cli.common import (
    BUDGET_MS,
    FINITE,
    NODE_LIMIT,
    NON_NEGATIVE,
    POSITIVE,
    checked,
    image_path,
    json_option,
    print_json,
    progress_enabled,
    scenario_option,
    seed_option,
)
from rrl.cli.schedule import PLAN_RULES
from rrl.domain.problem import Problem
from rrl.domain.scenario import load_scenario
from rrl.domain.schedule import Schedule
from rrl.errors import RRLError
from rrl.events import EVENTS
from rrl.learning.agent import (
    DEFAULT_MAX_STEPS,
    FIRST_PASSES,
    LONG_REPAIR_STEPS,
    WIDE_FOCUS,
    RepairAgent,
    RepairResult,
)
from rrl.learning.cases import parse_events, parse_orders
from rrl.learning.consult import check_event_options, consult_json
from rrl.learning.consult import consult as run_consult
from rrl.learning.goals import GOALS
from rrl.learning.policy_io import check_policy_target
from rrl.learning.search import DEFAULT_BUDGET_MS

policy_option = click.option("--policy", "policy_dir", required=True,
                             type=click.Path(file_okay=False, path_type=Path),
                             help="Policy directory written by `rrl train`.")


@click.command(short_help="Learn a repair policy by relational Q-learning.")
@click.option("--goal", type=click.Choice(list(GOALS)), default=None,
              help="tardiness: back to the tardiness before the disruption; stability: few moved orders; "
                   "balancing: a mix (docs/goals.md). Required unless --resume.")
@click.option("--scenario", "scenario_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Scenario file (YAML or JSON) whose plant the policy learns on. Required unless --resume.")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Continue a saved policy (its learner.json) for --episodes more episodes, with its own plant, "
                   "goal and parameters; --seed, when given, reseeds its random stream.")
@click.option("--episodes", type=click.IntRange(1, MAX_EPISODES), default=450, show_default=True,
              help=f"Training episodes (at most {MAX_EPISODES}).")
@seed_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Policy directory to write (policy.pl, policy.json, learner.json, background.pl, curve.png).")
@click.option("--event", "event", default="new_order", show_default=True,
              help=f"Disruption drawn per episode: one of {', '.join(EVENTS)}, a comma list, or mix.")
@click.option("--orders", default="10-20", show_default=True, help="Orders per episode, N or N-M.")
@click.option("--max-steps", type=click.IntRange(1, MAX_STEPS), default=DEFAULT_MAX_STEPS, show_default=True,
              help="Step limit per episode, and the longest repair of the policy (consult allows more on "
                   f"plans larger than the training books; at most {MAX_STEPS}).")
@click.option("--eval-every", type=click.IntRange(0, MAX_EPISODES), default=50, show_default=True,
              help="Repair 20 fixed validation cases as consult does every so many episodes (the learning curve, "
                   "curve.png; at the default about two fifths of the run's time); 0: never.")
@click.option("--rule", type=click.Choice(PLAN_RULES), default="edd",
              show_default=True, help="How each episode's initial plan is built.")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PPO model for --rule ppo (default: the shipped one for the plant).")
@json_option
@click.pass_context
def train(ctx: click.Context, goal: str | None, scenario_path: Path | None, resume: Path | None, episodes: int,
          seed: int, out: Path, event: str, orders: str, max_steps: int, eval_every: int, rule: str,
          model: Path | None, as_json: bool) -> None:
    """Learn a repair policy by relational Q-learning on the scenario's plant.

    Each episode draws an order book on the plant (sizes 100-1000 kg, due dates from
    the load), builds its plan with --rule, hits it with --event, and repairs it with
    steps chosen epsilon-greedily from the current first-order regression tree (TG),
    the focal task moving from step to step (docs/goals.md). The tree is written as
    readable Prolog rules in OUT/policy.pl; OUT/learner.json keeps what --resume needs.
    """
    if resume is not None:
        given = [f"--{name.replace('_', '-')}" for name in ("goal", "scenario_path", "event", "orders", "max_steps",
                                                             "rule", "model")
                 if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
        if given:
            flag = given[0].replace("--scenario-path", "--scenario")
            raise RRLError(f"{flag} does not apply with --resume: the policy's own is kept")
        check_policy_target(out)
        agent = RepairAgent.load(resume)
        if ctx.get_parameter_source("seed") == click.core.ParameterSource.COMMANDLINE:
            agent.reseed(seed)
        _learn_and_save(agent, episodes, out, eval_every, as_json, f"{resume.name} (resumed)", [])
        return
    if goal is None or scenario_path is None:
        raise RRLError("--goal and --scenario are required (or --resume DIR)")
    scenario = load_scenario(scenario_path)
    check_policy_target(out)
    builder = None
    fallbacks: list[str] = []
    if rule == "ppo":
        from rrl.generative.safety import ppo_schedule

        def builder(problem: Problem) -> Schedule:
            result = ppo_schedule(problem, model)
            if result.fallback:
                fallbacks.append(f"{result.source} ({result.reason})")
            return result.plan.schedule
    agent = RepairAgent(scenario.plant, goal, events=parse_events(event), orders=parse_orders(orders),
                        rule=rule, builder=builder, max_steps=max_steps, seed=seed)
    _learn_and_save(agent, episodes, out, eval_every, as_json, scenario.name, fallbacks)


def _learn_and_save(agent: RepairAgent, episodes: int, out: Path, eval_every: int, as_json: bool, name: str,
                    fallbacks: list[str]) -> None:
    """Train ``agent`` for ``episodes`` more episodes, write the policy and its curve, report."""
    goal = agent.goal.name
    started, validating = time.perf_counter(), agent.evaluation_seconds_
    agent.learn(episodes, progress=progress_enabled(as_json), eval_every=eval_every)
    seconds = time.perf_counter() - started
    validating = agent.evaluation_seconds_ - validating
    agent.save(out)
    from rrl.viz import learning_curves

    if agent.evaluations:
        learning_curves({goal: agent.evaluations}, out / "curve.png", window=1,
                        title=f"{name} ({goal}): consult's search on 20 validation cases, "
                              f"{len(agent.evaluations)} validations")
    else:
        learning_curves({goal: [r.to_dict() for r in agent.curve]}, out / "curve.png",
                        title=f"{name}: training episodes ({goal})")
    curve = [r.to_dict() for r in agent.curve]
    if fallbacks:
        click.echo(f"rrl: warning: the PPO model failed on {len(fallbacks)} of the initial plans, which came from "
                   f"the fallback rule instead (first: {fallbacks[0]})", err=True)
    if as_json:
        print_json({"episodes": episodes, "seconds": seconds, "curve": curve})
        return
    last = agent.curve[-min(50, len(curve)):]
    curve_time = f", {validating:.1f} s of them the learning curve's validations" if validating else ""
    click.echo(f"trained {episodes} episodes in {seconds:.1f} s{curve_time} ({agent.episodes_} in all): "
               f"{agent.n_leaves} abstract states")
    click.echo(f"  last {len(last)} episodes: mean steps {sum(r.steps for r in last) / len(last):.2f}, "
               f"goal reached {sum(r.reached for r in last) / len(last):.0%}, "
               f"mean tardiness improvement {sum(r.improvement for r in last) / len(last):.2f} h")
    click.echo(f"  policy written to {out}/ (read it with: rrl policy show {out})")


@click.command(short_help="Repair a schedule after an event with a learned policy.")
@policy_option
@scenario_option
@click.option("--event", type=click.Choice(EVENTS), required=True, help="The disruption.")
@click.option("--product", default=None, help="new_order/rush_order: product (drawn if not given).")
@click.option("--size", type=POSITIVE, default=None, help="new_order/rush_order: size (kg).")
@click.option("--due", type=FINITE, default=None, help="new_order/rush_order: due date (h).")
@click.option("--resource", default=None, help="breakdown: the resource that breaks down.")
@click.option("--at", type=NON_NEGATIVE, default=None, help="breakdown: when it breaks down (h).")
@click.option("--duration", type=POSITIVE, default=None, help="breakdown: how long (h).")
@click.option("--order", default=None, help="material_delay: the order whose material is late.")
@click.option("--release", type=NON_NEGATIVE, default=None, help="material_delay: the new release (h).")
@click.option("--now", type=NON_NEGATIVE, default=None, help="Current time (h): orders started before it stay.")
@click.option("--max-steps", type=click.IntRange(1, MAX_STEPS), default=None,
              help="Longest repair in steps (default: the policy's; on a plan with more unstarted orders than "
                   f"its training cases, as many more in proportion, up to {LONG_REPAIR_STEPS}; at most "
                   f"{MAX_STEPS}).")
@click.option("--budget-ms", type=BUDGET_MS, default=None,
              help=f"Wall-time budget of the repair search in ms (default: {DEFAULT_BUDGET_MS:.0f} ms up to 20 orders, "
                   f"1.5 ms more per further order, at most 700; with --node-limit, {MAX_BUDGET_MS:.0f}, the most it may be).")
@click.option("--node-limit", type=NODE_LIMIT, default=None,
              help="Bound the search by a count instead of the clock: at most N node expansions, and ten walk "
                   "tries per expansion. The same --seed (and --walkers) then gives the same repair on any "
                   "machine, however loaded, unless a --budget-ms given ends it first (without one, and whatever "
                   "the policy's budget, only the ten-minute ceiling bounds the time). On 10-20 orders 20 takes "
                   "about 60 ms, for about 4 % more tardiness than a 36 ms budget (docs/repair.md).")
@click.option("--focus-width", type=click.IntRange(1, MAX_STEPS), default=None,
              help="Focus candidates per reason at each step (default: the policy's; on a plan with more "
                   "unstarted orders than its training cases, as many more in proportion, up to "
                   f"{WIDE_FOCUS}).")
@click.option("--first-pass", type=click.Choice(FIRST_PASSES), default=None,
              help="The search's first pass: 'first_improvement' takes the cheapest step of the foci looked at "
                   "until one improves, 'descent' the step the simulator finds best over every focus, 'policy' "
                   "the greedy policy's step (default: the policy's setting, 'first_improvement' for policies "
                   "trained since 2026-12-03); the Q-values steer the wider passes after it.")
@click.option("--exchanges/--no-exchanges", default=None,
              help="Where no single step improves, let the descent try exchange steps: the focus takes a place "
                   "on another resource that an order there leaves for another resource (two steps; default: "
                   "the policy's setting, on; plants with 'after' chains have none).")
@click.option("--recreate/--no-recreate", default=None,
              help="Spend the budget left after the descent on a ruin-and-recreate walk: a few orders taken out "
                   "and put back at their least costly places, at most the step limit (and 20) placements from "
                   "the disrupted plan (default: the policy's setting, on; on plants with 'after' chains the "
                   "walk follows the descent once it converges (up to 35 unstarted orders, at most at 60 % of the "
                   "budget) and ends after 100 tries without a better "
                   "plan; up to 35 unstarted orders it then starts again from the best plan until the budget is "
                   "spent or eight walks in a row find nothing).")
@click.option("--walkers", type=click.IntRange(1, MAX_WALKERS), default=None,
              help="Ruin-and-recreate walks run at once, each in its own process on its own random stream, the "
                   "best plan kept (default: 2 on Linux with two cores or more, else 1; two gain about as much as "
                   "one with twice the budget; on plants with 'after' chains only up to 35 unstarted orders, "
                   "where each walks again until the budget is spent; one walk where the fork would take more "
                   "than 40 % of the walk's time).")
@click.option("--rule", type=click.Choice(PLAN_RULES), default=None,
              help="Build the plan to disrupt with this rule instead of taking the scenario's schedule "
                   "(edd when the scenario has none); ppo uses --model or the shipped model.")
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None, help="PPO model for --rule ppo.")
@seed_option
@json_option
@click.option("--gantt", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the repair strip (one Gantt chart per step, like the paper's Fig. 7).")
def consult(policy_dir: Path, scenario_path: Path, event: str, product: str | None, size: float | None,
            due: float | None, resource: str | None, at: float | None, duration: float | None, order: str | None,
            release: float | None, now: float | None, max_steps: int | None, budget_ms: float | None,
            node_limit: int | None, focus_width: int | None, first_pass: str | None, exchanges: bool | None, recreate: bool | None, walkers: int | None,
            rule: str | None, model: Path | None, seed: int, as_json: bool, gantt: Path | None) -> None:
    """Repair the scenario's schedule after an event with a learned policy.

    The plan is the scenario's own schedule (without one, or with --rule, the one a rule
    or the PPO model builds). Event parameters not given are drawn from --seed. The
    repair is an anytime search within --budget-ms (or --node-limit, for a repair that is
    the same on every machine; DESIGN section 9): a descent first
    (first improvement by default, see --first-pass), then a ruin-and-recreate walk, and
    wider passes steered by the policy's Q-values with the time left; the focal task
    may move from step to step, each focus proposed by a rule of the background
    knowledge. The result is never worse on the goal's measure than the disrupted plan,
    and each step is explained by the rule that proposed its focus and the Q-tree rule
    (abstract state) that values it.
    """
    image_path(gantt, "--gantt")
    given: dict[str, Any] = {"product": product, "size": size, "due": due, "resource": resource, "at": at,
             "duration": duration,
             "order": order, "release": release, "now": now}
    check_event_options(event, given)
    agent = RepairAgent.load(policy_dir)
    if first_pass is not None:
        agent.first_pass = first_pass
    if exchanges is not None:
        agent.exchanges = exchanges
    if recreate is not None:
        agent.recreate = recreate
    agent.walkers = walkers
    scenario = load_scenario(scenario_path)
    result = run_consult(agent, scenario, event, seed=seed, max_steps=max_steps, budget_ms=budget_ms,
                         node_limit=node_limit, focus_width=focus_width, rule=rule, model=model,
                         warn=lambda message: click.echo(f"rrl: warning: {message}", err=True), name_foci=not as_json,
                         **given)
    checked(result.plan, "repaired", reference=result.before)
    if gantt is not None:
        from rrl.viz import repair_strip

        plans = [result.disrupted] + [s.plan for s in result.steps]
        repair_strip(plans, steps=[str(s.action) for s in result.steps], focal=result.steps[0].action.focal
                     if result.steps else None, path=gantt)
    if as_json:
        print_json(consult_json(result, scenario.name))
        return
    _print_repair(result)
    if gantt is not None:
        click.echo(f"repair strip written to {gantt}")


def _print_repair(result: RepairResult) -> None:
    event = dict(result.event)
    kind = event.pop("type")
    click.echo(f"event {kind}: " + ", ".join(f"{k}={v}" for k, v in event.items()))
    click.echo(f"total tardiness: before {result.before.total_tardiness:.2f} h -> disrupted "
               f"{result.disrupted.total_tardiness:.2f} h -> repaired {result.plan.total_tardiness:.2f} h "
               f"({result.goal} goal {'reached' if result.reached else 'not reached'}; "
               f"{len(result.steps)} steps; search {result.search_seconds * 1000:.0f} ms, "
               f"{result.seconds * 1000:.0f} ms in all)")
    # A walk's steps share one focus rule and often one leaf: each rule is printed in full
    # at its first step, later ones point back to it (the same lines again and again
    # would bury the steps).
    printed: dict[str, int] = {}

    def said(text: str, k: int) -> str:
        first = printed.setdefault(text, k)
        return text if first == k else f"as in step {first}"

    def one_line(clause: str) -> str:  # (a background clause without its comments)
        return " ".join(line.split("%")[0].strip() for line in clause.splitlines())

    for k, step in enumerate(result.steps, 1):
        click.echo(f"  step {k}: {step.action}  -> TT {step.plan.total_tardiness:.2f} h  (Q = {step.q_value:.3f})")
        if step.focus is not None:
            rule = one_line(step.focus_rule)
            click.echo(f"      focus {step.focus.task} ({step.focus.reason})" + (f": {said(rule, k)}" if rule else ""))
            if step.meets:  # (a walk's, block's or exchange's step: the focus rule its order meets)
                met = one_line(step.meets_rule)
                click.echo(f"      {step.focus.task} meets focus rule {step.meets}" + (f": {said(met, k)}" if met else ""))
        body = [line.strip() for line in step.rule.splitlines() if line and not line.startswith("%")]
        if body:
            leaf = step.rule.split(":", 1)[0].removeprefix("% ") if step.rule.startswith("% leaf") else "rule"
            # ("valued by", not "because": the search chooses its steps by exact cost, and
            # the rule names the abstract state and the value it gives the step; docs/repair.md)
            click.echo(f"      valued by ({leaf}, the first rule that holds): " + said(" ".join(body), k))
    if result.note:
        click.echo(f"  note: {result.note}")


@click.group()
def policy() -> None:
    """Read learned policies."""


@policy.command("show")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@json_option
def show(directory: Path, as_json: bool) -> None:
    """Print a policy: its goal, training figures and its rules (one per abstract state).

    The policy is checked as `rrl consult` checks it (metadata, and the Prolog files read
    as data and checked safe) before anything is printed.
    """
    from rrl.learning.policy_io import read_policy, rule_blocks

    leaves = RepairAgent.load(directory).n_leaves  # (as train counts them)
    rules, meta, _ = read_policy(directory)
    blocks = rule_blocks(rules)
    default = ", and a default rule" if len(blocks) > leaves else ""
    if as_json:
        print_json({"goal": meta["goal"], "training": {k: v for k, v in meta.get("training", {}).items() if k != "curve"},
                    "rules": blocks})
        return
    training = meta.get("training", {})
    click.echo(f"policy {directory}: goal {meta['goal']}, {training.get('episodes', '?')} episodes, "
               f"{leaves} abstract states, one rule each{default}; rrl {meta['library_version']}")
    click.echo("Each rule: when its body holds for a state and a candidate action, Q = Value; "
               "the first rule that holds applies.\n")
    for block in blocks:
        click.echo(block + "\n")


@policy.command("curves")
@click.argument("directories", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Picture to write (.png, .svg, .pdf, .jpg).")
def curves(directories: tuple[Path, ...], out: Path) -> None:
    """Plot the learning curves of several policies together (like the paper's Fig. 6)."""
    from rrl.learning.policy_io import read_policy
    from rrl.viz import learning_curves

    image_path(out, "--out")

    series: dict[str, list[dict[str, Any]]] = {}
    for directory in directories:
        _, meta, _ = read_policy(directory)
        label = meta["goal"] if meta["goal"] not in series else f"{meta['goal']} ({directory.name})"
        series[label] = meta.get("training", {}).get("curve", [])
    learning_curves(series, out, title="Learning curves")
    click.echo(f"wrote {out}")


@click.command("evaluate")
@policy_option
@scenario_option
@click.option("--cases", type=click.IntRange(1, MAX_CASES), default=100, show_default=True, help="Held-out cases.")
@seed_option
@click.option("--event", default=None, help="Disruption of the cases (default: the policy's training events).")
@click.option("--orders", default=None, help="Orders per case, N or N-M (default: the policy's training range).")
@click.option("--methods",
              default="policy,untrained,steepest_descent,random_walk,best_insertion,hill_climbing,propositional,"
                      "cpsat,cpsat_k",
              show_default=True, help="Comma list of methods to run (untrained: the policy's search with no "
                                      "learned values, what the rules add; steepest_descent gets the policy's wall "
                                      "time per case; cpsat_k may move as many orders as the policy did).")
@click.option("--propositional-episodes", type=click.IntRange(1, MAX_EPISODES), default=None,
              help="Episodes for the propositional Q-tree (default: the policy's).")
@click.option("--cpsat-seconds", type=POSITIVE, default=5.0, show_default=True,
              help="Time limit of the CP-SAT full reschedule per case.")
@click.option("--budget-ms", type=BUDGET_MS, default=None,
              help="The policy's search budget per case (default: as consult).")
@click.option("--node-limit", type=NODE_LIMIT, default=None,
              help="Bound the policy's search per case by node expansions instead (as consult): its repairs are "
                   "then the same on any machine; steepest descent still gets the policy's wall time.")
@json_option
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the comparison plot (evaluation.png).")
def evaluate_command(policy_dir: Path, scenario_path: Path, cases: int, seed: int, event: str | None,
                     orders: str | None, methods: str, propositional_episodes: int | None, cpsat_seconds: float,
                     budget_ms: float | None, node_limit: int | None, as_json: bool, plots: Path | None) -> None:
    """Compare the policy with baselines on the same held-out cases.

    Baselines: the policy's own search with no learned values (untrained: Q is the step's
    reward; what the rules add), plain steepest descent over the same moving-focus steps
    (at the policy's trained focus width) with the policy's wall time, a random operator walk and hill climbing on the focal task with the same
    step budget, best insertion of the focal task, the propositional (scikit-learn) Q-tree
    trained the same way, a CP-SAT full reschedule within --cpsat-seconds, and CP-SAT
    moving at most as many orders as the policy did (cpsat_k; both need OR-Tools). Every
    method reports moved orders and start shift next to tardiness; --plots draws the
    tardiness spread and the tardiness-vs-moved-orders front.
    """
    from rrl.learning.evaluate import METHODS, draw_cases, evaluate

    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    if not chosen:
        raise RRLError(f"--methods: name at least one method (some of {', '.join(METHODS)})")
    for m in chosen:
        if m not in METHODS:
            raise RRLError(f"--methods: unknown method '{m}' (expected some of {', '.join(METHODS)})")
    if "cpsat_k" in chosen and "policy" not in chosen:
        raise RRLError("--methods: cpsat_k moves at most as many orders as the policy did: add policy")
    if "cpsat" in chosen or "cpsat_k" in chosen:
        try:
            import ortools  # noqa: F401
        except ImportError:
            raise RRLError("--methods cpsat needs OR-Tools: pip install 'rrl-repair[cpsat]'") from None
    agent = RepairAgent.load(policy_dir)
    scenario = load_scenario(scenario_path)
    events = parse_events(event) if event else agent.events
    bounds = parse_orders(orders) if orders else agent.orders
    held_out = draw_cases(scenario.plant, cases, seed, bounds, events)
    baseline = None
    if "propositional" in chosen:
        episodes = propositional_episodes or max(1, agent.episodes_)
        baseline = RepairAgent(scenario.plant, agent.goal.name, events=agent.events, orders=agent.orders,
                               learner="propositional", max_steps=agent.max_steps, seed=seed)
        baseline.learn(episodes, progress=progress_enabled(as_json))
    from tqdm import tqdm

    with tqdm(total=cases, disable=not progress_enabled(as_json), unit="case", leave=False) as bar:
        report = evaluate(agent, held_out, methods=chosen, propositional=baseline, cpsat_seconds=cpsat_seconds,
                          budget_ms=budget_ms, node_limit=node_limit, progress=lambda _: bar.update(1))
    if plots is not None:
        from rrl.viz import repair_comparison

        repair_comparison(report, plots / "evaluation.png")
    if as_json:
        print_json(report.to_dict())
        return
    click.echo(f"{cases} held-out cases ({', '.join(events)}, {bounds[0]}-{bounds[1]} orders): mean total tardiness "
               f"before the event {report.before_tardiness:.2f} h, after it {report.disrupted_tardiness:.2f} h")
    click.echo(report.table())


@click.command("tune", short_help="Tune the training parameters with Optuna.")
@click.option("--goal", type=click.Choice(list(GOALS)), required=True, help="The repair goal to tune for.")
@scenario_option
@click.option("--trials", type=click.IntRange(1, 1000), default=20, show_default=True, help="Policies trained.")
@click.option("--episodes", type=click.IntRange(1, 100_000), default=150, show_default=True,
              help="Training episodes per trial.")
@click.option("--cases", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Validation cases per trial, drawn from the training distribution.")
@click.option("--node-limit", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="Search expansions per validation repair (a budget that does not depend on the machine).")
@click.option("--event", "event", default="mix", show_default=True,
              help=f"Disruptions drawn: one of {', '.join(EVENTS)}, a comma list, or mix.")
@click.option("--orders", default="10-20", show_default=True, help="Orders per case, N or N-M.")
@seed_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also train a policy with the best parameters (--final-episodes) and write it here.")
@click.option("--final-episodes", type=click.IntRange(1, 100_000), default=450, show_default=True,
              help="Episodes of the policy written to --out.")
@json_option
def tune_command(goal: str, scenario_path: Path, trials: int, episodes: int, cases: int, node_limit: int, event: str,
                 orders: str, seed: int, out: Path | None, final_episodes: int, as_json: bool) -> None:
    """Search the training parameters (gamma, exploration, n-step returns, TG's split
    thresholds, focus width, moves per focus) with Optuna's seeded TPE sampler.

    Each trial trains a policy on the scenario's plant and scores it by the mean goal
    cost of repairing validation cases drawn from the training distribution (never the
    held-out cases of `rrl evaluate`). Needs the optional extra: pip install 'rrl-repair[tune]'.
    """
    from rrl.learning.tune import tune

    scenario = load_scenario(scenario_path)
    fixed: dict[str, Any] = {"events": parse_events(event), "orders": parse_orders(orders)}
    if out is not None:
        check_policy_target(out)
    from tqdm import tqdm

    with tqdm(total=trials, disable=not progress_enabled(as_json), unit="trial", leave=False) as bar:
        def done(record: dict[str, Any]) -> None:
            bar.update(1)
            bar.set_postfix(score=f"{record['score']:.2f}")
        result = tune(scenario.plant, goal, trials=trials, episodes=episodes, cases=cases, node_limit=node_limit,
                      fixed=fixed, seed=seed, callback=done)
    if out is not None:
        agent = RepairAgent(scenario.plant, goal, seed=seed, **fixed, **result.best_params)
        agent.learn(final_episodes, progress=progress_enabled(as_json))
        agent.save(out)
    if as_json:
        print_json(result.to_dict())
        return
    click.echo(f"{trials} trials of {episodes} episodes on {scenario.name} ({goal}); best mean goal cost "
               f"{result.best_score:.3f} on {cases} validation cases with:")
    for name, value in result.best_params.items():
        click.echo(f"  {name} = {value:.4g}" if isinstance(value, float) else f"  {name} = {value}")
    if out is not None:
        click.echo(f"policy trained with them for {final_episodes} episodes written to {out}/")
