"""Prolog text written by rrl reads back as the same term, and the decision list routes
every example to the leaf that walking the tree test by test gives."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from rrl.relational import TildeRegressor
from rrl.relational.engine import read_terms, run
from rrl.relational.terms import Const, conjunction, format_number, from_json, quote_atom


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=12))
@example("[]")  # (bare, SWI-Prolog 7 reads the empty list: found by CI in stop 38)
@example("!")
@example(";")
def test_quoted_atoms_read_back(name):
    answer = run(f"X = {quote_atom(name)}, atom(X), atom_codes(X, C)")
    assert "".join(map(chr, answer["C"])) == name


def test_the_empty_list_and_the_atom_named_by_it_read_back_apart(tmp_path):
    """SWI-Prolog 7's empty list is not the atom '[]': terms read from a file keep the two
    apart, and each is written back as the term it was."""
    path = tmp_path / "terms.pl"
    path.write_text("p([], '[]', [a]).\n")
    (item,) = read_terms(path, "tree")
    functor, (empty, atom, one) = from_json(item["term"])
    assert functor == "p" and empty == Const("[]") and atom == Const("'[]'")
    assert one[0] == "[|]" and run(f"X = {empty.text}, X == [], Y = {atom.text}, atom(Y)")


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_read_back(value):
    answer = run(f"X = {format_number(value)}, number(X)")
    assert answer["X"] == value or (math.isclose(answer["X"], value) and value == 0)


def _walk(model, node, ids):
    """Leaf index of each example by evaluating each node's test in the tree."""
    order = {id(leaf): i for i, leaf in enumerate(model.leaves_)}
    if node.is_leaf:
        return {i: order[id(node)] for i in ids}
    model.world_.evaluate(ids, [conjunction(node.query.literals + node.test.literals)])
    yes = set(model.world_.passing(0, ids))
    out = _walk(model, node.yes, [i for i in ids if i in yes])
    out.update(_walk(model, node.no, [i for i in ids if i not in yes]))
    return out


def test_decision_list_equals_walking_the_tree(files, train, held_out):
    model = TildeRegressor(files["settings"], background=files["bg"], max_depth=5, significance=1).fit(train[:600])
    assert any("Task6" in leaf.conjunction for leaf in model.leaves())  # variables shared across nodes
    examples = held_out[:200]
    ids = model.world_.load(examples)
    try:
        walked = _walk(model, model.tree_, ids)
        listed = model.world_.route(model.name_, ids)
    finally:
        model.world_.unload(ids)
    assert [walked[i] for i in ids] == listed.tolist()
