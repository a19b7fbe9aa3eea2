"""Fuzzing the inputs that reach Prolog (issue 12, docs/security.md).

Scenario ids, policy files, tree files and settings files are drawn with Prolog's
special characters (quotes, ``%``, ``:-``, full stops, newlines, unicode line
separators) and hostile fragments (directives, shell calls, halts, loops, catches).
Whatever is drawn: no crash (a result or an RRLError), no execution (the marker file
never appears), no hang (the evaluation limits, lowered here, end every loop).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rrl.domain import load_scenario, scenario_from_dict
from rrl.errors import PolicyError, RRLError
from rrl.learning import RepairAgent
from rrl.learning.cases import draw_case
from rrl.relational import Example, read_kb
from rrl.relational.engine import World, read_terms, set_limits
from rrl.relational.terms import quote_atom
from rrl.relational.tilde import TildeRegressor
from tests.conftest import SCENARIOS

SPECIAL = "'\"\\%.:-()[]{},;|!$#&*+/<=>?@^~`0Aa_ \n\r\t\x0b\x0c\x85\u2028\u2029\x1e\x1fé€😀"
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.text(alphabet=SPECIAL, min_size=1, max_size=12)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch directory and low evaluation limits, restored afterwards."""
    set_limits(inferences_per_unit=20_000, seconds=2.0, seconds_per_unit=0.001)
    try:
        yield tmp_path_factory.mktemp("fuzz")
    finally:
        set_limits()


def fragments(marker: Path) -> st.SearchStrategy[str]:
    touch = f"shell('touch {marker}')"
    hostile = [
        f":- {touch}.", f":- initialization({touch}).", ":- halt.", ":- repeat, fail.", "?- halt.",
        f"predict(0.0) :- {touch}, fail.", "predict(V) :- repeat, fail.", "predict(abc).", "predict(1.0).",
        "predict(V) :- V is 1 / 0.", f"p :- open('{marker}', write, S), close(S).", "predict(V) :- V is nan.",
        "predict(V) :- catch(p, _, true), V = 1.", "predict(V) :- tardy(_), V = 2.", "p :- halt.",
        "predict(V) :- G = halt, call(G), V = 1.", "user:p :- halt.", "format(x) :- true.", "'$x'(1).",
        "predict(V) :- length(L, N), N > 100000000, V = L.", f"predict(V) :- atom_to_term('{touch}', T, _), V = T.",
        f"predict(V) :- findall(x, {touch}, _), V = 1.", f"predict(V) :- forall(true, {touch}), V = 1.",
        f"predict(V) :- \\+ {touch}, V = 1.", f"predict(V) :- ( {touch} -> V = 1 ; V = 2 ).",
        ":- dynamic q/1.", "q(1).", "predict(V) :- q(V).", "predict(V) :- findall(X, q(X), [V|_]).",
    ]
    junk = ["/* open", "*/", "{|x||y|}.", "0'", "'", '"', "%", ":-", ".", "\n"]
    clause = st.sampled_from(hostile)
    # Mostly clauses that read (so that loading and calling them is what gets tested),
    # with ids inside quoted atoms and comments, and now and then raw junk.
    pieces = st.one_of(clause, clause, clause, clause, ids.map(lambda t: f"predict({quote_atom(t)}).").map(str),
                       ids.map(lambda t: f"% {t}"), st.sampled_from(junk), ids)
    return st.lists(pieces, max_size=6).map("\n".join)


@FUZZ
@given(data=st.data())
def test_hostile_ids_are_written_escaped_and_read_back(place, data) -> None:
    resources = data.draw(st.lists(ids, min_size=2, max_size=3, unique=True))
    products = data.draw(st.lists(ids, min_size=1, max_size=2, unique=True))
    spec = {
        "products": products,
        "resources": [{"id": r, "rates": {p: 100.0 + 10 * i for i, p in enumerate(products)}} for r in resources],
        "orders": [{"id": data.draw(ids), "product": products[0], "size": 200.0, "due": 3.0}],
    }
    try:
        scenario = scenario_from_dict(spec)
    except RRLError:
        assume(False)
    marker = place / "MARKER"
    plant = scenario.plant
    agent = RepairAgent(plant, "tardiness", orders=(3, 5), seed=data.draw(st.integers(0, 99))).learn(2)
    directory = place / f"policy{data.draw(st.integers(0, 10**9))}"
    agent.save(directory)
    for item in read_terms(directory / "policy.pl", "text"):  # clauses and declarations, nothing else
        assert not item["text"].startswith(("?-", ":-")) or item["text"].startswith(":-dynamic ")
    loaded = RepairAgent.load(directory)
    hit = draw_case(plant, random.Random(1), orders=(3, 5))
    hoods = [a.neighbourhood(hit) for a in (agent, loaded)]
    values = [[c.q for c in hood.expand(hood.root())] for hood in hoods]
    assert np.allclose(values[0], values[1])
    a, b = (x.repair(hit, node_limit=6, budget_ms=60_000) for x in (agent, loaded))
    assert [str(s.action) for s in a.steps] == [str(s.action) for s in b.steps]
    shutil.rmtree(directory)
    assert not marker.exists()


