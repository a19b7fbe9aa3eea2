"""The one SWI-Prolog engine of the process (through pyswip) and the worlds inside it.

A *world* is a Prolog module holding one background knowledge and the examples loaded
into it, each example keyed by an integer id (see ``prolog/rrl_runtime.pl``).  All heavy
loops run inside Prolog: one call evaluates a batch of tests on a batch of examples.

Background files and test goals are data (``prolog/rrl_safe.pl``, docs/security.md):
read as terms, never consulted, every clause checked safe before it is added, every
evaluation bounded by :func:`set_limits`.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rrl._paths import data_dir
from rrl.errors import PrologError, RRLError, SettingsError
from rrl.relational.terms import COMPARISONS, prolog_string, quote_atom

if TYPE_CHECKING:
    from rrl.relational.settings import Settings

_PROLOG: Any = None
PrologValue = float | int | str
_WORLDS = itertools.count(1)

#: Default bounds of every evaluation of user clauses (docs/security.md): inferences per
#: evaluation unit (one test on one example, one candidate action), and seconds per call
#: plus seconds per unit.
INFERENCES_PER_UNIT = 1_000_000
SECONDS_PER_CALL = 10.0
SECONDS_PER_UNIT = 0.001


class NoPredictError(RRLError):
    """The files loaded into a world define no ``predict/1``."""


def _shorten(goal: str, limit: int = 300) -> str:
    return goal if len(goal) <= limit else goal[:limit] + " ..."


def prolog() -> Any:
    """The process-wide pyswip ``Prolog`` with rrl's runtime loaded (created on first use)."""
    global _PROLOG
    if _PROLOG is None:
        from pyswip import Prolog

        engine = Prolog()
        runtime = (data_dir("prolog") / "rrl_runtime.pl").as_posix()
        list(engine.query(f"use_module({quote_atom(runtime)})", maxresult=1))
        _PROLOG = engine
    return _PROLOG


def set_limits(inferences_per_unit: int = INFERENCES_PER_UNIT, seconds: float = SECONDS_PER_CALL,
               seconds_per_unit: float = SECONDS_PER_UNIT) -> None:
    """Bound every later evaluation of user clauses (tests, trees, policies).

    A call that evaluates ``n`` units (a test on an example, a candidate action) may use
    ``n * inferences_per_unit`` inferences and ``seconds + n * seconds_per_unit`` seconds
    of wall time; beyond either it stops with a one-line error naming the file.
    """
    if inferences_per_unit < 1 or not seconds > 0 or not seconds_per_unit >= 0:
        raise RRLError("limits must be positive")
    run(f"rrl_safe:rrl_set_limits({int(inferences_per_unit)}, {float(seconds)!r}, {float(seconds_per_unit)!r})")


def check_utf8(path: str | Path) -> None:
    """Refuse a file that is not UTF-8 before Prolog reads it (Prolog would print
    warnings and read on).

    Raises:
        SettingsError: naming the file, the line and the first bad byte.
    """
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SettingsError(str(path), line, f"not UTF-8 text (byte 0x{data[error.start]:02x})") from None


def run(goal: str) -> dict[str, Any]:
    """Run ``goal`` once and return its bindings (strings decoded).

    Raises:
        PrologError: the goal raised an exception or failed; the message quotes the goal.
    """
    from pyswip.prolog import PrologError as PyswipError

    try:
        answers = list(prolog().query(goal, maxresult=1))
    except PyswipError as error:
        detail = str(error).split("Returned: ", 1)[-1]
        raise PrologError(f"Prolog raised {_shorten(detail, 200)} in goal: {_shorten(goal)}") from None
    if not answers:
        raise PrologError(f"Prolog goal failed: {_shorten(goal)}")
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in answers[0].items()}


_PREDICATES: dict[tuple[str, int], Any] = {}


