"""Q-values of repair actions from a decision list of Prolog rules (``predict/1``).

The same rules text that is saved as ``policy.pl`` is what scores actions here, inside
the process's SWI-Prolog: a state's facts are asserted once and each action's facts in
turn (``prolog/rrl_policy.pl``), so Python and plain swipl cannot disagree.

The background files and the rules are data (docs/security.md): read as terms, never
consulted, every clause checked safe before it is added, every call bounded in
inferences and time; a problem is a :class:`~rrl.errors.PolicyError` naming the file
and the line.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from rrl._paths import data_dir
from rrl.errors import PolicyError, SettingsError
from rrl.relational.engine import call_text, check_utf8, run
from rrl.relational.facts import FACT_PREDICATES, predicate_of
from rrl.relational.terms import prolog_string, quote_atom

_MODULES = itertools.count(1)
_RUNTIME_LOADED = False


def _ensure_runtime() -> None:
    global _RUNTIME_LOADED
    if not _RUNTIME_LOADED:
        path = (data_dir("prolog") / "rrl_policy.pl").as_posix()
        run(f"use_module({quote_atom(path)})")
        _RUNTIME_LOADED = True


def fact_list(facts: Sequence[str]) -> str:
    """Prolog list text of ground facts."""
    return "[" + ",".join(facts) + "]"


class PrologQFunction:
    """Scores (state, action) pairs with the rules currently loaded.

    Parameters
    ----------
    background : sequence of paths
        Background knowledge files, read (checked) into the policy's module.
    rules : str
        Prolog text defining ``predict(Value)``; ``predict(0.0).`` when omitted.
    source : path, optional
        The file the rules come from (``policy.pl``), named in errors.

    Raises
    ------
    PolicyError
        A background file or the rules hold a directive, a clause that is not safe or a
        syntax error; a call of the rules raised, ran out of its limits or answered a
        value that is not a finite number (the message names the file and the line).
    """

    def __init__(self, background: Sequence[str | Path], rules: str = "predict(0.0).\n",
                 source: str | Path | None = None) -> None:
        _ensure_runtime()
        self.module = f"rrl_q{next(_MODULES)}"
        for path in background:
            try:
                check_utf8(path)
            except SettingsError as error:
                raise PolicyError(str(error)) from None
        files = "[" + ",".join(quote_atom(Path(f).resolve().as_posix()) for f in background) + "]"
        dynamic = "[" + ",".join(f"{name}/{arity}" for name, arity in FACT_PREDICATES) + "]"
        status = run(f"rrl_policy_module({self.module}, {files}, {dynamic}, S)")["S"]
        if status != "ok":
            file, line, message = status.split("\t", 2)
            shown = next((str(f) for f in background if Path(f).resolve().as_posix() == file), file)
            raise PolicyError(f"{shown}:{line}: {message}")
        self.source = str(source) if source is not None else "<rules>"
        self._files = {Path(f).resolve().as_posix(): str(f) for f in background}  # as Prolog names them: as given
        self._held: Sequence[str] | None = None
        self._held_set: set[str] | None = None
        # the facts the last set_readable held, and of which predicates: the next one
        # need not pick them out of the whole held state again
        self._readable: tuple[Collection[str], set[str]] | None = None
        self._operators: dict[str, frozenset[str]] | None = None  # the background's, read once
        self._value_facts: frozenset[str] | None | bool = False  # False: not asked yet
        self.rules = ""
        self.set_rules(rules)

    def set_rules(self, rules: str) -> None:
        """Replace the rules (e.g. after the tree learned more)."""
        status = run(f"rrl_policy_rules({self.module}, {quote_atom(self.module + '_rules')}, "
                     f"{prolog_string(rules)}, S)")["S"]
        if status != "ok":
            line, message = status.split("\t", 1)
            raise PolicyError(f"{self.source}:{line}: {message}")
        self.rules = rules
        self._value_facts = False

    def _call(self, name: str, *args: str | int) -> str:
        """:func:`call_text` on this policy, its "!error" answers raised as PolicyError."""
        out = call_text(name, self.module, *args)
        if out.startswith("!error\t"):
            _, file, line, message = out.split("\t", 3)
            shown = self.source if file in ("rules", "") else self._files.get(file, file)
            raise PolicyError(f"{shown}:{line}: {message}" if line != "0" else f"{shown}: {message}")
        return out

    def set_state(self, state: Sequence[str]) -> None:
        """Hold the facts of one state for the :meth:`focus` and :meth:`group_values`
        calls that follow (replacing the state held before; nothing to do when this very
        list is held already)."""
        if state is self._held:
            return
        change = self._change(state)
        if change is None:
            call_text("rrl_state_text", self.module, fact_list(state))
        else:
            call_text("rrl_state_change", self.module, *change)
        self._hold(state)

    def set_readable(self, part: Sequence[str], only: Collection[str]) -> None:
        """Hold the facts of ``part`` of the predicates ``only`` names, keeping the facts of
        the others that are held (stale, but no call that reads just ``only`` sees them):
        an explanation sends a step's few readable facts (:meth:`value_facts`), and the
        search's next state is still sent as a difference from the last.

        A few facts are replaced whole, so that each predicate's facts are held in the
        order ``part`` lists them, as plain swipl loading the state would hold them (a
        rule whose answer depends on that order, e.g. a cut after the first of several
        answers, then sees them as there); many are sent as a difference, as
        :meth:`set_state` does.
        """
        held = self._held_set
        own = [f for f in part if predicate_of(f) in only]
        if held is None:  # nothing tracked to keep
            self.set_state(own)
            return
        if self._readable is not None and self._readable[0] is only:
            old = self._readable[1]
        else:
            old = {f for f in held if predicate_of(f) in only}
        if len(own) <= 50:
            removed, added = old, own
        else:
            removed, added = old.difference(own), [f for f in own if f not in old]
        if removed or added:
            call_text("rrl_state_change", self.module, fact_list(sorted(removed)), fact_list(added))
        self._held = None  # what is held is no caller's list any more
        self._held_set = (held - removed).union(added)
        self._readable = (only, set(own))

    def focus(self, per_reason: int, state: Sequence[str] | None = None) -> list[tuple[str, str]]:
        """Focal-task candidates of the held state (or of ``state``, which is then held):
        ``(task, reason)``, at most ``per_reason`` per reason of ``focus_candidate/3``."""
        out = self._ask_in(self._held if state is None else state, "focus", int(per_reason))
        return [(str(task), str(reason)) for task, reason in json.loads(out)]

    def reason(self, task: str, state: Sequence[str]) -> str:
        """The reason under which :meth:`focus` would propose ``task`` in ``state`` (which
        is then held), asked for that task alone: the first reason of ``focus_candidate/3``
        that proposes it, unstarted; "" where none does. The later reasons are not asked."""
        return self._ask_in(state, "reason", quote_atom(task))  # (as the facts write it: any character reads back)

    def _ask_in(self, state: Sequence[str] | None, query: str, *args: str | int) -> str:
        """``rrl_<query>`` in ``state``, which is then held: asked of the held state where it is
        that one, else after sending it whole or as a difference, in one call
        (``rrl_state_<query>``, ``rrl_state_change_<query>``)."""
        if state is self._held:
            return self._call(f"rrl_{query}", *args)
        assert state is not None
        change = self._change(state)
        try:
            if change is None:
                out = self._call(f"rrl_state_{query}", fact_list(state), *args)
            else:
                out = self._call(f"rrl_state_change_{query}", *change, *args)
        except PolicyError:
            # (Prolog may hold the new state, the old one or part of the change: the next
            # call sends a whole state rather than a difference from a guess)
            self._held, self._held_set, self._readable = None, None, None
            raise
        self._hold(state)
        return out

    def _change(self, state: Sequence[str]) -> tuple[str, str] | None:
        """The facts to retract and to assert to go from the held state to ``state``, as
        Prolog list texts; None when sending the whole state is as cheap."""
        held = self._held_set
        if held is None:
            return None
        new = set(state)
        added = [f for f in state if f not in held]
        removed = held - new
        if len(added) + len(removed) >= len(state):
            return None
        return fact_list(sorted(removed)), fact_list(added)

    def _hold(self, state: Sequence[str]) -> None:
        self._held = state
        self._held_set = set(state) if len(state) > 50 else None  # small states are resent whole
        self._readable = None

    def value_facts(self) -> frozenset[str] | None:
        """The names of the state's fact predicates that the value (``q_value/1``, else
        ``predict/1``) can read through the rules and the background; None when that is
        not known (a goal built at run time), i.e. any of them. A state restricted to
        these facts gives every action the same value and the same first ``predict/1``
        clause as the whole state (``rrl_value_facts/2``): explaining a step needs no more."""
        if self._value_facts is False:
            out = self._call("rrl_value_facts")
            self._value_facts = None if out == "all" else frozenset(json.loads(out))
        assert self._value_facts is not True
        return self._value_facts

    def _hold_for_value(self, state: Sequence[str], only: Collection[str] | None) -> None:
        if only is None:
            self.set_state(state)
        else:
            self.set_readable(state, only)

    def focus_operators(self) -> dict[str, frozenset[str]]:
        """The background's ``focus_operator(Reason, Op)``: operators worth trying on a
        focus proposed for each reason (a reason not listed tries every operator)."""
        if self._operators is not None:
            return self._operators
        table: dict[str, set[str]] = {}
        for reason, operator in json.loads(self._call("rrl_focus_operators")):
            table.setdefault(str(reason), set()).add(str(operator))
        self._operators = {reason: frozenset(ops) for reason, ops in table.items()}
        return self._operators

    def group_values(self, groups: Sequence[tuple[Sequence[str], Sequence[Sequence[str]]]]) -> np.ndarray:
        """Q-values of actions in the held state, grouped by focal task: each group is
        the focal task's facts and its actions' facts; one value per action, in order."""
        if not any(actions for _, actions in groups):
            return np.zeros(0)
        text = "[" + ",".join(
            f"{fact_list(focus)}-[{','.join(fact_list(a) for a in actions)}]" for focus, actions in groups
        ) + "]"
        return np.array(self._call("rrl_q_groups", text).split(), dtype=float)

    def explain_steps(self, steps: Sequence[tuple[Sequence[str], Sequence[str]]],
                      only: Collection[str] | None = None) -> list[int]:
        """For several steps, each a state and its focus's and action's facts: the index
        (1-based; 0: none) of the first ``predict/1`` clause that holds, the abstract
        state that gives the action its value. Each state is held in turn (only what
        differs from the last is sent); with ``only`` (the :meth:`value_facts`), the
        states hold just those predicates' facts (:meth:`set_readable`)."""
        indices = []
        for state, facts in steps:
            self._hold_for_value(state, only)
            indices.append(int(self._call("rrl_held_clause", fact_list(facts))))
        return indices

    def explained_value(self, state: Sequence[str], facts: Sequence[str],
                        only: Collection[str] | None = None) -> tuple[float, int]:
        """The Q-value of one action in ``state`` and the index (1-based; 0: none) of the
        first ``predict/1`` clause that holds for it: :meth:`group_values` and
        :meth:`explain_steps` in one call. ``facts`` are its focus's and its own;
        ``only`` as in :meth:`explain_steps`."""
        self._hold_for_value(state, only)
        value, index = self._call("rrl_q_clause", fact_list(facts)).split()
        return float(value), int(index)