@pytest.fixture(scope="module")
def base_policy(place: Path) -> Path:
    directory = place / "base_policy"
    RepairAgent(load_scenario(SCENARIOS / "extruders.yaml").plant, "tardiness", seed=0).learn(5).save(directory)
    return directory


@FUZZ
@given(data=st.data())
def test_hostile_policy_files_never_run_code_or_hang(place, base_policy, data) -> None:
    marker = place / "MARKER"
    directory = place / "hostile_policy"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(base_policy, directory)
    which = data.draw(st.sampled_from(["policy.pl", "background.pl"]))
    text = data.draw(fragments(marker))
    if which == "background.pl":
        text = text + "\n" + (base_policy / "background.pl").read_text()
    (directory / which).write_text(text, encoding="utf-8")
    started = time.perf_counter()
    try:
        agent = RepairAgent.load(directory)
        hit = draw_case(agent.plant, random.Random(data.draw(st.integers(0, 99))))
        agent.repair(hit, max_steps=3, node_limit=8, budget_ms=60_000)
    except PolicyError as error:
        assert "\n" not in str(error)
    assert time.perf_counter() - started < 60
    assert not marker.exists()


@FUZZ
@given(data=st.data())
def test_hostile_trees_and_settings_never_run_code_or_hang(place, data) -> None:
    marker = place / "MARKER"
    kb = place / "d.kb"
    kb.write_text("begin(model(a)).\ntask(t1, 5).\ntarget(1.0).\nend(model(a)).\n"
                  "begin(model(b)).\ntask(t2, 20).\ntarget(2.0).\nend(model(b)).\n")
    tree, bg, settings_file = place / "tree.pl", place / "bg.pl", place / "d.s"
    tree.write_text(data.draw(fragments(marker)), encoding="utf-8")
    bg.write_text(data.draw(fragments(marker)), encoding="utf-8")
    touch = f"shell('touch {marker}')"
    lines = ["type(task(t, num)).", "root(task(T, D)).", "rmode(+D >= #).", "minimal_cases(1).",
             "type(shell(x)).", "rmode(shell(+X)).", "root(halt).", f":- {touch}.", "type(halt).", "rmode(halt).",
             "type(p).", "rmode(p).", "type(q(num)).", "rmode(q(-X)).", "rmode(q(#)).", "max_depth(2)."]
    text = "\n".join(data.draw(st.lists(st.one_of(st.sampled_from(lines), ids), max_size=8)))
    settings_file.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    examples = read_kb(kb)
    try:
        world = World([bg, tree])
        try:
            world.predict_rules(world.load(examples))
        finally:
            world.close()
    except RRLError as error:
        assert "\n" not in str(error)
    try:
        with TildeRegressor(settings_file, bg) as model:
            model.fit(examples)
            model.predict([Example("c", ["task(t3, 7)"])])
    except RRLError as error:
        assert "\n" not in str(error)
    assert time.perf_counter() - started < 60
    assert not marker.exists()


def test_the_time_limit_ends_a_loop_the_inference_limit_lets_run(place) -> None:
    from rrl.learning.qfunction import PrologQFunction
    from rrl.relational.facts import FACT_PREDICATES

    q = PrologQFunction([], "predict(V) :- repeat, fail.\n", source="loop.pl")
    set_limits(inferences_per_unit=10**15, seconds=0.5, seconds_per_unit=0.0)
    try:
        started = time.perf_counter()
        with pytest.raises(PolicyError, match=r"^loop.pl:1: predict/1 ran for more than 0.50 s"):
            q.set_state([f"{FACT_PREDICATES[0][0]}(1)"])
            q.group_values([([], [[]])])
        assert time.perf_counter() - started < 5  # the limit, then the same to find the rule
    finally:
        set_limits(inferences_per_unit=20_000, seconds=2.0, seconds_per_unit=0.001)
