"""The language bias: root variables, constants for '#', thresholds."""

from __future__ import annotations

from pathlib import Path

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
