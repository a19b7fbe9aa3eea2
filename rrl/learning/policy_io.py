"""Policy directories (DESIGN section 6): ``policy.pl``, ``policy.json``, ``background.pl``.

No pickles: the rules are Prolog text, everything else is JSON. ``background.pl`` is a
copy of the background knowledge the policy was learned with, so that
``swipl background.pl policy.pl`` works in the directory alone.

A policy directory is data that people exchange (docs/security.md): the metadata is
checked key by key here, and the Prolog files are read as terms and checked safe when
the policy is loaded (:class:`~rrl.learning.qfunction.PrologQFunction`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rrl.bounds import MAX_BUDGET_MS, MAX_CASE_ORDERS, MAX_STEPS
from rrl.errors import PolicyError, RRLError
from rrl.relational.terms import prolog_string, quote_atom

POLICY_RULES = "policy.pl"
POLICY_META = "policy.json"
BACKGROUND = "background.pl"
LEARNER_STATE = "learner.json"
REQUIRED_KEYS = ("goal", "format", "library_version")
#: 2: states seen from a moving focus (DESIGN section 9); policies of format 1 knew one focal task.
FORMAT = 2


def check_policy_target(directory: str | os.PathLike[str]) -> None:
    """Fail early (before any training) when ``directory`` cannot become a policy directory."""
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise PolicyError(f"{target}: exists and is a file, not a policy directory")
    if target.is_dir() and any(target.iterdir()) and not (target / POLICY_META).exists():
        raise PolicyError(f"{target}: exists and is not a policy directory; not overwriting it")
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise PolicyError(f"{target}: cannot create it ({parent} is not a writable directory)")


def write_policy(directory: str | os.PathLike[str], rules: str, meta: dict[str, Any], background: Path,
                 learner_state: dict[str, Any] | None = None) -> Path:
    """Write a policy directory atomically (a temporary sibling renamed into place);
    ``learner_state`` (what ``rrl train --resume`` continues from) goes to learner.json."""
    target = Path(directory)
    check_policy_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    except OSError as error:  # report the user's path, not the temporary sibling's
        raise PolicyError(f"{target}: cannot write the policy ({error.strerror or error})") from None
    try:
        (temp / POLICY_RULES).write_text(rules, encoding="utf-8")
        _refuse_directives(temp / POLICY_RULES, target / POLICY_RULES)
        (temp / POLICY_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        shutil.copyfile(background, temp / BACKGROUND)
        if learner_state is not None:
            (temp / LEARNER_STATE).write_text(json.dumps(learner_state) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        temp.rename(target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return target


def _refuse_directives(path: Path, shown: Path) -> None:
    """The rules rrl writes hold clauses and ``dynamic`` declarations only: every id in
    them is escaped, so no input can open a directive; this re-reads the file to make
    sure before it is kept."""
    from rrl.relational.engine import read_terms

    for item in read_terms(path, "text"):
        text = item.get("text", "")
        if "error" in item or text.startswith("?-") or (text.startswith(":-") and not text.startswith(":-dynamic ")):
            raise RRLError(f"internal error: {shown}:{item['line']}: the rules written do not read back as "
                           "clauses and declarations only")


def read_policy(directory: str | os.PathLike[str]) -> tuple[str, dict[str, Any], Path]:
    """Rules text, metadata and background path of a policy directory.

    Raises
    ------
    PolicyError
        One line naming the file and the problem.
    """
    from rrl.relational.engine import read_terms

    base = Path(directory)
    if not base.is_dir():
        raise PolicyError(f"{base}: not a policy directory (it does not exist or is a file)")
    for name in (POLICY_RULES, POLICY_META, BACKGROUND):
        if not (base / name).is_file():
            raise PolicyError(f"{base / name}: missing (a policy directory holds {POLICY_RULES}, {POLICY_META}, {BACKGROUND})")
    meta_text = _text(base / POLICY_META)
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as error:
        raise PolicyError(f"{base / POLICY_META}:{error.lineno}: not valid JSON ({error.msg})") from None
    check_meta(meta, base / POLICY_META)
    for name in (POLICY_RULES, BACKGROUND):
        try:
            # (the rules as structures: their values are checked below)
            items = read_terms(base / name, "tree" if name == POLICY_RULES else "text")
        except RRLError as error:  # not UTF-8: the message names the file and line
            raise PolicyError(str(error)) from None
        for item in items:
            if "error" in item:
                raise PolicyError(f"{base / name}:{item.get('line', '?')}: Prolog syntax error: {item['error']}")
            if name == POLICY_RULES:
                _check_value(item["term"], f"{base / name}:{item['line']}")
    rules = _text(base / POLICY_RULES)
    if "predict(" not in rules:
        raise PolicyError(f"{base / POLICY_RULES}: defines no predict/1 rule")
    return rules, meta, base / BACKGROUND


def _check_value(term: dict[str, Any], where: str) -> None:
    """Refuse a ``predict/1`` rule whose value is written out and is no number (a leaf's
    value is a mean of targets: elsewhere the arithmetic of ``q_value/1`` would fail at
    its own line, far from the leaf's). A value the body computes (a variable) is left
    to the rule."""
    head, body = (term["args"][0], term["args"][1]) if term.get("f") == ":-" and len(term["args"]) == 2 else (term, None)
    if head.get("f") != "predict" or len(head.get("args", [])) != 1:
        return
    value = head["args"][0]
    if "v" in value and body is not None:
        while body.get("f") == "," and len(body["args"]) == 2:  # the body's last goal
            body = body["args"][1]
        if body.get("f") != "=" or len(body["args"]) != 2 or body["args"][0] != value:
            return
        value = body["args"][1]
    if "n" not in value and "v" not in value:
        kind = "a finite number" if "x" in value else "a number"
        raise PolicyError(f"{where}: predict/1 gives the value {_written(value)}, which is not {kind}")


def _written(term: dict[str, Any], room: int = 60) -> str:
    """A term of :func:`~rrl.relational.engine.read_terms`' tree mode as Prolog text on one
    line (atoms and strings quoted and escaped), cut at ``room`` characters."""
    if "f" in term:
        text = f"{quote_atom(term['f'])}({', '.join(_written(a, room) for a in term['args'])})"
    elif "a" in term:
        text = quote_atom(term["a"])
    elif "s" in term:
        text = prolog_string(term["s"])
    else:
        text = str(next(iter(term.values())))
    return text if len(text) <= room else text[: room - 3] + "..."


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise PolicyError(f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x})") from None


def check_meta(meta: Any, path: str | os.PathLike[str]) -> None:
    """Check every key of ``policy.json`` that rrl reads (unknown keys are left alone).

    Raises
    ------
    PolicyError
        ``<path>: <key path>: <problem>``, e.g. ``policy.json: parameters.max_steps:
        expected an integer from 1 to 1000, got 'ten'``.
    """
    from rrl.dispatching import RULES
    from rrl.domain.scenario import scenario_from_dict
    from rrl.events import EVENTS
    from rrl.learning.goals import GOALS

    def fail(key: str, problem: str) -> PolicyError:
        return PolicyError(f"{path}: {key}: {problem}")

    def number(key: str, value: Any, low: float, high: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or not low <= value <= high:
            raise fail(key, f"expected a number from {low:g} to {high:g}, got {value!r}")

    def integer(key: str, value: Any, low: int, high: int | None = None) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            expected = f"from {low} to {high}" if high is not None else f">= {low}"
            raise fail(key, f"expected an integer {expected}, got {value!r}")

    def choice(key: str, value: Any, allowed: tuple[str, ...] | list[str]) -> None:
        if not isinstance(value, str) or value not in allowed:
            raise fail(key, f"expected one of {', '.join(allowed)}, got {value!r}")

    def mapping(key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise fail(key, f"expected a JSON object, got {value!r}")
        return value

    mapping("(top level)", meta)
    for key in REQUIRED_KEYS:
        if key not in meta:
            raise fail(key, "missing key")
    if meta["format"] == 1:
        raise fail("format", f"1 is a policy learned before the moving focus; this rrl reads format {FORMAT}: "
                             "train it again")
    if meta["format"] != FORMAT:
        raise fail("format", f"{meta['format']!r} is not a policy format this rrl reads ({FORMAT})")
    choice("goal", meta["goal"], tuple(GOALS))
    if not isinstance(meta["library_version"], str):
        raise fail("library_version", f"expected a string, got {meta['library_version']!r}")
    choice("learner", meta.get("learner", "tg"), ("tg",))
    params = mapping("parameters", meta.get("parameters", {}))
    checks = {
        "gamma": lambda k, v: number(k, v, 0.0, 1.0), "epsilon": lambda k, v: number(k, v, 0.0, 1.0),
        "epsilon_min": lambda k, v: number(k, v, 0.0, 1.0), "significance": lambda k, v: number(k, v, 0.0, 1.0),
        "max_steps": lambda k, v: integer(k, v, 1, MAX_STEPS), "min_samples": lambda k, v: integer(k, v, 1),
        "seed": lambda k, v: integer(k, v, 0), "tie_break": lambda k, v: choice(k, v, ("cost", "first")),
        "rule": lambda k, v: choice(k, v, (*RULES, "ppo")), "family_steps": lambda k, v: integer(k, v, 1, MAX_STEPS),
        "focus_width": lambda k, v: integer(k, v, 1, MAX_STEPS), "n_step": lambda k, v: integer(k, v, 1, MAX_STEPS),
    }
    optional = {  # null means "no limit" / "the default"
        "moves_per_focus": lambda k, v: integer(k, v, 1), "reach": lambda k, v: integer(k, v, 1),
        "budget_ms": lambda k, v: number(k, v, 1.0, MAX_BUDGET_MS),
    }
    for name, check in checks.items():
        if name in params:
            check(f"parameters.{name}", params[name])
    for name, check in optional.items():
        if params.get(name) is not None:
            check(f"parameters.{name}", params[name])
    if "events" in params:
        events = params["events"]
        if not isinstance(events, list) or not events:
            raise fail("parameters.events", f"expected a list of event names, got {events!r}")
        for i, event in enumerate(events):
            choice(f"parameters.events[{i}]", event, EVENTS)
    if "orders" in params:
        orders = params["orders"]
        if not isinstance(orders, list) or len(orders) != 2:
            raise fail("parameters.orders", f"expected [low, high], got {orders!r}")
        integer("parameters.orders[0]", orders[0], 1, MAX_CASE_ORDERS)
        integer("parameters.orders[1]", orders[1], orders[0], MAX_CASE_ORDERS)
    training = mapping("training", meta.get("training", {}))
    if "episodes" in training:
        integer("training.episodes", training["episodes"], 0)
    for name in ("seconds", "evaluation_seconds"):
        if name in training:
            number(f"training.{name}", training[name], 0.0, math.inf)
    for name in ("curve", "evaluations"):
        rows = training.get(name, [])
        if not isinstance(rows, list):
            raise fail(f"training.{name}", f"expected a list, got {rows!r}")
        for i, row in enumerate(rows):
            mapping(f"training.{name}[{i}]", row)
            if name == "evaluations":  # a resumed run reads and extends them
                integer(f"training.evaluations[{i}].episode", row.get("episode"), 0)
                for key in ("steps", "improvement"):
                    number(f"training.evaluations[{i}].{key}", row.get(key), -math.inf, math.inf)
    if "plant" not in meta:
        raise fail("plant", "missing key")
    try:
        scenario_from_dict({**mapping("plant", meta["plant"]), "orders": []}, f"{path}: plant")
    except RRLError as error:
        raise PolicyError(str(error)) from None


def rule_blocks(rules: str) -> list[str]:
    """The ``predict/1`` clauses of a decision list, in order, each with its comments.

    Clause N (from 1) of ``predict/1`` is ``rule_blocks(text)[N - 1]``: blocks are the
    blank-line separated paragraphs of the text that contain a ``predict(`` clause.
    """
    blocks = [b.strip() for b in rules.split("\n\n")]
    return [b for b in blocks if any(line.startswith("predict(") for line in b.splitlines())]
