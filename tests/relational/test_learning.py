"""The learners on data whose target is an existential relation between the focal task
and another task (5 to 50 tasks per example): relational trees find it, a propositional
tree over global features cannot."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score

from rrl.relational import Example, TildeRegressor, synthetic
from rrl.relational.propositional import PropositionalRegressor, split_fact
from rrl.relational.tg import TGRegressor


def _r2(model, examples) -> float:
    return float(r2_score([e.target for e in examples], model.predict(examples)))


def test_examples_vary_in_size_and_label_is_the_relation(train):
    sizes = [sum(f.startswith("task(") for f in e.facts) for e in train]
    assert min(sizes) <= 8 and max(sizes) >= 45
    assert all((e.target > 5) == synthetic.is_high(e) for e in train)
    assert 0.4 < np.mean([e.target > 5 for e in train]) < 0.6


def test_tilde_finds_the_relation(files, train, held_out):
    model = TildeRegressor(files["settings"], background=files["bg"]).fit(train)
    assert _r2(model, held_out) >= 0.95
    conjunctions = [leaf.conjunction for leaf in model.leaves()]
    assert any("later_due(" in c for c in conjunctions)
    assert sum(leaf.count for leaf in model.leaves()) == len(train)


def test_tilde_significance_gives_the_two_leaf_tree(files, train, held_out):
    model = TildeRegressor(files["settings"], background=files["bg"], significance=0.001).fit(train)
    assert model.n_nodes == 3
    first, second = model.leaves()
    assert first.conjunction.endswith("later_due(Task5, T)") and abs(first.value - 10) < 0.2
    assert second.conjunction == "focal(T), task(T, R, P, D)" and abs(second.value) < 0.2
    assert _r2(model, held_out) >= 0.95
    assert first.negated == () and second.negated == (first.conjunction,)
    assert second.description == f"\\+ ({first.conjunction}), {second.conjunction}"
    # Algorithm 2: the first covering leaf is the example's abstract state
    for example in held_out[:20]:
        state = model.abstract_state(example)
        assert state == (first.description if synthetic.is_high(example) else second.description)


def test_leaf_descriptions_stand_alone(files, train, held_out):
    """Each leaf's description covers exactly the examples the decision list sends to
    it; its conjunction alone also covers examples of earlier leaves."""
    model = TildeRegressor(files["settings"], background=files["bg"], max_depth=3, significance=1).fit(train[:600])
    leaves = model.leaves()
    assert len(leaves) >= 4
    routed = model.apply(held_out)
    world = model.world_
    ids = world.load([Example(e.id, e.facts, 0.0) for e in held_out])
    try:
        world.evaluate(ids, [leaf.description for leaf in leaves] + [leaf.conjunction for leaf in leaves])
        for index in range(len(leaves)):
            expected = [i for i, r in zip(ids, routed, strict=True) if r == index]
            assert world.passing(index, ids) == expected
        assert any(len(world.passing(len(leaves) + index, ids)) > (routed == index).sum()
                   for index in range(len(leaves)))
    finally:
        world.unload(ids)


def test_propositional_baseline_cannot(train, held_out):
    model = PropositionalRegressor().fit(train)
    assert _r2(model, held_out) < 0.8
    assert model.get_params()["max_depth"] == 8
    assert "count task/4" in model.feature_names_


def test_tg_on_a_stream(files, train, held_out):
    model = TGRegressor(files["settings"], background=files["bg"], min_samples=100, batch_size=50)
    for start in range(0, len(train), 50):
        model.partial_fit(train[start:start + 50])
    assert _r2(model, held_out) >= 0.9
    assert model.n_examples_ == len(train)


def test_tg_keeps_no_examples_and_new_leaves_start_fresh(files, train):
    model = TGRegressor(files["settings"], background=files["bg"], min_samples=100).fit(train[:600])
    for leaf in model.leaves_:
        assert leaf.state.seen[0] <= 600
        assert leaf.state.passed.shape[1] == 3
    assert not hasattr(model, "_y")


def test_estimator_api(files):
    model = TildeRegressor(files["settings"], background=files["bg"], max_depth=2)
    params = model.get_params()
    assert params["max_depth"] == 2 and params["minimal_cases"] is None
    model.set_params(minimal_cases=7)
    assert model.minimal_cases == 7


def test_max_depth_and_minimal_cases(files, train):
    model = TildeRegressor(files["settings"], background=files["bg"], max_depth=1, minimal_cases=40).fit(train)
    assert model.n_nodes <= 3
    assert all(leaf.count >= 40 for leaf in model.leaves())


def test_split_fact():
    assert split_fact("p(a, f(b, c), [1,2], 'x,y')") == ("p", ["a", "f(b, c)", "[1,2]", "'x,y'"])
    assert split_fact("done") == ("done", [])


def test_refinements_respect_modes_types_and_counts(files, train):
    from rrl.relational.constants import Constants
    from rrl.relational.engine import World
    from rrl.relational.language import Language
    from rrl.relational.settings import read_settings

    settings = read_settings(files["settings"])
    world = World([files["bg"]])
    ids = world.load(train[:50])
    constants = Constants(n_thresholds=3)
    constants.update(world, settings)
    world.unload(ids)
    assert constants.numeric == {"pos", "due"}
    assert len(constants.thresholds("due")) == 3 and constants.values("res")[0].text == "r0"
    language = Language(settings, constants)
    root = language.root()
    texts = {", ".join(lit.render() for lit in r.literals) for r in language.refinements(root)}
    assert "before(T, Task5), later_due(Task5, T)" in texts  # conjunction, linked variables
    assert "tardy(T)" in texts and not any(t.startswith("tardy(R") for t in texts)  # types
    assert not any(t.startswith("task(") for t in texts)  # subsumed by the root's task/4
    assert sum(t.startswith("D >= ") for t in texts) == 3  # mode names are local: +D is any numeric var
    query = root
    for _ in range(2):  # rmode(2: +D >= #) is used up after two on a path
        query = next(r for r in language.refinements(query) if r.rmode == 4).apply(query)
    assert query.counts[4] == 2
    assert not any(r.rmode == 4 for r in language.refinements(query))
    query = next(r for r in language.refinements(root) if len(r.literals) == 2).apply(root)
    deeper = {", ".join(lit.render() for lit in r.literals) for r in language.refinements(query)}
    assert "tardy(Task5)" in deeper and "before(Task5, Task6), later_due(Task6, Task5)" in deeper


def test_thresholds_follow_the_argument_a_variable_comes_from(tmp_path):
    from rrl.relational import Example, read_settings
    from rrl.relational.constants import Constants
    from rrl.relational.engine import World
    from rrl.relational.language import Language

    path = tmp_path / "num.s"
    path.write_text("type(small(num)).\ntype(big(num)).\nroot(true).\n"
                    "rmode((small(-X), X >= #)).\nrmode((big(-Y), Y >= #)).\n")
    settings = read_settings(path)
    world = World()
    ids = world.load([Example(f"e{i}", [f"small({i})", f"big({1000 + 10 * i})"], 0.0) for i in range(20)])
    constants = Constants(n_thresholds=4)
    constants.update(world, settings)
    world.unload(ids)
    refinements = Language(settings, constants).refinements(Language(settings, constants).root())
    small = [r.literals[1].args[1].value for r in refinements if r.literals[0].pred == "small"]
    big = [r.literals[1].args[1].value for r in refinements if r.literals[0].pred == "big"]
    assert len(small) == len(big) == 4
    assert all(0 <= v < 20 for v in small) and all(v >= 1000 for v in big)


def _clauses(module: str) -> int:
    from rrl.relational.engine import run

    goal = (f"aggregate_all(count, (current_predicate({module}:N/A), functor(H, N, A), "
            f"\\+ predicate_property({module}:H, imported_from(_)), clause({module}:H, _)), C)")
    return int(run(goal)["C"])


def test_close_frees_the_world(files, train):
    import pytest

    from rrl.relational.model import NotFittedError

    with TGRegressor(files["settings"], background=files["bg"], min_samples=50).fit(train[:200]) as model:
        module = model.world_.module
        assert _clauses(module) > 0
        rules = model.to_prolog()
    assert _clauses(module) == 0
    assert model.to_prolog() == rules and model.leaves()  # the tree itself stays
    with pytest.raises(NotFittedError, match="closed"):
        model.predict(train[:3])
    model.close()  # twice is harmless


def test_cli_closes_its_worlds(tmp_path, files, monkeypatch):
    from click.testing import CliRunner

    from rrl.cli.main import cli
    from rrl.relational.engine import World

    closed = []
    original = World.close
    monkeypatch.setattr(World, "close", lambda self: (closed.append(self.module), original(self))[1])
    out = tmp_path / "tree.pl"
    result = CliRunner().invoke(cli, ["tilde", "fit", "--kb", str(files["train"]), "--settings", str(files["settings"]),
                                      "--bg", str(files["bg"]), "--out", str(out), "--max-depth", "1"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["tilde", "predict", "--tree", str(out), "--kb", str(files["test"]),
                                      "--bg", str(files["bg"])])
    assert result.exit_code == 0, result.output
    assert len(set(closed)) == 2 and all(_clauses(m) == 0 for m in closed)
