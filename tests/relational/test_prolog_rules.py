"""Trees written as Prolog rules run in plain swipl with the same answers as Python, and
the engine keys background knowledge correctly (negation, all-solutions, shared vars)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rrl.cli.main import cli
from rrl.errors import PrologError, SettingsError
from rrl.relational import Example, TildeRegressor, read_kb
from rrl.relational.engine import World, run
from rrl.relational.forest import TildeForestRegressor
from rrl.relational.tg import TGRegressor

# Plain Prolog, no rrl code: consult background and tree, then for each block of the kb
# assert its facts, ask predict/1, print "Id Value", retract the facts.
DRIVER = r"""
run_kb(File) :-
    open(File, read, S), read(S, T0), blocks(S, T0), close(S).
blocks(_, end_of_file) :- !.
blocks(S, begin(model(Id))) :- !, facts(S, Fs), forall(member(F, Fs), assertz(F)),
    ( predict(V) -> true ; V = none ), format("~q ~w~n", [Id, V]),
    forall(member(F, Fs), retract(F)), read(S, T), blocks(S, T).
blocks(S, _) :- read(S, T), blocks(S, T).
facts(S, Fs) :- read(S, T),
    ( T = end(model(_)) -> Fs = [] ; T = target(_) -> facts(S, Fs) ; Fs = [T|R], facts(S, R) ).
