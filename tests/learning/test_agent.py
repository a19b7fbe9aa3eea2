"""Relational Q-learning of repair policies, end to end on real SWI-Prolog."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rrl._fork import usable_cores
from rrl._paths import data_dir
from rrl.cli.learning import _print_repair
from rrl.cli.main import cli
from rrl.domain import load_scenario, scenario_from_dict, validate
from rrl.errors import PolicyError, RRLError
from rrl.events.disruptions import EVENTS
from rrl.learning import RepairAgent
from rrl.learning.cases import draw_case
from rrl.learning.consult import consult
from rrl.learning.evaluate import draw_cases, evaluate
from rrl.learning.search import CHAIN_RULES
from tests.conftest import SCENARIOS

EXTRUDERS = SCENARIOS / "extruders.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    plant = load_scenario(EXTRUDERS).plant
    agent = RepairAgent(plant, "tardiness", seed=3).learn(150)
    directory = tmp_path_factory.mktemp("policy") / "tardiness"
    agent.save(directory)
    return agent, directory


def test_training_is_reproducible() -> None:
    plant = load_scenario(EXTRUDERS).plant
    first = RepairAgent(plant, "tardiness", seed=11).learn(15)
    second = RepairAgent(plant, "tardiness", seed=11).learn(15)
    assert [r.to_dict() for r in first.curve] == [r.to_dict() for r in second.curve]
    assert first.rules == second.rules


def test_policy_beats_random_walk_on_held_out_cases(trained) -> None:
    agent, _ = trained
    cases = draw_cases(agent.plant, 40, seed=5, orders=(10, 20), events=("new_order",))
    report = evaluate(agent, cases, methods=["policy", "random_walk"])
    policy, walk = report.methods["policy"], report.methods["random_walk"]
    assert policy.total_tardiness < walk.total_tardiness * 0.95
    assert policy.steps <= agent.max_steps


def test_a_large_plans_repair_may_take_more_steps_than_the_policys_episodes(trained) -> None:
    from rrl.dispatching import dispatch
    from rrl.domain import Plan
    from rrl.domain.generate import random_orders
    from rrl.domain.problem import Problem
    from rrl.learning.agent import LONG_REPAIR_STEPS

    agent, _ = trained
    assert agent.max_steps == 15

    def plan_of(n: int, started: int = 0) -> Plan:
        orders = {o.id: o for o in random_orders(agent.plant, n, random.Random(n))}
        problem = Problem(agent.plant, orders)
        schedule = dispatch(problem, "edd")
        if not started:
            return Plan.build(problem, schedule)
        first = Plan.build(problem, schedule)  # the first orders to start, frozen where they start
        begun = sorted(orders, key=lambda o: first.times.start[o])[:started]
        return Plan.build(problem.with_clock(0.0, {o: first.times.start[o] for o in begun}), schedule)

    assert agent.orders == (10, 20)
    # (a training case is a book of 10-20 orders and its event, which may add one)
    assert [agent.steps_for(plan_of(n)) for n in (20, 21, 22, 30, 50, 200)] == [15, 15, 15, 21, 35, LONG_REPAIR_STEPS]
    assert LONG_REPAIR_STEPS == 45
    assert agent.steps_for(plan_of(30, started=10)) == 15  # the unstarted orders only
    hit = draw_case(agent.plant, random.Random(3), orders=(60, 60), events=("rush_order",))
    result = agent.repair(hit, node_limit=100, budget_ms=600_000)
    assert agent.max_steps < len(result.steps) <= agent.steps_for(hit.plan)
    assert len(agent.repair(hit, node_limit=100, budget_ms=600_000, max_steps=3).steps) <= 3


def test_a_large_plans_repair_looks_at_more_foci_per_reason(trained, monkeypatch) -> None:
    """Per reason, a repair looks at the policy's 2 focus candidates on plans of training
    size, at as many more in proportion on larger ones, at most WIDE_FOCUS; the
    neighbourhood of a repair takes that width (or ``focus_width``), and its foci do
    hold more than two candidates of one reason."""
    from rrl.learning.agent import WIDE_FOCUS

    agent, _ = trained
    assert agent.focus_width == 2 and agent.orders == (10, 20)
    sizes = {n: draw_case(agent.plant, random.Random(n), orders=(n, n), events=("rush_order",)) for n in (20, 49, 200)}
    # (unstarted orders: the book and the rush order; 2 * 50 // 21 = 4, 2 * 201 // 21 = 19 > 16)
    assert [agent.focus_width_for(sizes[n].plan) for n in (20, 49, 200)] == [2, 4, WIDE_FOCUS]
    widths, foci = [], []
    made = agent.neighbourhood

    def spied(*args, **kwargs):
        hood = made(*args, **kwargs)
        widths.append(hood.focus_width)
        foci.append(hood.foci(hood.root()))
        return hood

    monkeypatch.setattr(agent, "neighbourhood", spied)
    hit = sizes[200]
    agent.repair(hit, node_limit=2, budget_ms=600_000)
    agent.repair(hit, node_limit=2, budget_ms=600_000, focus_width=3)
    assert widths == [WIDE_FOCUS, 3]
    per_reason = [max(Counter(f.reason for f in found).values()) for found in foci]
    assert per_reason[0] > 2 and per_reason[1] == 3
    with pytest.raises(RRLError, match="focus_width"):
        agent.repair(hit, node_limit=2, focus_width=0)


def test_consult_takes_a_focus_width(trained, tmp_path) -> None:
    """``--focus-width`` reaches the repair: under a node limit a width of 1 and of 4 give
    other repairs of some rush orders, and the default is the policy's width here."""
    _, directory = trained
    path = flat_scenario(tmp_path, 20, 9, "edd")
    base = ["consult", "--policy", str(directory), "--scenario", str(path), "--event", "rush_order",
            "--node-limit", "15", "--walkers", "1", "--json"]

    def repaired(seed: int, *extra: str) -> dict:
        result = CliRunner().invoke(cli, [*base, "--seed", str(seed), *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["steps"]

    differ = 0
    for seed in range(4):
        default, narrow, wide = repaired(seed), repaired(seed, "--focus-width", "1"), repaired(seed, "--focus-width", "4")
        assert default == repaired(seed, "--focus-width", "2")
        differ += narrow != wide
    assert differ > 0


def test_saved_and_loaded_policy_chooses_the_same_actions(trained) -> None:
    agent, directory = trained
    loaded = RepairAgent.load(directory)
    rng = random.Random(99)
    for _ in range(8):
        hit = draw_case(agent.plant, rng)
        a, b = agent.repair(hit, node_limit=12, budget_ms=60_000), loaded.repair(hit, node_limit=12, budget_ms=60_000)
        assert [str(s.action) for s in a.steps] == [str(s.action) for s in b.steps]
        assert a.plan.schedule == b.plan.schedule


def test_policy_file_in_plain_swipl_gives_the_same_q_values(trained, tmp_path) -> None:
    agent, directory = trained
    hit = draw_case(agent.plant, random.Random(7), events=("rush_order",))
    hood = agent.neighbourhood(hit)
    root = hood.root()
    node = hood.child(root, hood.expand(root)[0])  # one step in: the focus now comes from the rules
    candidates = hood.expand(node)
    assert {c.focus.reason for c in candidates} - {"event"}, "the focus should have moved"
    expected = [c.q for c in candidates]
    script = tmp_path / "check.pl"
    lines = [":- initialization(main, main).", "main :-"]
    lines.append("    forall(member(F, [" + ",".join(hood.state_of(node)) + "]), assertz(F)),")
    lines.append("    forall(member(A, [" + ",".join("[" + ",".join(node.focus_facts[c.focus.task] + c.facts) + "]"
                                                       for c in candidates) + "]),")
    lines.append("           ( forall(member(F, A), assertz(F)), q_value(V), format('~15g~n', [V]),")
    lines.append("             forall(member(F, A), retract(F)) )).")
    script.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(["swipl", str(directory / "background.pl"), str(directory / "policy.pl"), str(script)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    got = np.array(proc.stdout.split(), dtype=float)
    assert np.allclose(got, expected, atol=1e-9)


def test_a_steps_value_and_rule_in_one_call_equal_the_separate_calls(trained) -> None:
    agent, _ = trained
    q = agent.q_function
    for seed in range(3):
        hit = draw_case(agent.plant, random.Random(seed), events=("rush_order",))
        hood = agent.neighbourhood(hit)
        root = hood.root()
        node = hood.child(root, hood.expand(root)[0])
        candidates = hood.expand(node)  # scored: the separate calls' values
        state = hood.state_of(node)
        facts = [hood.action_facts(node, c) for c in candidates]
        rules = q.explain_steps([(state, f) for f in facts])
        assert len(set(rules)) > 1 or seed, "the check needs actions of different abstract states"
        for candidate, own, rule in zip(candidates, facts, rules, strict=True):
            assert q.explained_value(state, own) == (candidate.q, rule)
        # a repair's steps, unscored by the search, get their values from that call
        lazy = agent.neighbourhood(hit, score_all=False)
        first = lazy.root()
        step = lazy.expand(first)[0]
        assert not step.scored
        (taken,) = agent._steps(lazy, lazy.child(first, step).path())
        assert taken.q_value == hood.expand(root)[0].q and taken.rule


BACKGROUND = data_dir("background_knowledge") / "repair.pl"


@pytest.mark.parametrize(("rules", "readable"), [
    ("predict(0.0).", set()),
    ("predict(1.0) :- focal(F), tardy(F), !.\npredict(0.0).", {"focal", "task"}),  # through the background
    ("predict(1) :- busiest_resource(R), R == ext1, !.\npredict(0).", {"res_load"}),  # into aggregate_all/3
    ("predict(V) :- findall(X, res_tardiness(_, X), L), sum_list(L, V).", {"res_tardiness"}),
    ("predict(V) :- forall(focal(F), \\+ started(F)), V = 1.\npredict(0).", {"focal", "started"}),
    ("predict(V) :- maplist(task_slack, [a], [V]), !.\npredict(0).", {"task"}),  # a closure
    ("predict(V) :- once(important(_)), V = 1.\npredict(0).", {"important"}),
    ("q_value(Q) :- action_reward(R), predict(V), Q is R + V.\npredict(V) :- n_orders(V).",
     {"action_reward", "n_orders"}),
    ("predict(V) :- clause(delayed(_), true), V = 1.\npredict(0).", None),  # a head, not a goal: anything
])
def test_the_facts_a_value_can_read_are_found_through_every_clause(rules: str, readable: set[str] | None) -> None:
    from rrl.learning.qfunction import PrologQFunction

    q = PrologQFunction([BACKGROUND], rules)
    assert q.value_facts() == (None if readable is None else frozenset(readable))
    q.set_rules("predict(V) :- n_orders(V).")  # asked again for new rules
    assert q.value_facts() == {"n_orders"}
    # an attribute's hook runs on unification, where no clause calls it
    q.set_rules(f"predict(1) :- put_attr(X, {q.module}, a), X = 1.\npredict(0).\n"
                "attr_unify_hook(_, _) :- makespan(_).")
    assert q.value_facts() is None


def test_rules_that_drop_q_value_are_valued_by_predict() -> None:
    from rrl.learning.qfunction import PrologQFunction

    q = PrologQFunction([BACKGROUND], "q_value(V) :- predict(P), V is P + 2.\npredict(1).")
    assert q.explained_value(["n_orders(1)"], []) == (3.0, 1)
    q.set_rules("predict(1).")
    assert q.explained_value(["n_orders(1)"], []) == (1.0, 1)


def test_facts_held_for_the_value_leave_the_whole_state_right_for_the_calls_after() -> None:
    """An explanation holds the readable facts only (of a state passed whole, only those);
    the next whole state, sent as a difference, leaves Prolog holding exactly it."""
    from rrl.learning.qfunction import PrologQFunction
    from rrl.relational.engine import run

    q = PrologQFunction([BACKGROUND], "predict(V) :- total_tardiness(V).")
    tasks = [f"task(a{i}, r1, {i}, 0, 1, p, 1, 5, 0)" for i in range(60)]
    q.set_state(["total_tardiness(1)", "delayed(a1)"] + tasks)
    only = q.value_facts()
    assert q.explain_steps([(["total_tardiness(2)", "delayed(a1)"] + tasks, ["focal(a0)"])], only=only) == [1]
    assert q.explained_value(["total_tardiness(3)"], ["focal(a0)"], only=only) == (3.0, 1)
    q.set_state(["total_tardiness(3)", "n_orders(60)"] + tasks)  # a difference: no delayed/1 any more
    held = {name: run(f"aggregate_all(count, {q.module}:{name}, N)")["N"]
            for name in ("total_tardiness(_)", "delayed(_)", "n_orders(_)", "task(_, _, _, _, _, _, _, _, _)")}
    assert held == {"total_tardiness(_)": 1, "delayed(_)": 0, "n_orders(_)": 1, "task(_, _, _, _, _, _, _, _, _)": 60}


def test_a_few_readable_facts_are_held_in_the_order_a_fresh_state_has_them() -> None:
    """A rule that takes the first of tied answers sees them in the state's own order,
    as plain swipl loading that state would, whatever was held before."""
    from rrl.learning.qfunction import PrologQFunction

    rules = "predict(1) :- busiest_resource(R), R == r1, !.\npredict(0)."
    s0 = ["res_load(r1, 1)", "res_load(r2, 2)"] + [f"task(a{i}, r1, {i}, 0, 1, p, 1, 5, 0)" for i in range(60)]
    s1 = ["res_load(r1, 2)", "res_load(r2, 2)"]
    q = PrologQFunction([BACKGROUND], rules)
    q.set_state(s0)
    assert q.explained_value(s1, ["focal(b0)"], only=q.value_facts()) == (1.0, 1)
    fresh = PrologQFunction([BACKGROUND], rules)
    assert fresh.explained_value(s1, ["focal(b0)"]) == (1.0, 1)


@pytest.mark.parametrize(("reads_orders", "family_steps"), [(False, 1), (True, 1), (False, 3)])
def test_steps_explained_from_the_readable_facts_get_the_whole_states_values_and_rules(
        reads_orders: bool, family_steps: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrl.learning.qfunction import PrologQFunction

    plant = load_scenario(EXTRUDERS).plant
    agent = RepairAgent(plant, "tardiness", seed=3)
    # A tree of a few leaves over the state (and, in the second, the orders' task facts
    # through the background), the kind TG learns: every step gets a value and a rule.
    agent._rules = (
        "predict(V) :- focal(F), action(_, F, _), total_tardiness(T), T >= 20, focal_slack(S), S >= -5, !, V = 0.6.\n"
        "predict(V) :- focal(F), action(_, F, _), action_delta_tardiness(D), D >= -1, !, V = -0.2.\n"
        + ("predict(V) :- focal(F), action(_, F, _), tardy_after_focal, !, V = 0.4.\n" if reads_orders else "")
        + "predict(0.3).\n"
        "q_value(Q) :- action_reward(R), predict(V), Q is R + 0.5 * V.\n")
    agent._q.set_rules(agent._rules)
    assert ("task" in agent._q.value_facts()) == reads_orders
    events = ("new_order", "rush_order", "breakdown", "material_delay")

    def explained() -> list[list[tuple[str, float, str]]]:
        rng = random.Random(7)
        found = []
        for seed in range(12):  # one agent for all: each repair starts from what the last left held
            hit = draw_case(plant, rng, events=events, family_steps=family_steps)  # 3: chains by `after`
            result = agent.repair(hit, seed=seed, node_limit=20, budget_ms=600_000)
            found.append([(str(s.action), s.q_value, s.rule) for s in result.steps])
        return found

    readable = explained()
    monkeypatch.setattr(PrologQFunction, "value_facts", lambda self: None)  # every state whole
    whole = explained()
    assert readable == whole
    assert sum(len(steps) for steps in whole) > 20 and len({r for steps in whole for _, _, r in steps}) > 1


def test_a_steps_explanation_names_the_predicate_that_failed() -> None:
    from rrl.learning.qfunction import PrologQFunction

    looping = PrologQFunction([], "q_value(0.5).\npredict(V) :- repeat, fail.\n", source="rules.pl")
    with pytest.raises(PolicyError, match=r"^rules.pl:2: predict/1 ran out of"):
        looping.explained_value(["n_orders(1)"], [])
    raising = PrologQFunction([], "q_value(V) :- V is foo + 1.\npredict(1.0).\n", source="rules.pl")
    with pytest.raises(PolicyError, match=r"^rules.pl:1: q_value/1 raised an error"):
        raising.explained_value(["n_orders(1)"], [])


def assert_consult_refuses(policy, text: str) -> None:
    """``rrl consult`` with this policy directory stops with one line naming policy.json and ``text``."""
    result = CliRunner().invoke(cli, ["consult", "--policy", str(policy), "--scenario", str(EXTRUDERS),
                                      "--event", "new_order"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "policy.json" in result.output and text in result.output


@pytest.mark.parametrize("event", ["new_order", "rush_order", "breakdown", "material_delay"])
def test_repairs_are_valid_and_never_worse(trained, event) -> None:
    agent, _ = trained
    rng = random.Random(hash(event) % 1000)
    for _ in range(6):
        hit = draw_case(agent.plant, rng, events=(event,))
        result = agent.repair(hit)
        plan = result.plan
        assert validate(plan.problem, plan.schedule, plan.times, reference=(hit.before.schedule, hit.before.times)) == []
        ctx = agent.goal.context(hit.before, hit.plan)
        assert ctx.cost(plan) <= ctx.cost(hit.plan) + 1e-9
        assert sorted(plan.schedule.orders()) == sorted(hit.plan.problem.orders)
        for step in result.steps:
            assert step.rule.startswith("% leaf") or step.rule.startswith("predict(")
            assert step.focus is not None and step.action.focal == step.focus.task
            assert step.focus_rule == CHAIN_RULES.get(step.focus.reason) or \
                step.focus_rule.startswith(f"focus_candidate({step.focus.reason},")


def test_consult_json_equals_a_recomputation_from_the_printed_scenario(trained) -> None:
    _, directory = trained
    for event, extra in [("rush_order", ["--product", "A"]), ("breakdown", ["--resource", "ext2", "--at", "3"]),
                         ("material_delay", ["--now", "2"])]:
        result = CliRunner().invoke(cli, ["consult", "--policy", str(directory), "--scenario", str(EXTRUDERS),
                                          "--event", event, *extra, "--seed", "4", "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert set(data) == {"event", "initial", "disrupted", "repaired", "steps", "scenario", "seconds"}
        plan = scenario_from_dict(data["scenario"]).plan()
        assert validate(plan.problem, plan.schedule, plan.times) == []
        for key, value in plan.metrics.to_dict().items():
            assert data["repaired"][key] == pytest.approx(value, abs=1e-6), (event, key)
        assert data["repaired"]["total_tardiness"] <= data["disrupted"]["total_tardiness"] + 1e-9
        for step in data["steps"]:
            assert set(step) == {"operator", "focal", "other", "total_tardiness"}


def test_consult_human_output_explains_steps_and_writes_strip(trained, tmp_path) -> None:
    _, directory = trained
    strip = tmp_path / "strip.png"
    result = CliRunner().invoke(cli, ["consult", "--policy", str(directory), "--scenario",
                                      str(SCENARIOS / "paper_table1.yaml"), "--event", "new_order", "--product", "A",
                                      "--size", "458", "--due", "1", "--gantt", str(strip)])
    assert result.exit_code == 0, result.output
    assert "total tardiness: before" in result.output
    # each step: its focus rule, and the Q-tree rule that values it (not "because": the
    # search chose it by cost)
    assert "      focus " in result.output and "      valued by (leaf " in result.output
    assert "because" not in result.output
    assert strip.read_bytes()[:4] == b"\x89PNG"


def test_consult_human_output_prints_each_rule_once_and_points_back_to_it(trained, capsys) -> None:
    """A walk's steps share one focus rule (and often a leaf): the first step that uses a
    rule prints it, the later ones name that step; a walk's step also names the focus
    rule its order meets."""
    _, directory = trained
    result = consult(RepairAgent.load(directory), load_scenario(EXTRUDERS), "rush_order", seed=1, node_limit=20,
                     name_foci=True)
    _print_repair(result)
    lines = capsys.readouterr().out.splitlines()
    assert "; search " in lines[1] and " ms in all)" in lines[1]
    blocks: list[list[str]] = []  # each step's explanation lines
    for line in lines[2:]:
        if line.startswith("  step "):
            blocks.append([])
        elif blocks and line.startswith("      "):
            blocks[-1].append(line.split(": ", 1)[1] if ": " in line else "")
    assert len(blocks) == len(result.steps) >= 2
    first: dict[str, int] = {}  # each rule's text -> the step that uses it first
    pointers = 0
    for k, (step, block) in enumerate(zip(result.steps, blocks, strict=True), 1):
        texts = [" ".join(line.split("%")[0].strip() for line in step.focus_rule.splitlines())]
        if step.meets:
            texts.append(" ".join(line.split("%")[0].strip() for line in step.meets_rule.splitlines()))
        texts.append(" ".join(line.strip() for line in step.rule.splitlines() if line and not line.startswith("%")))
        assert len(block) == len(texts)
        for text, shown in zip(texts, block, strict=True):
            owner = first.setdefault(text, k)
            assert shown == (text if owner == k else f"as in step {owner}")
            pointers += owner != k
    assert pointers, "the case should repeat a rule (a walk's steps share the re-placement's)"
    assert any(step.meets for step in result.steps), "the walk's steps should name the focus rules their orders meet"


def test_name_foci_gives_a_walks_steps_the_focus_rule_their_orders_meet(trained) -> None:
    """Asked for, each step of a walk, block or exchange names the first focus rule of the
    background that proposes its focal task in the plan before it: a rule that does hold
    there (most_tardy: the order is late; event: it is the disruption's own)."""
    agent, _ = trained
    plant = load_scenario(EXTRUDERS).plant
    named = 0
    for hit in draw_cases(plant, 6, 2, (10, 20), ("new_order", "rush_order")):
        plain = agent.repair(hit, node_limit=20, seed=1)
        result = agent.repair(hit, node_limit=20, seed=1, name_foci=True)
        assert [s.action for s in result.steps] == [s.action for s in plain.steps]  # (the same repair)
        assert all(not s.meets and not s.meets_rule for s in plain.steps)
        before = hit.plan
        for step in result.steps:
            assert step.focus is not None
            task = step.focus.task
            if step.focus.reason not in CHAIN_RULES:
                assert not step.meets  # (its own focus rule says why)
                continue
            # the first rule of the background's order that proposes the task: event (the
            # disruption's own orders), then most_tardy (any late order), then the others
            late = before.times.end[task] > before.problem.orders[task].due + 1e-9
            if task in hit.focal:
                assert step.meets == "event"
            elif late:
                assert step.meets == "most_tardy"
            else:
                assert step.meets not in ("event", "most_tardy")
            if step.meets:
                named += 1
                assert step.meets_rule.startswith(f"focus_candidate({step.meets},")
            before = step.plan
    assert named > 0


def test_a_callable_decides_the_naming_once_the_search_has_ended(trained) -> None:
    """``name_foci`` may be asked after the search (a caller that may be out of time by
    then): its answer decides, and ``foci_named`` says what happened."""
    agent, _ = trained
    hit = draw_cases(load_scenario(EXTRUDERS).plant, 1, 2, (10, 20), ("rush_order",))[0]
    searched = []

    def stop() -> bool:  # (the search asks it at every step: its calls count the search's)
        searched.append(1)
        return False

    asked = []
    for answer in (True, False):
        def when(answer: bool = answer) -> bool:
            asked.append(len(searched))
            return answer

        before = len(searched)
        result = agent.repair(hit, node_limit=20, seed=1, stop=stop, name_foci=when)
        assert asked[-1] == len(searched) > before  # asked once, after the search's last look
        assert result.foci_named is answer
        assert any(s.meets for s in result.steps) is answer
    assert len(asked) == 2
    assert agent.repair(hit, node_limit=20, seed=1).foci_named is False


def test_a_focus_that_cannot_be_named_leaves_the_step_unnamed(trained, monkeypatch) -> None:
    """A background whose focus rules fail at run time (e.g. out of their inference
    bound) costs a walk's step its name, not the repair."""
    agent, _ = trained
    hit = draw_cases(load_scenario(EXTRUDERS).plant, 1, 2, (10, 20), ("rush_order",))[0]
    named = agent.repair(hit, node_limit=20, seed=1, name_foci=True)
    assert any(s.meets for s in named.steps)
    real = RepairAgent._focus_met

    def out_of_bounds(*args, **kwargs):
        raise PolicyError("rules:0: out of inferences")

    def failing(self, hood, node):  # (the search's own focus calls still answer)
        with monkeypatch.context() as patch:
            patch.setattr(self._q, "reason", out_of_bounds)
            return real(self, hood, node)

    monkeypatch.setattr(RepairAgent, "_focus_met", failing)
    result = agent.repair(hit, node_limit=20, seed=1, name_foci=True)
    assert [s.action for s in result.steps] == [s.action for s in named.steps]
    assert all(not s.meets and not s.meets_rule for s in result.steps)


@pytest.mark.parametrize("call", ["rrl_state_change_focus", "rrl_state_change_reason"])
def test_a_failed_focus_call_forgets_which_state_prolog_holds(trained, monkeypatch, call: str) -> None:
    """Prolog may hold part of a change when a focus call fails (the candidates, or one
    task's reason): the policy then sends the next state whole instead of a difference
    from a state it no longer knows."""
    agent, _ = trained
    from rrl.learning import qfunction

    hit = draw_cases(load_scenario(EXTRUDERS).plant, 1, 2, (10, 20), ("rush_order",))[0]
    hood = agent.neighbourhood(hit)
    root = hood.root()
    state = hood.state_of(root)
    q = agent._q
    answer = q.focus(2, state)
    assert q._held is state and q._held_set is not None  # (a state sent as differences from it)
    real = qfunction.call_text

    def failing(name: str, *args):
        if name == call:
            real("rrl_state_change", *args[:3])  # (the change made, then the focus rules failed)
            return "!error\trules\t0\tout of inferences"
        return real(name, *args)

    monkeypatch.setattr(qfunction, "call_text", failing)
    changed = state[:-3]
    with pytest.raises(PolicyError):
        if call == "rrl_state_change_focus":
            q.focus(2, changed)
        else:
            q.reason(answer[0][0], changed)
    assert q._held is None and q._held_set is None
    monkeypatch.setattr(qfunction, "call_text", real)
    assert q.focus(2, state) == answer


def test_a_tasks_reason_is_the_one_its_candidates_list_it_under(trained) -> None:
    """``reason`` (one task's focus rule) names the reason under which the full list of
    candidates proposes the task, for every order of states a search visits, whichever
    state Prolog held before (sent whole, as a difference, or held already)."""
    agent, _ = trained
    q = agent._q
    checked = named = started = 0
    for hit in draw_cases(load_scenario(EXTRUDERS).plant, 4, 4, (10, 20), EVENTS):
        hood = agent.neighbourhood(hit)
        root = hood.root()
        nodes = [root] + [hood.child(root, c) for c in hood.expand(root)[:6]]
        for node in nodes:
            state = hood.state_of(node)
            listed = dict(q.focus(len(node.plan.problem.orders), state))
            for task in node.plan.problem.orders:
                expected = listed.get(task, "")
                assert q.reason(task, state) == expected, task
                checked += 1
                named += bool(expected)
                started += task in node.plan.problem.frozen  # (never proposed: it runs already)
            assert q.reason(task, list(state)) == expected  # (an equal list: sent as a difference)
    assert checked > 100 and named > 10 and started > 0


def test_a_tasks_reason_reads_any_order_id(trained) -> None:
    """Order ids of any text (spaces, quotes, a NUL, operators, ``[]``, non-ASCII) reach
    Prolog as the facts write them: the reason named is the one the full list gives, for
    a state sent whole as for one held already."""
    import yaml

    from rrl.dispatching import dispatch
    from rrl.domain import Plan
    from rrl.events.draw import draw_event

    agent, _ = trained
    data = yaml.safe_load(EXTRUDERS.read_text())
    odd = ["o 1", "it's", "nul\x00x", "-", "is", "ü2", "[]", "a\\b", "X", "1"]
    rename = {o["id"]: odd[i] if i < len(odd) else o["id"] for i, o in enumerate(data["orders"])}
    for order in data["orders"]:
        order["id"] = rename[order["id"]]
        order["after"] = [rename[a] for a in order.get("after") or []] or None
    data.pop("schedule", None)
    problem = scenario_from_dict(data).problem
    hit = draw_event("rush_order", Plan.build(problem, dispatch(problem, "edd")), random.Random(1))
    hood = agent.neighbourhood(hit)
    state = hood.state_of(hood.root())
    q = agent._q
    q._held = q._held_set = None  # (the state goes whole: rrl_state_reason)
    first = q.reason(odd[0], state)
    listed = dict(q.focus(len(problem.orders), state))
    assert first == listed.get(odd[0], "")
    assert [q.reason(task, state) for task in odd] == [listed.get(task, "") for task in odd]
    assert sum(bool(listed.get(task)) for task in odd) >= 5


def test_policy_show_reads_rules(trained) -> None:
    _, directory = trained
    result = CliRunner().invoke(cli, ["policy", "show", str(directory)])
    assert result.exit_code == 0
    assert "predict(Value)" in result.output and "goal tardiness" in result.output
    # the count train printed: the default rule is no abstract state
    assert f" {RepairAgent.load(directory).n_leaves} abstract states, one rule each" in result.output


@pytest.mark.parametrize("damage", ["missing_dir", "missing_rules", "bad_json", "syntax", "no_goal",
                                    "library_name", "background_name", "leaf_value", "default_value"])
def test_bad_policy_directory_gives_one_line(trained, tmp_path, damage) -> None:
    import shutil

    _, directory = trained
    broken = tmp_path / "broken"
    if damage != "missing_dir":
        shutil.copytree(directory, broken)
    if damage == "missing_rules":
        (broken / "policy.pl").unlink()
    elif damage == "bad_json":
        (broken / "policy.json").write_text("{not json")
    elif damage == "syntax":
        with (broken / "policy.pl").open("a") as out:
            out.write("\npredict(V) :- foo(,\n")
    elif damage in ("library_name", "background_name"):  # rules that define a name already taken
        with (broken / "policy.pl").open("a") as out:
            out.write("\nsum_list(_, 0).\n" if damage == "library_name" else "\ntardy(_).\n")
    elif damage in ("leaf_value", "default_value"):  # a value no arithmetic reads, at its own line
        rules = (broken / "policy.pl").read_text().splitlines()
        pattern = "    Value = " if damage == "leaf_value" else "predict("
        line = next(k for k, text in enumerate(rules) if text.startswith(pattern) and text.endswith(".")
                    and (damage == "leaf_value" or ":-" not in text))
        rules[line] = "    Value = abc." if damage == "leaf_value" else 'predict("abc").'
        (broken / "policy.pl").write_text("\n".join(rules) + "\n")
    elif damage == "no_goal":
        meta = json.loads((broken / "policy.json").read_text())
        del meta["goal"]
        (broken / "policy.json").write_text(json.dumps(meta))
    with pytest.raises(PolicyError):
        RepairAgent.load(broken)
    result = CliRunner().invoke(cli, ["consult", "--policy", str(broken), "--scenario", str(EXTRUDERS),
                                      "--event", "new_order"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rrl: error: ") and "broken" in lines[0], result.output
    if damage in ("syntax", "library_name", "background_name"):
        assert "policy.pl:" in lines[0]
    if damage == "library_name":
        assert "sum_list/2 is a predicate of the lists library" in lines[0]
    if damage == "background_name":
        assert "tardy/1 is defined by the background knowledge" in lines[0]
    if damage in ("leaf_value", "default_value"):
        clause = max(k for k in range(line + 1) if rules[k].startswith("predict("))  # (where the leaf's rule starts)
        assert f"policy.pl:{clause + 1}: predict/1 gives the value " in lines[0] and "not a number" in lines[0]


def test_train_cli_writes_a_policy_directory(tmp_path) -> None:
    out = tmp_path / "pol"
    result = CliRunner().invoke(cli, ["train", "--goal", "stability", "--scenario", str(EXTRUDERS), "--episodes", "8",
                                      "--seed", "2", "--out", str(out), "--json", "--event", "mix"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["episodes"] == 8 and len(data["curve"]) == 8
    assert {p.name for p in out.iterdir()} >= {"policy.pl", "policy.json", "background.pl", "curve.png"}
    assert not any(p.name.endswith(".pkl") for p in out.iterdir())


def test_train_rejects_bad_flags(tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--goal", "tardiness", "--scenario", str(EXTRUDERS), "--episodes", "2",
                                 "--out", str(tmp_path / "p"), "--orders", "20-10"])
    assert result.exit_code == 2 and "--orders" in result.output
    result = runner.invoke(cli, ["train", "--goal", "tardiness", "--scenario", str(EXTRUDERS), "--episodes", "2",
                                 "--out", str(tmp_path / "p"), "--event", "flood"])
    assert result.exit_code == 2 and "unknown event 'flood'" in result.output
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("training", ['"training": []', '"training": {"episodes": "many"}'])
def test_malformed_policy_metadata_is_one_line(trained, tmp_path, training) -> None:
    import shutil

    _, directory = trained
    broken = tmp_path / "meta"
    shutil.copytree(directory, broken)
    meta = json.loads((broken / "policy.json").read_text())
    meta.update(json.loads("{" + training + "}"))
    (broken / "policy.json").write_text(json.dumps(meta))
    result = CliRunner().invoke(cli, ["consult", "--policy", str(broken), "--scenario", str(EXTRUDERS),
                                      "--event", "new_order"])
    assert result.exit_code == 2
    assert result.output.startswith("rrl: error: ") and "policy.json" in result.output


def test_first_pass_is_saved_and_a_bad_one_is_one_line(trained, tmp_path) -> None:
    import shutil

    agent, directory = trained
    assert RepairAgent.load(directory).first_pass == "first_improvement"
    hit = draw_case(agent.plant, random.Random(4))
    greedy = RepairAgent.load(directory)
    greedy.first_pass = "policy"
    for repairer in (agent, greedy):  # both passes give valid repairs, never worse
        result = repairer.repair(hit, node_limit=6, budget_ms=60_000)
        assert validate(result.plan.problem, result.plan.schedule, result.plan.times) == []
        assert result.plan.total_tardiness <= hit.plan.total_tardiness + 1e-9
    saved = greedy.save(tmp_path / "greedy")
    assert RepairAgent.load(saved).first_pass == "policy"
    for choice in ("policy", "descent", "first_improvement"):
        result = CliRunner().invoke(cli, ["consult", "--policy", str(directory), "--scenario", str(EXTRUDERS),
                                          "--event", "rush_order", "--first-pass", choice, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["repaired"]["total_tardiness"] <= \
            json.loads(result.output)["disrupted"]["total_tardiness"] + 1e-9
    result = CliRunner().invoke(cli, ["consult", "--policy", str(directory), "--scenario", str(EXTRUDERS),
                                      "--event", "rush_order", "--first-pass", "sideways"])
    assert result.exit_code == 2 and "--first-pass" in result.output
    broken = tmp_path / "bad"
    shutil.copytree(directory, broken)
    meta = json.loads((broken / "policy.json").read_text())
    meta["parameters"]["first_pass"] = "sideways"
    (broken / "policy.json").write_text(json.dumps(meta))
    assert_consult_refuses(broken, "first_pass 'sideways'")


def test_longest_block_is_chosen_by_goal_saved_and_a_bad_one_is_one_line(trained, tmp_path) -> None:
    import shutil

    agent, directory = trained
    assert agent.longest_block == 1  # tardiness: single steps
    assert RepairAgent(agent.plant, "stability").longest_block == 3
    meta = json.loads((directory / "policy.json").read_text())
    assert meta["parameters"]["longest_block"] == 1
    del meta["parameters"]["longest_block"]  # a policy saved before block steps: chosen by goal
    older = tmp_path / "older"
    shutil.copytree(directory, older)
    (older / "policy.json").write_text(json.dumps(meta))
    assert RepairAgent.load(older).longest_block == 1
    stability = RepairAgent(agent.plant, "stability")
    for saved, expected in ((None, 3), (2, 2)):  # by goal when absent; as saved otherwise
        stability.longest_block = saved if saved is not None else 3
        directory_s = stability.save(tmp_path / f"stability{saved}")
        data = json.loads((directory_s / "policy.json").read_text())
        if saved is None:
            del data["parameters"]["longest_block"]
        (directory_s / "policy.json").write_text(json.dumps(data))
        assert RepairAgent.load(directory_s).longest_block == expected
    meta["parameters"]["longest_block"] = 0
    (older / "policy.json").write_text(json.dumps(meta))
    assert_consult_refuses(older, "longest_block")


@pytest.mark.parametrize("switch", ["exchanges", "recreate"])
def test_a_search_switch_is_saved_older_policies_have_it_on_and_a_bad_value_is_one_line(trained, tmp_path,
                                                                                         switch) -> None:
    import shutil

    _, directory = trained
    meta = json.loads((directory / "policy.json").read_text())
    assert meta["parameters"][switch] is True
    del meta["parameters"][switch]  # a policy saved before exchange steps, or before the walk
    older = tmp_path / "older"
    shutil.copytree(directory, older)
    (older / "policy.json").write_text(json.dumps(meta))
    assert getattr(RepairAgent.load(older), switch) is True
    meta["parameters"][switch] = False
    (older / "policy.json").write_text(json.dumps(meta))
    assert getattr(RepairAgent.load(older), switch) is False
    meta["parameters"][switch] = "yes"
    (older / "policy.json").write_text(json.dumps(meta))
    assert_consult_refuses(older, switch)


def flat_scenario(tmp_path: Path, orders: int, seed: int, rule: str) -> Path:
    """A scenario file of random orders on the extruders without ``after`` (where exchange
    steps and the walk run), planned by ``rule``."""
    from rrl.dispatching import dispatch
    from rrl.domain import Plan
    from rrl.domain.generate import random_orders
    from rrl.domain.problem import Problem
    from rrl.domain.scenario import Scenario

    plant = load_scenario(EXTRUDERS).plant
    drawn = random_orders(plant, orders, random.Random(seed))
    problem = Problem(plant, {o.id: o for o in drawn})
    path = tmp_path / "flat.json"
    path.write_text(json.dumps(Scenario("flat", problem, Plan.build(problem, dispatch(problem, rule)).schedule).to_dict()))
    return path


@pytest.mark.parametrize(("switch", "reason", "extra"),
                         [("exchanges", "exchange", ["--no-recreate", "--first-pass", "descent", "--budget-ms", "300"]),
                          ("recreate", "recreate", ["--budget-ms", "300"])])
def test_consult_without_a_search_switch_takes_none_of_its_steps(trained, tmp_path, switch, reason, extra) -> None:
    """``--no-exchanges`` / ``--no-recreate`` override the policy's setting; with them on
    some rush orders are repaired through such steps (exchanges: without the walk, whose
    path from the disrupted plan would replace the descent's, and after a steepest
    descent, whose end on these cases the wider passes do not improve on; the walk: with
    a budget that leaves it time)."""
    _, directory = trained
    path = flat_scenario(tmp_path, 20, 9, "edd")
    taken = 0
    for seed in range(6):
        for flag in (f"--{switch}", f"--no-{switch}"):
            result = CliRunner().invoke(cli, ["consult", "--policy", str(directory), "--scenario", str(path),
                                              "--event", "rush_order", "--seed", str(seed), *extra, flag])
            assert result.exit_code == 0, result.output
            assert flag == f"--{switch}" or f"({reason})" not in result.output
            taken += f"({reason})" in result.output
    assert taken > 0


@pytest.fixture
def forks(monkeypatch) -> list[int]:
    """The walks forked by each run of the walk (one entry per run that forked any)."""
    import rrl.learning.recreate as recreate

    counts: list[int] = []
    run_forked = recreate.run_forked

    def counted(*args, **kwargs):
        counts.append(len(args[1]))
        return run_forked(*args, **kwargs)

    monkeypatch.setattr(recreate, "run_forked", counted)
    return counts


def test_consult_runs_one_or_two_walks_and_refuses_none(trained, tmp_path, monkeypatch, forks) -> None:
    """``--walkers`` sets the walks run at once (a machine's setting, not the policy's):
    with 2 a second walk is forked on some rush orders, with 1 never; 0 is one line."""
    # (a fork is cheap here whatever the test process holds: how the fork's cost decides is
    # the next test's; each test starts unforked, tests/conftest.py)
    monkeypatch.setattr("rrl._fork._timed_fork", lambda seconds, size: None)
    _, directory = trained
    path = flat_scenario(tmp_path, 20, 9, "edd")
    base = ["consult", "--policy", str(directory), "--scenario", str(path), "--event", "rush_order"]
    for walkers in ("1", "2"):
        forks.clear()
        for seed in range(4):
            result = CliRunner().invoke(cli, [*base, "--seed", str(seed), "--walkers", walkers, "--budget-ms", "100",
                                              "--json"])
            assert result.exit_code == 0, result.output
            data = json.loads(result.output)
            assert data["repaired"]["total_tardiness"] <= data["disrupted"]["total_tardiness"] + 1e-9
        assert forks if walkers == "2" else not forks
        assert set(forks) <= {1}  # one forked walk beside this process's
    bad = CliRunner().invoke(cli, [*base, "--walkers", "0"])
    lines = bad.output.strip().splitlines()
    assert bad.exit_code == 2 and len(lines) == 1 and "--walkers" in lines[0], bad.output


def test_a_walk_forks_only_where_the_fork_costs_little_of_its_time(trained, monkeypatch, forks) -> None:
    """A fork waits while the kernel prepares the process's memory for copy-on-write: a
    consult in a process holding many GiB (a notebook's data) walks in this process
    alone, one in a small process forks its second walk; under a node limit both walks
    run whatever the cost (the same repair on any machine)."""
    from rrl.learning.search import FORK_FROM_S, FORK_SHARE, worth_forking

    _, directory = trained
    agent = RepairAgent.load(directory)
    agent.walkers = 2
    cases = draw_cases(load_scenario(EXTRUDERS).plant, 3, 5, (15, 20), ("rush_order",))
    monkeypatch.setattr("rrl._fork._fork_rate", 30e-6 / (1 << 20))  # 30 us per MiB (as timed on a VM)
    monkeypatch.setattr("rrl._fork._timed_fork", lambda seconds, size: None)
    for resident, forked in ((1 << 20, True), (1 << 40, False)):
        monkeypatch.setattr("rrl._fork.resident_bytes", lambda resident=resident: resident)
        assert worth_forking(0.03) is forked
        forks.clear()
        for case in cases:
            result = agent.repair(case, budget_ms=100)
            assert result.plan.total_tardiness <= case.plan.total_tardiness + 1e-9
            assert validate(result.plan.problem, result.plan.schedule, result.plan.times) == []
        assert bool(forks) is forked
        forks.clear()
        for case in cases:
            agent.repair(case, node_limit=20)
        assert forks and set(forks) == {1}
    monkeypatch.setattr("rrl._fork.resident_bytes", lambda: 1 << 20)
    assert not worth_forking(FORK_FROM_S / 2)  # (too little time left for any fork)
    monkeypatch.setattr("rrl._fork._fork_rate", 1.0 / (1 << 20))  # a second per MiB
    assert worth_forking(1.01 / FORK_SHARE) and not worth_forking(0.99 / FORK_SHARE)
    assert worth_forking(2.02 / FORK_SHARE, forks=2) and not worth_forking(1.98 / FORK_SHARE, forks=2)
    assert not worth_forking(1.0, forks=0)  # (one walk: nothing to fork)
    monkeypatch.setattr("rrl._fork._fork_rate", None)  # (a process's first fork is made, and timed)
    assert worth_forking(FORK_FROM_S)


def test_consult_under_a_node_limit_is_the_same_on_a_loaded_machine(trained, tmp_path) -> None:
    """``--node-limit`` bounds the search by a count, not the clock: the same repair as the
    library's under that limit, whether the machine is idle or every core is busy (two
    walks, one of them forked, as by default)."""
    _, directory = trained
    path = flat_scenario(tmp_path, 20, 9, "edd")
    agent = RepairAgent.load(directory)
    scenario = load_scenario(path)
    base = ["consult", "--policy", str(directory), "--scenario", str(path), "--event", "rush_order",
            "--node-limit", "20", "--walkers", "2", "--json"]

    def repairs() -> list[dict]:
        found = []
        for seed in range(3):
            result = CliRunner().invoke(cli, [*base, "--seed", str(seed)])
            assert result.exit_code == 0, result.output
            found.append({k: v for k, v in json.loads(result.output).items() if k != "seconds"})
        return found

    idle = repairs()
    hogs: list[subprocess.Popen] = []
    try:
        for _ in range(usable_cores()):
            hogs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        loaded = repairs()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert loaded == idle
    for seed, printed in enumerate(idle):
        agent.walkers = 2
        expected = agent.repair(scenario.plan(), "rush_order", seed=seed, node_limit=20)
        assert printed["repaired"] == expected.plan.metrics.to_dict()
        assert printed["repaired"]["total_tardiness"] <= printed["disrupted"]["total_tardiness"] + 1e-9
    assert len({json.dumps(p["repaired"], sort_keys=True) for p in idle}) > 1  # (the seeds draw other events)


def test_stability_consult_explains_every_member_of_a_block_step(tmp_path) -> None:
    """A stability policy steps by blocks: every step printed names its operator, its
    focus and a rule; a block's later members name the block rule."""
    plant = load_scenario(EXTRUDERS).plant
    agent = RepairAgent(plant, "stability", seed=1, max_steps=4).learn(60)
    assert all(r.steps <= 4 for r in agent.curve)  # episodes keep the step limit, blocks counted per member
    members = 0
    for case in draw_cases(plant, 12, 5, (10, 20), ("new_order", "rush_order")):
        result = agent.repair(case, budget_ms=60_000, node_limit=12)
        assert len(result.steps) <= 4
        assert validate(result.plan.problem, result.plan.schedule, result.plan.times,
                        reference=(case.before.schedule, case.before.times)) == []
        for step in result.steps:
            assert step.focus is not None and step.focus_rule and step.rule
            if step.focus.reason == "block":
                members += 1
                assert "block" in step.focus_rule
    assert members > 0  # some repair took a block step


def test_training_can_start_from_ppo_schedules(tmp_path) -> None:
    pytest.importorskip("sb3_contrib")
    out = tmp_path / "ppo-policy"
    result = CliRunner().invoke(cli, ["train", "--goal", "tardiness", "--scenario", str(EXTRUDERS), "--episodes", "3",
                                      "--rule", "ppo", "--eval-every", "0", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "policy.json").read_text())
    assert meta["training"]["episodes"] == 3
    assert meta["parameters"]["rule"] == "ppo"


def test_evaluate_cli_prints_json_and_plot(trained, tmp_path) -> None:
    _, directory = trained
    result = CliRunner().invoke(cli, ["evaluate", "--policy", str(directory), "--scenario", str(EXTRUDERS),
                                      "--cases", "3", "--seed", "4", "--methods",
                                      "policy,untrained,random_walk,best_insertion,hill_climbing,cpsat",
                                      "--cpsat-seconds", "0.5", "--json", "--plots", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cases"] == 3
    assert set(data["methods"]) == {"policy", "untrained", "random_walk", "best_insertion", "hill_climbing", "cpsat"}
    for summary in data["methods"].values():
        assert summary["total_tardiness"] <= data["disrupted_tardiness"] + 1e-9
    assert (tmp_path / "evaluation.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(cli, ["evaluate", "--policy", str(directory), "--scenario", str(EXTRUDERS),
                                   "--methods", "policy,oracle"])
    assert bad.exit_code == 2 and "unknown method 'oracle'" in bad.output


def test_the_untrained_twin_runs_the_policys_search_without_its_rules(trained, monkeypatch) -> None:
    """``RepairAgent.untrained`` keeps the loaded policy's background and search settings
    and drops its rules (one leaf of value 0); ``evaluate``'s ``untrained`` row is that
    twin's repairs under the same node limit."""
    _, directory = trained
    agent = RepairAgent.load(directory)
    agent.exchanges, agent.longest_block, agent.walkers = False, 2, 1  # (settings the twin must keep)
    twin = agent.untrained()
    assert agent.n_leaves > 1 and twin.n_leaves == 1 and "predict(0.0)." in twin.rules
    assert twin.background_path == agent.background_path == directory / "background.pl"
    for name in ("goal", "first_pass", "exchanges", "recreate", "walkers", "longest_block", "max_steps", "orders",
                 "focus_width", "moves_per_focus", "reach", "budget_ms", "gamma", "tie_break"):
        assert getattr(twin, name) == getattr(agent, name), name
    cases = draw_cases(agent.plant, 4, 8, (10, 20), ("rush_order",))
    expected = [twin.repair(hit, node_limit=12).plan.total_tardiness for hit in cases]
    repair = RepairAgent.repair
    repairers: list[int] = []  # the abstract states of each agent evaluate asks to repair

    def spied(self, *args, **kwargs):
        repairers.append(self.n_leaves)
        return repair(self, *args, **kwargs)

    monkeypatch.setattr(RepairAgent, "repair", spied)
    report = evaluate(agent, cases, methods=["policy", "untrained"], node_limit=12)
    assert repairers == [agent.n_leaves, 1] * len(cases)  # the policy, then its twin, case by case
    assert report.methods["untrained"].per_case == expected
    monkeypatch.setattr(RepairAgent, "repair", repair)
    step = next(s for hit in cases for s in twin.repair(hit, node_limit=12).steps)
    assert "predict(0.0)" in step.rule and "predict(0.0)" not in agent.rules


def test_consult_can_repair_a_ppo_plan(trained) -> None:
    pytest.importorskip("sb3_contrib")
    _, directory = trained
    result = CliRunner().invoke(cli, ["consult", "--policy", str(directory), "--scenario", str(EXTRUDERS),
                                      "--event", "rush_order", "--rule", "ppo", "--seed", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["repaired"]["total_tardiness"] <= data["disrupted"]["total_tardiness"] + 1e-9


def test_the_descent_baseline_gets_the_budget_where_the_policy_ended_at_nothing(monkeypatch) -> None:
    """The steepest descent baseline gets the policy's search time, case by case; where
    the policy's search ended early at a plan costing nothing, the policy's budget: the
    early end must not shorten the baseline's clock."""
    import rrl.learning.search as search

    agent = RepairAgent(load_scenario(EXTRUDERS).plant, "tardiness")
    runs: list[tuple[float, float]] = []
    budgets: list[float] = []
    repair, descent = agent.repair, search.steepest_descent

    def policy(hit, **kwargs):
        result = repair(hit, **kwargs)
        runs.append((result.plan.total_tardiness, result.search_seconds))
        return result

    def baseline(hood, *, budget_s, **kwargs):
        budgets.append(budget_s)
        return descent(hood, budget_s=budget_s, **kwargs)

    monkeypatch.setattr(agent, "repair", policy)
    monkeypatch.setattr(search, "steepest_descent", baseline)
    cases = draw_cases(agent.plant, 12, seed=3, orders=(10, 12), events=("new_order",))
    evaluate(agent, cases, methods=["policy", "steepest_descent"], budget_ms=200)
    assert len(runs) == len(budgets) == len(cases)
    zero = [tardiness <= 1e-9 for tardiness, _ in runs]
    assert any(zero) and not all(zero)
    for (tardiness, searched), budget in zip(runs, budgets, strict=True):
        assert budget == (max(searched, 0.2) if tardiness <= 1e-9 else searched)
