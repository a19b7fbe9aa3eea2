"""Q-values of repair actions from a decision list of Prolog rules (``predict/1``).

The same rules text that is saved as ``policy.pl`` is what scores actions here, inside
the process's SWI-Prolog: a state's facts are asserted once and each action's facts in
turn (``prolog/rrl_policy.pl``), so Python and plain swipl cannot disagree.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rrl._paths import data_dir
from rrl.relational.engine import call_text, run
from rrl.relational.facts import FACT_PREDICATES
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
        Background knowledge files consulted into the policy's module.
    rules : str
        Prolog text defining ``predict(Value)``; ``predict(0.0).`` when omitted.
    """

    def __init__(self, background: Sequence[str | Path], rules: str = "predict(0.0).\n") -> None:
        _ensure_runtime()
        self.module = f"rrl_q{next(_MODULES)}"
        files = "[" + ",".join(quote_atom(Path(f).resolve().as_posix()) for f in background) + "]"
        dynamic = "[" + ",".join(f"{name}/{arity}" for name, arity in FACT_PREDICATES) + "]"
        run(f"rrl_policy_module({self.module}, {files}, {dynamic})")
        self._held: Sequence[str] | None = None
        self._held_set: set[str] | None = None
        self._operators: dict[str, frozenset[str]] | None = None  # the background's, read once
        self.rules = ""
        self.set_rules(rules)

    def set_rules(self, rules: str) -> None:
        """Replace the rules (e.g. after the tree learned more)."""
        run(f"rrl_policy_rules({self.module}, {quote_atom(self.module + '_rules')}, {prolog_string(rules)})")
        self.rules = rules

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

    def focus(self, per_reason: int, state: Sequence[str] | None = None) -> list[tuple[str, str]]:
        """Focal-task candidates of the held state (or of ``state``, which is then held):
        ``(task, reason)``, at most ``per_reason`` per reason of ``focus_candidate/3``."""
        if state is not None and state is not self._held:
            change = self._change(state)
            if change is None:
                out = call_text("rrl_state_focus", self.module, fact_list(state), int(per_reason))
            else:
                out = call_text("rrl_state_change_focus", self.module, *change, int(per_reason))
            self._hold(state)
        else:
            out = call_text("rrl_focus", self.module, int(per_reason))
        entries = out.split("\x1e")
        return [(task, reason) for task, _, reason in (e.partition("\x1f") for e in entries if e)]

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

    def focus_operators(self) -> dict[str, frozenset[str]]:
        """The background's ``focus_operator(Reason, Op)``: operators worth trying on a
        focus proposed for each reason (a reason not listed tries every operator)."""
        if self._operators is not None:
            return self._operators
        answer = run(f"rrl_focus_operators({self.module}, Out)")
        table: dict[str, set[str]] = {}
        for entry in str(answer["Out"]).split("\x1e"):
            reason, _, operator = entry.partition("\x1f")
            if operator:
                table.setdefault(reason, set()).add(operator)
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
        return np.array(call_text("rrl_q_groups", self.module, text).split(), dtype=float)

    def explain_steps(self, steps: Sequence[tuple[Sequence[str], Sequence[str]]]) -> list[int]:
        """:meth:`explain` for several steps, each a state and its focus's and action's
        facts; each state is held in turn (only what differs from the last is sent)."""
        indices = []
        for state, facts in steps:
            self.set_state(state)
            indices.append(int(call_text("rrl_held_clause", self.module, fact_list(facts))))
        return indices
