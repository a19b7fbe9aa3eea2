"""Policy directories (DESIGN section 6): ``policy.pl``, ``policy.json``, ``background.pl``.

No pickles: the rules are Prolog text, everything else is JSON. ``background.pl`` is a
copy of the background knowledge the policy was learned with, so that
``swipl background.pl policy.pl`` works in the directory alone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rrl.errors import PolicyError

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
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        (temp / POLICY_RULES).write_text(rules, encoding="utf-8")
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
    try:
        meta = json.loads((base / POLICY_META).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        raise PolicyError(f"{base / POLICY_META}:{line or 1}: not valid JSON ({getattr(error, 'msg', error)})") from None
    if not isinstance(meta, dict):
        raise PolicyError(f"{base / POLICY_META}: expected a JSON object")
    for key in REQUIRED_KEYS:
        if key not in meta:
            raise PolicyError(f"{base / POLICY_META}: {key}: missing key")
    if meta["format"] == 1:
        raise PolicyError(f"{base / POLICY_META}: format: 1 is a policy learned before the moving focus; "
                          f"this rrl reads format {FORMAT}: train it again")
    if meta["format"] != FORMAT:
        raise PolicyError(f"{base / POLICY_META}: format: {meta['format']} is not a policy format this rrl reads ({FORMAT})")
    for name in (POLICY_RULES, BACKGROUND):
        for item in read_terms(base / name, "text"):
            if "error" in item:
                raise PolicyError(f"{base / name}:{item.get('line', '?')}: Prolog syntax error: {item['error']}")
    rules = (base / POLICY_RULES).read_text(encoding="utf-8")
    if "predict(" not in rules:
        raise PolicyError(f"{base / POLICY_RULES}: defines no predict/1 rule")
    return rules, meta, base / BACKGROUND


def rule_blocks(rules: str) -> list[str]:
    """The ``predict/1`` clauses of a decision list, in order, each with its comments.

    Clause N (from 1) of ``predict/1`` is ``rule_blocks(text)[N - 1]``: blocks are the
    blank-line separated paragraphs of the text that contain a ``predict(`` clause.
    """
    blocks = [b.strip() for b in rules.split("\n\n")]
    return [b for b in blocks if any(line.startswith("predict(") for line in b.splitlines())]
