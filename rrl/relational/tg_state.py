"""TG's learning state as plain JSON, so that a saved policy can go on learning.

What TG remembers is small and open: the tree (each node's query and test, each leaf's
value and count), every open leaf's statistics (per candidate test, the count, sum and
sum of squares of the targets of the examples that passed it; those of the leaf as a
whole), and the value histograms behind the ``#`` constants. Terms are written as
``{"v": name}`` (a variable) or ``{"c": text, "n": number or null}`` (a constant). No
pickles: the file can be read, diffed and checked by anyone.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from rrl.errors import RRLError
from rrl.relational.language import Query, Refinement
from rrl.relational.terms import Const, Lit, Term, Var
from rrl.relational.tg import TGRegressor, _LeafStats
from rrl.relational.tree import Node

FORMAT = 1


def to_json(model: TGRegressor) -> dict[str, Any]:
    """The learning state of a fitted (or partially fitted) TG model."""
    tree = getattr(model, "tree_", None)
    if tree is None:
        raise RRLError("TG has learned nothing yet: there is no state to save")
    constants = model.constants_
    return {
        "format": FORMAT,
        "tree": _node(tree),
        "default": model.default_,
        "total": [float(v) for v in model._total],
        "n_examples": model.n_examples_,
        "fact_predicates": list(model.fact_preds_),
        "minimal_cases": model.minimal_cases_,
        "max_depth": model.max_depth_,
        "significance": model.significance_,
        "constants": {
            "counts": {t: dict(c) for t, c in constants.counts.items()},
            "by_origin": {o: dict(c) for o, c in constants.by_origin.items()},
            "numeric": sorted(constants.numeric),
        },
    }


def from_json(model: TGRegressor, data: dict[str, Any]) -> TGRegressor:
    """Restore ``model`` (constructed with its settings and background) from
    :func:`to_json`'s output, ready for more ``partial_fit`` and for ``predict``.

    Raises
    ------
    KeyError, TypeError, ValueError
        On a malformed state (callers turn these into one-line errors naming the file).
    """
    if data.get("format") != FORMAT:
        raise ValueError(f"format: expected {FORMAT}, got {data.get('format')!r}")
    model._start()
    model.tree_ = _read_node(data["tree"])
    model.default_ = float(data["default"])
    model._total = np.array([float(v) for v in data["total"]], dtype=float).reshape(3)
    model.n_examples_ = int(data["n_examples"])
    model.fact_preds_ = [str(p) for p in data["fact_predicates"]]
    model.minimal_cases_ = int(data["minimal_cases"])
    model.max_depth_ = int(data["max_depth"])
    model.significance_ = float(data["significance"])
    constants = data["constants"]
    model.constants_.counts = {str(t): Counter({str(k): int(v) for k, v in c.items()})
                               for t, c in constants["counts"].items()}
    model.constants_.by_origin = {str(o): Counter({str(k): int(v) for k, v in c.items()})
                                  for o, c in constants["by_origin"].items()}
    model.constants_.numeric = {str(t) for t in constants["numeric"]}
    model._compile()
    return model


def _term(term: Term) -> dict[str, Any]:
    if isinstance(term, Var):
        return {"v": term.name}
    return {"c": term.text, "n": term.value}


def _read_term(data: dict[str, Any]) -> Term:
    if "v" in data:
        return Var(str(data["v"]))
    value = data.get("n")
    return Const(str(data["c"]), None if value is None else float(value))


def _lits(literals: tuple[Lit, ...]) -> list[dict[str, Any]]:
    return [{"p": lit.pred, "a": [_term(a) for a in lit.args]} for lit in literals]


def _read_lits(data: list[dict[str, Any]]) -> tuple[Lit, ...]:
    return tuple(Lit(str(d["p"]), tuple(_read_term(a) for a in d["a"])) for d in data)


def _refinement(test: Refinement) -> dict[str, Any]:
    return {"lits": _lits(test.literals), "new": [list(p) for p in test.new_vars], "rmode": test.rmode}


def _read_refinement(data: dict[str, Any]) -> Refinement:
    return Refinement(_read_lits(data["lits"]), tuple((str(n), str(t)) for n, t in data["new"]), int(data["rmode"]))


def _node(node: Node) -> dict[str, Any]:
    query = node.query
    out: dict[str, Any] = {
        "query": {"lits": _lits(query.literals), "types": [list(p) for p in query.var_types],
                  "counts": list(query.counts)},
        "value": node.value,
        "count": node.count,
    }
    if node.test is not None:
        assert node.yes is not None and node.no is not None
        out["test"] = _refinement(node.test)
        out["yes"], out["no"] = _node(node.yes), _node(node.no)
    elif isinstance(node.state, _LeafStats):
        stats = node.state
        out["stats"] = {
            "depth": stats.depth,
            "prior": [float(v) for v in stats.prior],
            "tests": None if stats.tests is None else [_refinement(t) for t in stats.tests],
            "passed": [[float(v) for v in row] for row in stats.passed],
            "seen": [float(v) for v in stats.seen],
        }
    return out


def _read_node(data: dict[str, Any]) -> Node:
    q = data["query"]
    query = Query(_read_lits(q["lits"]), tuple((str(n), str(t)) for n, t in q["types"]), tuple(int(c) for c in q["counts"]))
    node = Node(query, float(data["value"]), int(data["count"]))
    if "test" in data:
        node.test = _read_refinement(data["test"])
        node.yes, node.no = _read_node(data["yes"]), _read_node(data["no"])
    elif "stats" in data:
        s = data["stats"]
        tests = None if s["tests"] is None else [_read_refinement(t) for t in s["tests"]]
        passed = np.array(s["passed"], dtype=float).reshape(-1, 3)
        if tests is not None and len(passed) != len(tests):
            raise ValueError("stats.passed: one row per candidate test expected")
        node.state = _LeafStats(int(s["depth"]), np.array(s["prior"], dtype=float).reshape(3), tests, passed,
                                np.array(s["seen"], dtype=float).reshape(3))
    return node