def call_text(name: str, module: str, *args: str | int) -> str:
    """Call ``rrl_policy:name(Module, Args..., Out)`` once and return ``Out`` as text.

    The hot path of repair searches: text arguments reach Prolog as strings (parsed once,
    by the predicate itself) and the answer comes back as one string, without the goal
    parsing and binding conversion of :func:`run`.

    Raises:
        PrologError: the call raised an exception or failed (as :func:`run`).
    """
    from pyswip import core

    prolog()
    key = (name, len(args) + 2)
    predicate = _PREDICATES.get(key)
    if predicate is None:
        predicate = _PREDICATES[key] = core.PL_predicate(name.encode(), key[1], b"rrl_policy")
    frame = core.PL_open_foreign_frame()
    try:
        terms = core.PL_new_term_refs(key[1])
        core.PL_put_atom_chars(terms, module.encode())
        for offset, arg in enumerate(args, 1):
            if isinstance(arg, int):
                core.PL_put_integer(terms + offset, arg)
            else:
                core.PL_put_chars(terms + offset, core.PL_STRING | core.REP_UTF8, -1, arg.encode("utf-8"))
        if core.PL_call_predicate(None, core.PL_Q_NODEBUG | core.PL_Q_CATCH_EXCEPTION, predicate, terms):
            text = core.c_char_p()
            flags = core.CVT_ALL | core.CVT_WRITE | core.REP_UTF8 | core.BUF_STACK
            if core.PL_get_chars(terms + key[1] - 1, core.byref(text), flags):
                return (text.value or b"").decode("utf-8")
    finally:
        core.PL_discard_foreign_frame(frame)
    # Failed or raised: run it again the slow way, which reports what went wrong.
    goal = f"{name}({quote_atom(module)}, " + ", ".join(
        str(a) if isinstance(a, int) else prolog_string(a) for a in args) + ", Out)"
    return str(run(goal)["Out"])


def read_terms(path: str | Path, mode: str) -> list[dict[str, Any]]:
    """Read every term of a file with Prolog's reader.

    Args:
        path: the file.
        mode: ``"tree"`` for each term's structure (``{"line", "term"}``), ``"text"`` for
            each term written back as Prolog text (``{"line", "text", "ground"}``).

    Returns:
        One dict per term; a syntax error ends the list with ``{"line", "error"}``.
    """
    check_utf8(path)
    answer = run(f"rrl_read_terms({quote_atom(str(path))}, {mode}, J)")["J"]
    if mode == "tree":
        items: list[dict[str, Any]] = json.loads(answer)
        return items
    out: list[dict[str, Any]] = []
    for row in answer.split("\n"):
        if row:
            line, flag, text = row.split("\t", 2)
            if flag == "E":
                out.append({"line": int(line), "error": text})
            else:
                out.append({"line": int(line), "text": text, "ground": flag == "1"})
    return out


def _checked(text: str, goals: Sequence[str] = (), where: str = "", what: str = "the tests") -> str:
    """Turn the error answers of a batched call into PrologError: "!error<TAB>goal<TAB>
    message" (``goal`` may be the 1-based index of one of ``goals``), "!unsafe<TAB>index
    <TAB>message" for a goal that is not safe to run, "!limit<TAB>message" for an
    evaluation (of ``what``) stopped by the limits.  ``where`` (the background files)
    prefixes the message."""
    if not text.startswith("!"):
        return text
    prefix = f"{where}: " if where else ""
    kind, _, rest = text.partition("\t")
    if kind == "!limit":
        raise PrologError(f"{prefix}{what} {rest}")
    if kind == "!at":  # "!at<TAB>file<TAB>line<TAB>message": a rule's own place
        file, line, message = rest.split("\t", 2)
        raise PrologError(f"{file}:{line}: {message}")
    goal, _, message = rest.partition("\t")
    if goal.isdigit() and goals:
        goal = goals[int(goal) - 1]
    if kind == "!unsafe":
        raise PrologError(f"{prefix}the test `{_shorten(goal)}` {message}")
    if kind == "!error":
        raise PrologError(f"{prefix}Prolog raised {_shorten(message, 200)} in goal: {_shorten(goal)}")
    return text


#: A test goal: Prolog text, or (prefix, rest) for the goal ``prefix, rest``.
Test = str | tuple[str, str]