"""

pytestmark = pytest.mark.skipif(shutil.which("swipl") is None, reason="needs the swipl executable")


def _plain_swipl(tmp_path: Path, bg: Path, tree: Path, kb: Path) -> dict[str, float]:
    driver = tmp_path / "driver.pl"
    driver.write_text(DRIVER)
    proc = subprocess.run(["swipl", "-q", "-g", f"consult('{bg}'), consult('{tree}'), consult('{driver}'), "
                           f"run_kb('{kb}'), halt", "-t", "halt(1)"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return {line.split()[0]: float(line.split()[1]) for line in proc.stdout.splitlines()}


@pytest.mark.parametrize("incremental", [False, True])
def test_tree_file_in_plain_swipl_matches_python(tmp_path, files, incremental):
    out = tmp_path / "tree.pl"
    args = ["tilde", "fit", "--kb", str(files["train"]), "--settings", str(files["settings"]),
            "--bg", str(files["bg"]), "--out", str(out), "--json"]
    if incremental:
        args += ["--incremental", "--min-samples", "50"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert set(summary) == {"nodes", "leaves", "seconds"} and summary["leaves"] >= 2
    result = CliRunner().invoke(cli, ["tilde", "predict", "--tree", str(out), "--kb", str(files["test"]),
                                      "--bg", str(files["bg"]), "--json"])
    assert result.exit_code == 0, result.output
    cli_predictions = json.loads(result.output)["predictions"]
    plain = _plain_swipl(tmp_path, files["bg"], out, files["test"])
    assert plain == cli_predictions and len(plain) == 60
    # and the estimator itself agrees with both
    examples = read_kb(files["train"])
    model = (TGRegressor(str(files["settings"]), str(files["bg"]), min_samples=50) if incremental
             else TildeRegressor(str(files["settings"]), str(files["bg"]))).fit(examples)
    assert model.to_prolog() == out.read_text()
    test = read_kb(files["test"])
    assert dict(zip([e.id for e in test], model.predict(test).tolist(), strict=True)) == cli_predictions


def test_regression_forest_file_in_plain_swipl_matches_python(tmp_path, files):
    # (a regression forest once lacked the value for examples its trees' root queries fail
    # on, which its Prolog text and its predictions need: every fit through the CLI
    # ended in a traceback and wrote nothing)
    out = tmp_path / "forest.pl"
    result = CliRunner().invoke(cli, ["tilde", "fit", "--kb", str(files["train"]), "--settings", str(files["settings"]),
                                      "--bg", str(files["bg"]), "--out", str(out), "--trees", "5",
                                      "--max-candidates", "0.99", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["trees"] == 5
    result = CliRunner().invoke(cli, ["tilde", "predict", "--tree", str(out), "--kb", str(files["test"]),
                                      "--bg", str(files["bg"]), "--json"])
    assert result.exit_code == 0, result.output
    cli_predictions = json.loads(result.output)["predictions"]
    assert _plain_swipl(tmp_path, files["bg"], out, files["test"]) == pytest.approx(cli_predictions)
    examples, test = read_kb(files["train"]), read_kb(files["test"])
    model = TildeForestRegressor(str(files["settings"]), str(files["bg"]), n_trees=5, max_candidates=0.99).fit(examples)
    assert model.to_prolog() == out.read_text()
    assert model.default_ == pytest.approx(np.mean([e.target for e in examples]))
    predicted = model.predict(test)
    assert dict(zip([e.id for e in test], predicted.tolist(), strict=True)) == cli_predictions
    # the forest finds the relation: high targets predicted high
    high = np.array([e.target > 5 for e in test])
    assert predicted[high].mean() > predicted[~high].mean() + 5


def test_tree_file_is_readable(tmp_path, files):
    model = TildeRegressor(files["settings"], background=files["bg"], significance=0.001)
    text = model.fit(read_kb(files["train"])).to_prolog()
    rules = [line for line in text.splitlines() if line.startswith("predict(")]
    assert len(rules) == len(model.leaves()) + 1  # one rule per leaf plus the fallback
    assert text.count("% leaf ") == len(model.leaves())
    assert "    focal(T), task(T, _R, _P, _D),\n" in text  # root first, singletons marked


def test_keyed_background_with_negation_and_aggregates(tmp_path):
    bg = tmp_path / "bg.pl"
    bg.write_text(
        "busy(R) :- task(_, R), \\+ idle(R).\n"
        "idle(r9).\n"
        "n_tasks(N) :- aggregate_all(count, task(_, _), N).\n"
        "lonely(T) :- task(T, R), findall(U, (task(U, R), U \\== T), []).\n"
        "double(X, Y) :- Y is 2 * X.\n")
    world = World([bg])
    examples = [Example("a", ["task(t1, r1)", "task(t2, r1)", "task(t3, r2)"], 1.0),
                Example("b", ["task(t1, r9)"], 2.0)]
    ids = world.load(examples)
    stats = world.evaluate(ids, ["busy(R)", "n_tasks(N), N >= 2", "lonely(T)", "double(2, 4)", "lonely(t3)"])
    assert stats[:, 0].tolist() == [1, 1, 2, 2, 1]
    assert world.passing(4, ids) == [ids[0]]
    world.unload(ids)
    assert world.evaluate(ids, ["task(_, _)"])[0, 0] == 0


def test_prolog_errors_quote_the_goal():
    with pytest.raises(PrologError) as info:
        run("atom_length(X, Y)")
    assert "atom_length(X, Y)" in str(info.value) and "\n" not in str(info.value)


def test_bad_fact_in_python_example_names_it(tmp_path):
    world = World()
    with pytest.raises(Exception) as info:
        world.load([Example("fine", ["p(1)"]), Example("broken", ["p(X)"])])
    assert "example broken" in str(info.value)


def test_a_failing_test_is_quoted_in_the_error(tmp_path):
    world = World()
    ids = world.load([Example("a", ["size(big)"], 1.0)])
    with pytest.raises(PrologError) as info:
        world.evaluate(ids, ["size(S)", "size(S), S > 3"])
    assert str(info.value).endswith("in goal: size(S), S > 3") and "big" in str(info.value)
    assert "\n" not in str(info.value)
    world.close()
    with pytest.raises(PrologError):
        world.evaluate(ids, ["size(S)"])  # the world's tables are gone


def test_shared_facts_are_loaded_once_and_seen_by_every_example(files, held_out):
    model = TildeRegressor(files["settings"], background=files["bg"], significance=0.001)
    model.fit(read_kb(files["train"]))
    state = held_out[0].facts[1:]  # the tasks; each "action" picks another focal task
    actions = [Example(f"a{i}", [f"focal(t{i})"]) for i in range(len(state))]
    full = [Example(a.id, a.facts + state) for a in actions]
    assert model.predict(actions, shared_facts=state).tolist() == model.predict(full).tolist()
    assert model.apply(actions, shared_facts=state).tolist() == model.apply(full).tolist()
    world = model.world_
    ids = world.load([Example(full[0].id, full[0].facts, 0.0)])
    assert world.evaluate(ids, ["task(_, _, _, _)"])[0, 0] == 1
    world.unload(ids)
    for_all = world.evaluate(list(range(1, ids[0] + 1)), ["task(_, _, _, _)", "focal(_)"])
    assert for_all[:, 0].tolist() == [0, 0]  # nothing left behind, shared block included


def test_cli_in_a_subprocess_prints_only_json(tmp_path, files):
    import sys

    out = tmp_path / "tree.pl"
    proc = subprocess.run([sys.executable, "-m", "rrl.cli.main", "tilde", "fit", "--kb", str(files["train"]),
                           "--settings", str(files["settings"]), "--bg", str(files["bg"]), "--out", str(out),
                           "--significance", "0.001", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"nodes": 3, "leaves": 2, "seconds": json.loads(proc.stdout)["seconds"]}
    help_text = CliRunner().invoke(cli, ["tilde", "fit", "--help"]).output
    assert "--incremental" in help_text and "decision list" in help_text


BG_META = r"""focal_t(T) :- focal(T).
other(T) :- task(T, _), not(focal_t(T)).
n_busy(N) :- aggregate_all(count, (task(T, _), \+ focal(T)), N).
all_short(L) :- findall(T, task(T, _), L), maplist(short, L).
short(T) :- task(T, D), D < 10.
has_task :- call(task, _, _).
some_task(T) :- has_task, task(T, _).
each_ok :- forall(task(T, _), call(task, T, _)).
sum_d(S) :- findall(D, task(_, D), Ds), foldl([D, A0, A]>>(A is A0 + D), Ds, 0, S).
lam(L) :- include([T]>>task(T, 5), [t1, t2, t3], L).
"""


def test_keyed_through_not_call_maplist_and_lambdas(tmp_path):
    bg = tmp_path / "bg.pl"
    bg.write_text(BG_META)
    world = World([bg])
    ids = world.load([Example("a", ["focal(t1)", "task(t1, 5)", "task(t2, 20)"], 1.0),
                      Example("b", ["focal(t3)", "task(t3, 5)"], 2.0)])
    goals = ["other(T)", "n_busy(1)", "all_short(_)", "some_task(t2)", "each_ok", "sum_d(25)", "lam([t1])"]
    assert world.evaluate(ids, goals)[:, 0].tolist() == [1, 1, 1, 1, 2, 1, 1]
    assert world.passing(0, ids) == [ids[0]] and world.passing(3, ids) == [ids[0]]


@pytest.mark.parametrize("clause", ["has(P) :- call(P, _, _).", "apply1(G) :- call(G).", "each(L, P) :- maplist(P, L)."])
def test_a_goal_that_is_a_variable_when_read_is_refused(tmp_path, clause):
    # The sandbox cannot check a goal that is only known at run time (docs/security.md).
    bg = tmp_path / "bg.pl"
    bg.write_text("ok(1).\n" + clause + "\n")
    with pytest.raises(SettingsError) as info:
        World([bg])
    assert str(info.value) == f"{bg}:2: calls a goal that is a variable when the file is read, which cannot be " \
                              "checked safe (write the goal out)"


def test_unsupported_meta_call_is_reported_at_load_time(tmp_path):
    bg = tmp_path / "bg.pl"
    bg.write_text("ok(1).\n\nbad(L) :-\n    maplist(\\X^task(X, _), L).\n")
    with pytest.raises(SettingsError) as info:
        World([bg])
    assert str(info.value).startswith(f"{bg}:3: cannot add the example key inside the lambda \\A^task(A,B)")


def test_query_packs_answer_as_the_tests_one_by_one(tmp_path):
    """Tests given as (prefix, rest) share the prefix's solutions per example (ACE's
    query packs): counts, sums, classes and passing sets are those of the full goals,
    whatever solution of the prefix each rest needs, and an error names its test."""
    bg = tmp_path / "bg.pl"
    bg.write_text("heavy(T) :- weight(T, W), W >= 5.\n")
    world = World([bg])
    examples = [Example("a", ["task(t1, r1)", "task(t2, r2)", "weight(t1, 2)", "weight(t2, 7)"], 1.0),
                Example("b", ["task(t1, r1)", "weight(t1, 9)"], 0.0),
                Example("c", ["task(t1, r3)", "weight(t1, 1)"], 1.0),
                Example("d", ["weight(t1, 6)"], 0.0)]
    ids = world.load(examples)
    prefix = "task(T, R)"
    rests = ["heavy(T)", "R == r2", "weight(T, W), W < 2", "\\+ heavy(T)", "R == r1, heavy(T)", "fail"]
    pairs = [(prefix, r) for r in rests] + ["heavy(t1)", ("true", "weight(_, 1)")]
    full = [f"{prefix}, {r}" for r in rests] + ["heavy(t1)", "weight(_, 1)"]
    assert world.evaluate(ids, pairs).tolist() == world.evaluate(ids, full).tolist()
    assert world.evaluate(ids, pairs)[:, 0].tolist() == [2, 1, 1, 2, 1, 0, 2, 1]
    for index in range(len(pairs)):  # passing/2 follows the order the tests were given in
        world.evaluate(ids, pairs)
        packed = world.passing(index, ids)
        world.evaluate(ids, full)
        assert packed == world.passing(index, ids)
    assert world.evaluate_classes(ids, pairs, 2).tolist() == world.evaluate_classes(ids, full, 2).tolist()
    with pytest.raises(PrologError) as info:
        world.evaluate(ids, [(prefix, "heavy(T)"), (prefix, "atom_length(R, L), L > T")])
    assert str(info.value).endswith("in goal: task(T, R), atom_length(R, L), L > T")


def test_query_packs_keep_the_semantics_of_the_full_goals():
    """A cut in a rest cuts the prefix's solutions as in the goal (prefix, rest); an
    example without target is named with its test; a class index out of range is an
    error; passing/2 after a refused evaluation answers nothing rather than another
    call's tests; a pack without tests runs nothing (its prefix is never checked)."""
    world = World()
    ids = world.load([Example("a", ["task(t1)", "task(t2)", "heavy(t2)"], 1.0)])
    cut = [("task(T)", "!, heavy(T)"), ("task(T)", "fail")]
    assert world.evaluate(ids, cut)[:, 0].tolist() == [0, 0]
    assert world.evaluate(ids, ["task(T), !, heavy(T)"])[0, 0] == 0
    world.evaluate(ids, ["task(T)", "heavy(T)"])
    with pytest.raises(PrologError):
        world.evaluate(ids, [("task(T)", "true"), "shell(ls)"])
    assert world.passing(1, ids) == []
    with pytest.raises(PrologError) as info:
        world.evaluate(ids, [("true), [(true)]), pack((assertz(user:rrl_pwned)), []), pack((true", "task(_)")])
    assert run("catch(user:rrl_pwned, _, fail) -> X = yes ; X = no")["X"] == "no"
    assert str(info.value).startswith("the 1 test goals did not read as 1 goals")
    more = ids + world.load([Example("b", ["task(t1)"])])
    with pytest.raises(PrologError) as info:
        world.evaluate(more, [("task(T)", "heavy(T)"), ("task(T)", "T == t1")])
    assert str(info.value).endswith("has no target: sums of targets need one for every example in goal: task(T), T == t1")
    with pytest.raises(PrologError) as info:
        world.evaluate_classes(ids, ["task(_)"], 1)  # the class of a is 1: not below 1
    assert "class_index_below(1)" in str(info.value)


def test_evaluating_an_example_without_target_is_an_error():
    world = World()
    ids = world.load([Example("a", ["size(big)"], 1.0), Example("b", ["size(big)"])])
    with pytest.raises(PrologError) as info:
        world.evaluate(ids, ["size(S)"])
    assert f"example {ids[1]} has no target" in str(info.value)
    assert world.evaluate(ids[:1], ["size(S)"]).tolist() == [[1, 1.0, 1.0]]
