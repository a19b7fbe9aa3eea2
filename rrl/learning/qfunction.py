"""Q-values of repair actions from a decision list of Prolog rules (``predict/1``).

The same rules text that is saved as ``policy.pl`` is what scores actions here, inside
the process's SWI-Prolog: a state's facts are asserted once and each action's facts in
turn (``prolog/rrl_policy.pl``), so Python and plain swipl cannot disagree.

The background files and the rules are data (docs/security.md): read as terms, never
consulted, every clause checked safe before it is added, every scoring bounded in
inferences and time; a problem is a :class:`~rrl.errors.PolicyError` naming the file
and the line.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rrl._paths import data_dir
from rrl.errors import PolicyError, SettingsError
from rrl.relational.engine import check_utf8, run
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
        Background knowledge files, read (checked) into the policy's module.
    rules : str
        Prolog text defining ``predict(Value)``; ``predict(0.0).`` when omitted.
    source : path, optional
        The file the rules come from (``policy.pl``), named in errors.

    Raises
    ------
    PolicyError
        A background file or the rules hold a directive, a clause that is not safe or a
        syntax error (the message names the file and the line).
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

    def values(self, state: Sequence[str], actions: Sequence[Sequence[str]]) -> np.ndarray:
        """One Q-value per action (each a list of action facts) in ``state``.

        Raises
        ------
        PolicyError
            ``predict/1`` raised, ran out of its limits, or answered something that is
            not a finite number (naming the rules' file and, when found, the rule's line).
        """
        if not actions:
            return np.zeros(0)
        state_text = prolog_string(fact_list(state))
        actions_text = prolog_string("[" + ",".join(fact_list(a) for a in actions) + "]")
        out = str(run(f"rrl_q_values({self.module}, {state_text}, {actions_text}, Out)")["Out"])
        if out.startswith("!error\t"):
            _, line, message = out.split("\t", 2)
            where = f"{self.source}:{line}" if line != "0" else self.source
            raise PolicyError(f"{where}: {message}")
        return np.array(out.split(), dtype=float)

    def explain(self, state: Sequence[str], action: Sequence[str]) -> int:
        """Index (from 1) of the ``predict/1`` clause that gives ``action`` its value."""
        answer = run(
            f"rrl_policy_clause({self.module}, {prolog_string(fact_list(state))}, "
            f"{prolog_string(fact_list(action))}, N)"
        )
        return int(answer["N"])