def _packs(goals: Sequence[Test]) -> tuple[str, np.ndarray, list[str]]:
    """The Prolog list of packs for ``goals`` (those with equal prefixes together), the
    order that maps the packs' answers back to ``goals``, and each test's full text in
    the packs' order (for error messages)."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for index, goal in enumerate(goals):
        prefix, rest = goal if isinstance(goal, tuple) else ("true", goal)
        groups.setdefault(prefix, []).append((index, rest))
    packed = [i for members in groups.values() for i, _ in members]
    texts: list[str] = []
    parts = []
    for prefix, members in groups.items():
        rests = [rest for _, rest in members]
        parts.append(f"pack(({prefix}), [{', '.join(f'({r})' for r in rests)}])")
        texts += [r if prefix == "true" else f"{prefix}, {r}" for r in rests]
    order = np.empty(len(goals), dtype=int)
    order[packed] = np.arange(len(goals))
    return prolog_string("[" + ", ".join(parts) + "]"), order, texts


def _numbers(text: str, dtype: type = float) -> np.ndarray:
    return np.array(text.split(), dtype=dtype) if text.strip() else np.zeros(0, dtype=dtype)


def _ids_text(ids: Iterable[int]) -> str:
    return prolog_string(" ".join(map(str, ids)))


class World:
    """One background knowledge plus loaded examples, living in its own Prolog module.

    Args:
        background: ``.pl`` files consulted (keyed) into the world, in order.
    """

    def __init__(self, background: Sequence[str | Path] = ()) -> None:
        self.module = f"rrl_w{next(_WORLDS)}"
        self._next_id = 1
        self._loaded: dict[int, None] = {}  # keys of loaded examples, in load order
        self.sources: list[str] = []  # the background files, for error messages
        self._pack_order: np.ndarray | None = None  # test index -> its place in the last packs
        run(f"rrl_new_world({self.module})")
        try:
            for path in background:
                self.load_background(path)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop everything the world holds (background, examples, compiled trees)."""
        run(f"rrl_drop_world({self.module})")

    def load_background(self, path: str | Path) -> None:
        """Add the clauses of a background file to the world, read as data: no directive
        runs (``dynamic`` and ``discontiguous`` declarations are read), every clause body
        is checked safe first (docs/security.md).

        Raises:
            SettingsError: the file is missing, not UTF-8, has a syntax error, a directive
                or a clause that is not safe (names file and line).
        """
        if not Path(path).is_file():
            raise SettingsError(str(path), None, "no such file")
        check_utf8(path)
        status = run(f"rrl_load_bk({self.module}, {quote_atom(str(path))}, S)")["S"]
        if status != "ok":
            line, _, message = status.partition(":")
            raise SettingsError(str(path), int(line) or None, message)
        self.sources.append(str(path))

    def _where(self) -> str:
        return ", ".join(self.sources)

    def check_language(self, settings: Settings) -> None:
        """Refuse a language whose rmode or root literals would call something unsafe
        (e.g. ``rmode(shell(+X))``): each literal is checked once, with free arguments,
        as a test goal would be (undefined predicates are example facts).

        Raises:
            SettingsError: naming the settings file and the rmode's line.
        """
        literals: list[tuple[int | None, str, int]] = [
            (rmode.line, lit.pred, len(lit.args)) for rmode in settings.rmodes for lit in rmode.literals
            if not lit.is_comparison]
        literals += [(None, lit.pred, len(lit.args)) for lit in settings.root if lit.pred not in COMPARISONS]
        if not literals:
            return
        goals = [quote_atom(pred) + (f"({', '.join(['_'] * arity)})" if arity else "") for _, pred, arity in literals]
        status = run(f"rrl_check_test({self.module}, {prolog_string('[' + ', '.join(goals) + ']')}, S)")["S"]
        if status != "ok":
            index, _, why = status.partition("\t")
            line, pred, arity = literals[int(index) - 1]
            where = "rmode" if line is not None else "root"
            raise SettingsError(settings.source, line, f"{where} literal {pred}/{arity} {why}")

    def load(self, examples: Sequence[Any], shared: Sequence[str] = ()) -> list[int]:
        """Load examples (objects with ``facts`` and ``target``); return their integer keys.

        Args:
            examples: the examples, all written to one temporary file and read in one call.
            shared: facts that hold in every one of these examples (e.g. the state behind
                candidate actions): loaded once and seen by each example as its own.
                :meth:`unload` of the examples removes them too.

        Raises:
            SettingsError: a fact of an example does not read as a ground Prolog atom.
        """
        parent = "none"
        if shared:
            parent, self._next_id = str(self._next_id), self._next_id + 1
        ids = list(range(self._next_id, self._next_id + len(examples)))
        self._next_id += len(examples)
        fd, name = tempfile.mkstemp(suffix=".pl", prefix="rrl_ex_")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for key, example in zip(ids, examples, strict=True):
                    if key == ids[0] and shared:  # first line: the shared block
                        out.write(f"shared({parent}, [{', '.join(shared)}]).\n")
                    # a class (str) is not loaded: learners load class indices instead
                    target = "none" if example.target is None or isinstance(example.target, str) \
                        else repr(float(example.target))
                    out.write(f"ex({key}, [{', '.join(example.facts)}], {target}, {parent}).\n")
            status = run(f"rrl_load_examples({self.module}, {quote_atom(name)}, S)")["S"]
        finally:
            os.unlink(name)
        if status != "ok":
            self.unload(ids)
            raise self._load_error(status, examples, ids, parent if shared else None)
        self._loaded.update(dict.fromkeys(ids))
        return ids

    @staticmethod
    def _load_error(status: str, examples: Sequence[Any], ids: list[int], parent: str | None) -> SettingsError:
        """The error of a failed :meth:`load`, at the example's fact when one is named.

        ``status`` is "fact(Key,Index):message" for a bad fact, "Line:message" for a line
        of the temporary file (line 1 holds the shared facts, if any, then one line per
        example)."""
        where, _, message = status.partition(":")
        fact = None
        if where.startswith("fact("):
            key, _, number = where[5:-1].partition(",")
            if parent is not None and key == parent:
                return SettingsError("<shared facts>", None, f"shared fact {number}: {message}")
            index, fact = int(key) - ids[0], int(number) - 1
        else:
            index = int(where) - 1 - (parent is not None)
            if index < 0:
                return SettingsError("<shared facts>", None, message)
        bad = examples[min(index, len(examples) - 1)]
        line = getattr(bad, "line", None)
        fact_lines = getattr(bad, "fact_lines", None)
        if fact is not None and fact_lines and fact < len(fact_lines):
            line = fact_lines[fact]
        return SettingsError(getattr(bad, "source", "<examples>"), line, f"example {bad.id}: {message}")

    def unload(self, ids: Sequence[int]) -> None:
        """Retract the facts and targets of the given examples."""
        if ids:
            run(f"rrl_unload({self.module}, {_ids_text(ids)})")
            for key in ids:
                self._loaded.pop(key, None)

    def evaluate(self, ids: Sequence[int], goals: Sequence[Test]) -> np.ndarray:
        """Count, sum and sum of squares of the targets of the examples passing each goal.

        A goal is a Prolog goal, or a pair (prefix, rest) meaning the goal ``prefix, rest``:
        goals with the same prefix are run as one query pack (the prefix solved once per
        example for all of them), which is how a node's candidate refinements, all
        extending the node's query, are cheap to evaluate together.

        Returns:
            Array of shape ``(len(goals), 3)``; one Prolog call for all goals and examples.
        """
        if not goals:
            return np.zeros((0, 3))
        return self._run_packs(goals, 3, lambda listing: f"rrl_eval({self.module}, {_ids_text(ids)}, {listing}, T)")

    def evaluate_classes(self, ids: Sequence[int], goals: Sequence[Test], n_classes: int) -> np.ndarray:
        """Per goal (as in :meth:`evaluate`), how many examples of each class pass it
        (targets loaded as class indices 0..n_classes-1; an id listed twice counts twice).

        Returns:
            Array of shape ``(len(goals), n_classes)``; one Prolog call.
        """
        if not goals:
            return np.zeros((0, n_classes))
        return self._run_packs(goals, n_classes, lambda listing: (
            f"rrl_eval_classes({self.module}, {_ids_text(ids)}, {listing}, {int(n_classes)}, T)"))

    def _run_packs(self, goals: Sequence[Test], width: int, call: Callable[[str], str]) -> np.ndarray:
        """Run the Prolog goal ``call(packs)`` on the packs of ``goals`` and return its
        ``width`` numbers per goal, in the order of ``goals``. A count of numbers that
        does not match means the goals' text did not read back as that many goals (a
        bracket or quote left open)."""
        listing, order, texts = _packs(goals)
        self._pack_order = None  # the tests passing/2 reads are replaced only if these run
        values = _numbers(_checked(run(call(listing))["T"], texts, self._where()))
        if values.size != len(goals) * width:
            where = f"{self._where()}: " if self.sources else ""
            raise PrologError(f"{where}the {len(goals)} test goals did not read as {len(goals)} goals "
                              "(a goal's text leaves a bracket or a quote open)")
        self._pack_order = order
        return values.reshape(len(goals), width)[order]

    def passing(self, index: int, ids: Sequence[int]) -> list[int]:
        """Ids among ``ids`` that pass goal ``index`` (0-based) of the last :meth:`evaluate`
        (or :meth:`evaluate_classes`)."""
        order = self._pack_order
        if order is None or not 0 <= index < len(order):
            return []  # no such test of the last evaluation that ran
        index = int(order[index])
        text = _checked(run(f"rrl_passing({self.module}, {index + 1}, {_ids_text(ids)}, T)")["T"],
                        where=self._where(), what="the test")
        return [int(x) for x in text.split()]

    def compile(self, name: str, bodies: Sequence[str]) -> None:
        """Install a decision list ``name``: rule i is ``body_i, !`` and answers leaf i."""
        listing = prolog_string("[" + ", ".join(f"({b})" for b in bodies) + "]")
        _checked(run(f"rrl_compile({self.module}, {quote_atom(name)}, {listing}, S)")["S"], bodies, self._where())

    def route(self, name: str, ids: Sequence[int]) -> np.ndarray:
        """Leaf index of each example under decision list ``name`` (-1 when none covers it)."""
        if not ids:
            return np.zeros(0, dtype=int)
        text = _checked(run(f"rrl_route({self.module}, {quote_atom(name)}, {_ids_text(ids)}, T)")["T"],
                        where=self._where(), what="the tree's rules")
        return _numbers(text, int)

    def values(self, pred: str, arity: int, position: int) -> list[tuple[int, str]]:
        """``(count, prolog_text)`` of each value at ``position`` (0-based) of loaded facts."""
        goal = f"rrl_type_values({self.module}, {quote_atom(pred)}/{arity}, {position + 1}, T)"
        text = run(goal)["T"]
        pairs = []
        for line in text.split("\n"):
            if line:
                count, _, value = line.partition("\t")
                pairs.append((int(count), value))
        return pairs

    def background_values(self, pred: str, arity: int, positions: Sequence[int],
                          ids: Sequence[int]) -> list[tuple[int, int, str]]:
        """``(position, count, prolog_text)`` of each value at the 0-based ``positions`` of
        the answers of background predicate ``pred/arity`` called with free arguments on
        each example of ``ids`` (one Prolog call; see ``rrl_bk_values/5``)."""
        listing = "[" + ", ".join(str(p + 1) for p in positions) + "]"
        goal = f"rrl_bk_values({self.module}, {quote_atom(pred)}/{arity}, {listing}, {_ids_text(ids)}, T)"
        out = []
        for line in _checked(run(goal)["T"], where=self._where(), what=f"{pred}/{arity}").split("\n"):
            if line:
                position, count, value = line.split("\t", 2)
                out.append((int(position) - 1, int(count), value))
        return out

    def background_predicates(self) -> set[str]:
        """``name/arity`` of every predicate the background knowledge defines."""
        return {line for line in run(f"rrl_bk_preds({self.module}, T)")["T"].split("\n") if line}

    def loaded_ids(self) -> list[int]:
        """Keys of the examples currently loaded (in load order)."""
        return list(self._loaded)

    def fact_predicates(self) -> list[str]:
        """``name/arity`` of every fact predicate loaded into the world so far."""
        text = run(f"rrl_fact_preds({self.module}, T)")["T"]
        return [line for line in text.split("\n") if line]

    def predict_rules(self, ids: Sequence[int]) -> list[PrologValue | None]:
        """First answer of the ``predict/1`` rules loaded as background (a tree file
        written by ``to_prolog``) for each example, as plain swipl gives it: a number,
        the text of an atom or string (a class), any other term written as Prolog text
        (``1.5NaN`` and ``1.0Inf`` too, as swipl writes them); None where ``predict/1`` fails.

        Raises:
            NoPredictError: no background file of the world defines ``predict/1``.
            PrologError: ``predict/1`` raised an exception or ran out of its limits.
        """
        text = run(f"rrl_predict({self.module}, {_ids_text(ids)}, T)")["T"]
        if text == "!nopredict":
            raise NoPredictError("defines no predict/1")
        values: list[Any] = json.loads(_checked(text, where=self._where(), what="predict/1"))
        return values

    def classify_rules(self, ids: Sequence[int]) -> list[tuple[PrologValue, dict[PrologValue, float]] | None] | None:
        """``(class, {class: probability})`` of the ``classify/2`` rules of a
        classification tree file for each example (None where it fails); None when no
        file of the world defines ``classify/2``.

        Raises:
            PrologError: ``classify/2`` raised an exception.
        """
        text = run(f"rrl_classify({self.module}, {_ids_text(ids)}, T)")["T"]
        if text == "!noclassify":
            return None
        answers: list[Any] = json.loads(_checked(text, where=self._where(), what="classify/2"))
        return [None if a is None else (a[0], {k: float(p) for k, p in a[1]}) for a in answers]
