"""The language bias: root variables, constants for '#', thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rrl.relational import Example, read_settings
from rrl.relational.constants import Constants
from rrl.relational.engine import World
from rrl.relational.language import Language


def _settings(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "l.s"
    path.write_text(text)
    return read_settings(path)


def _refinements(settings, constants: Constants) -> set[str]:  # type: ignore[no-untyped-def]
    language = Language(settings, constants)
    return {", ".join(lit.render() for lit in r.literals) for r in language.refinements(language.root())}


def test_anonymous_root_variable_is_neither_typed_nor_reused(tmp_path):
    settings = _settings(tmp_path, "type(focal(task)).\ntype(task(task, res, pos, due)).\n"
                         "type(other(task, res)).\ntype(busy(res)).\n"
                         "root((focal(T), task(T, _, P, D), other(T, _))).\nrmode(busy(+R)).\n"
                         "rmode(busy(-R)).\n")
    assert "_" not in settings.root_types and settings.root_types["T"] == "task"
    found = _refinements(settings, Constants())
    assert len(found) == 1 and "busy(_)" not in found  # only busy(-R): no "+" variable of type res
    # two "_" of different types are two different variables, not a type clash
    settings = _settings(tmp_path, "type(p(a, b)).\ntype(q(c)).\nroot((p(X, _), q(_))).\n")
    assert settings.root_types == {"X": "a"}


BG_SLACK = "slack(T, S) :- task(T, D), S is D - 10.\nkind(T, K) :- task(T, D), ( D > 50 -> K = late ; K = early ).\n"


def test_thresholds_and_constants_from_background_predicates(tmp_path):
    settings = _settings(tmp_path, "type(focal(task)).\ntype(task(task, due)).\ntype(slack(task, gap)).\n"
                         "type(kind(task, kind)).\nroot((focal(T))).\n"
                         "rmode((slack(+T, -S), S >= #)).\nrmode(kind(+T, #)).\n")
    bg = tmp_path / "bg.pl"
    bg.write_text(BG_SLACK)
    world = World([bg])
    world.load([Example(f"e{i}", ["focal(t1)", f"task(t1, {10 * i})"], float(i)) for i in range(10)])
    constants = Constants(n_thresholds=3)
    constants.update(world, settings)
    assert "gap" in constants.numeric and "kind" not in constants.numeric
    found = _refinements(settings, constants)
    gaps = sorted(float(r.split(">= ")[1]) for r in found if r.startswith("slack("))
    assert len(gaps) == 3 and all(0 <= g <= 80 for g in gaps) and gaps[0] > 0  # quantiles of S = D - 10
    assert {"kind(T, early)", "kind(T, late)"} <= found


def test_tildes_tree_uses_a_background_threshold(tmp_path):
    from rrl.relational import TildeRegressor

    settings = tmp_path / "s.s"
    settings.write_text("type(focal(task)).\ntype(task(task, due)).\ntype(slack(task, gap)).\n"
                        "root(focal(T)).\nrmode((slack(+T, -S), S >= #)).\n")
    bg = tmp_path / "bg.pl"
    bg.write_text(BG_SLACK)
    examples = [Example(f"e{i}", ["focal(t1)", f"task(t1, {i})"], float(i >= 60)) for i in range(100)]
    model = TildeRegressor(settings, background=bg, minimal_cases=5).fit(examples)
    assert "slack(T, " in model.leaves()[0].conjunction
    assert model.score(examples, [e.target for e in examples]) > 0.9


def _loaded_constants(values: list[float], **kwargs) -> Constants:  # type: ignore[no-untyped-def]
    settings = read_settings_text("type(size(num)).\nroot(true).\nrmode(size(#)).\n")
    world = World()
    ids = world.load([Example(f"e{i}", [f"size({v})"], 0.0) for i, v in enumerate(values)])
    constants = Constants(**kwargs)
    constants.update(world, settings)
    world.unload(ids)
    world.close()
    return constants


def read_settings_text(text: str):  # type: ignore[no-untyped-def]
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as out:
        out.write(text)
    return read_settings(out.name)


def test_numeric_constants_are_quantiles_not_the_most_frequent():
    constants = _loaded_constants([float(i) for i in range(1000)], max_values=9)
    values = [c.value for c in constants.values("num")]
    assert len(values) == 9 and values == sorted(values)
    assert values[0] < 150 and values[-1] > 850  # spread over the range, not 0..8
    few = _loaded_constants([float(i % 5) for i in range(100)] + [9.0], max_values=9)
    assert [c.value for c in few.values("num")] == [0, 1, 2, 3, 4, 9]  # few values: all of them


def test_numeric_histograms_stay_bounded_and_keep_their_quantiles():
    rng = np.random.default_rng(0)
    settings = read_settings_text("type(size(num)).\nroot(true).\nrmode(+X >= #).\nrmode(size(-X)).\n")
    world = World()
    constants = Constants(n_thresholds=3, max_distinct=200)
    everything = []
    for batch in range(10):  # a TG run: batch after batch of new continuous values
        values = np.round(rng.uniform(0, 1000, 150), 3)
        everything.extend(values)
        ids = world.load([Example(f"b{batch}e{i}", [f"size({v})"], 0.0) for i, v in enumerate(values)])
        constants.update(world, settings)
        world.unload(ids)
        assert len(constants.counts["num"]) <= 200 and len(constants.by_origin["size/1/0"]) <= 200
    assert sum(constants.counts["num"].values()) == len(everything)
    exact = np.quantile(everything, [0.25, 0.5, 0.75])
    approx = [c.value for c in constants.thresholds("num", "size/1/0")]
    assert np.allclose(approx, exact, atol=25)  # within 2.5 % of the range
    world.close()


def _constants_of(facts: list[str], settings_text: str, **kwargs) -> Constants:  # type: ignore[no-untyped-def]
    settings = read_settings_text(settings_text)
    world = World()
    ids = world.load([Example(f"e{i}", [fact], 0.0) for i, fact in enumerate(facts)])
    constants = Constants(discrete=settings.discrete, **kwargs)
    constants.update(world, settings)
    world.unload(ids)
    world.close()
    return constants


def test_integer_codes_with_few_values_get_every_value():
    """Atom-type codes (36 distinct integers in raw Mutagenesis) are categories: every
    code is a constant, not 20 quantiles of them."""
    codes = [1, 3, 8, 10, 14, 16, 19, 21, 22, 25, 26, 27, 28, 29, 31, 32, 34, 35, 36, 38, 40, 41, 42, 45, 49,
             50, 51, 52, 72, 92, 93, 94, 95, 194, 195, 230]
    text = "type(atm(atom, atomtype)).\nroot(true).\nrmode(atm(-A, #)).\n"
    constants = _constants_of([f"atm(a{i}, {c})" for i, c in enumerate(codes * 3)], text)
    assert [c.value for c in constants.values("atomtype")] == codes
    assert constants.is_discrete("atomtype") and "atomtype" in constants.numeric
    # many distinct integers (a quantity, not codes): quantiles
    many = _constants_of([f"atm(a{i}, {i})" for i in range(200)], text)
    assert len(many.values("atomtype")) == 20 and not many.is_discrete("atomtype")
    # the same codes written as floats are a continuous quantity: quantiles
    floats = _constants_of([f"atm(a{i}, {c}.5)" for i, c in enumerate(codes * 3)], text)
    assert len(floats.values("atomtype")) == 20


def test_declared_discrete_types_get_every_value_and_numeric_types_thresholds():
    text = ("type(atm(atom, charge)).\ndiscrete(charge).\nroot(true).\nrmode(atm(-A, #)).\n"
            "rmode((atm(-A, -C), C >= #)).\ndiscretization(bounds(4)).\n")
    facts = [f"atm(a{i}, {i / 100:.2f})" for i in range(60)]
    constants = _constants_of(facts, text)
    assert len(constants.values("charge")) == 60
    assert len(_constants_of(facts, text.replace("discrete(charge).\n", "")).values("charge")) == 20
    # in a comparison a numeric type gets quantile thresholds; bounds(4) asks for 4
    settings = read_settings_text(text)
    assert settings.n_thresholds == 4
    constants = _constants_of(facts, text, n_thresholds=settings.n_thresholds)
    thresholds = [c.value for c in constants.thresholds("charge", "atm/2/1")]
    assert len(thresholds) == 4 and thresholds == sorted(thresholds)


def test_discretization_bounds_reach_the_learner(tmp_path):
    from rrl.relational import TildeRegressor

    settings = tmp_path / "b.s"
    settings.write_text("type(size(num)).\nrmode((size(-X), X >= #)).\ndiscretization(bounds(3)).\nmax_depth(1).\n")
    examples = [Example(f"e{i}", [f"size({i}.5)"], float(i)) for i in range(100)]
    model = TildeRegressor(settings).fit(examples)
    assert len(model.constants_.thresholds("num", "size/1/0")) == 3
    assert len(TildeRegressor(settings, n_thresholds=7).fit(examples).constants_.thresholds("num", "size/1/0")) == 7


def test_a_test_is_decided_by_the_query_literals_linked_to_it():
    from rrl.relational.language import Query, Refinement, test_goal
    from rrl.relational.terms import Const, Lit, Var

    a, b, c, d = Var("A"), Var("B"), Var("C"), Var("D")
    query = Query((Lit("atm", (a, Const("n"))), Lit("atm", (b, Const("o"))), Lit("bond", (b, c)),
                   Lit("lumo", (d,)), Lit("other", (Var("_"),)), Lit("more", (Var("_"),))), (), ())
    linked = Refinement((Lit("bond", (c, Var("E"))),), (("E", "atom"),), 0)
    text = ", ".join(lit.render() for lit in test_goal(query, linked))
    assert text == "atm(B, o), bond(B, C), bond(C, E)"  # B and C link; A, D and "_" do not
    fresh = Refinement((Lit("atm", (Var("F"), Const("cl"))),), (("F", "atom"),), 0)
    assert test_goal(query, fresh) == fresh.literals
