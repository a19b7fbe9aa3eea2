"""``rrl tilde``: learn and apply first-order regression trees on any relational data."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import click

from rrl._io import write_text_atomically
from rrl.cli.common import SEED, FiniteFloat
from rrl.errors import RRLError

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(short_help="Learn first-order decision trees (TILDE, TG, forests) on any relational data.")
def tilde() -> None:
    """Learn first-order regression and classification trees (TILDE, TG, relational
    random forests) from a knowledge base.

    The data are a knowledge base (.kb: one begin(model(Id)) ... end(model(Id)) block of
    ground facts per example, with one target(Value) fact each: a number, or a class),
    a settings file (.s: type/1, rmode/1, root/1, minimal_cases/1, max_depth/1,
    significance/1, prune/1, heuristic/1, classes/1, tilde_mode/1, discrete/1,
    discretization/1) and optional background knowledge (.pl). See docs/tilde.md.
    """


@tilde.command()
@click.option("--kb", "kb_path", type=_FILE, required=True, help="Training examples (.kb).")
@click.option("--settings", "settings_path", type=_FILE, required=True,
              help="Language bias and parameters (.s).")
@click.option("--bg", "bg_paths", type=_FILE, multiple=True,
              help="Background knowledge (.pl); may be given several times.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the tree (Prolog rules defining predict/1).")
@click.option("--incremental", is_flag=True,
              help="Learn with TG, streaming the examples in file order, instead of batch TILDE "
                   "(regression or classification).")
@click.option("--minimal-cases", type=click.IntRange(min=1), default=None,
              help="Fewest examples per leaf (overrides minimal_cases/1).")
@click.option("--max-depth", type=click.IntRange(min=0), default=None,
              help="Most tests on a path (overrides max_depth/1).")
@click.option("--min-samples", type=click.IntRange(min=1), default=100, show_default=True,
              help="TG only: examples a leaf sees before it may split.")
@click.option("--significance", type=FiniteFloat(0.0, strict=True, upper=1.0),
              default=None,
              help="Level of the test a split must pass (F-test for numbers, G-test for classes; "
                   "1 turns it off). Overrides significance/1; without either, TG uses 0.001 "
                   "and TILDE no test.")
@click.option("--prune/--no-prune", default=None,
              help="Prune the tree (overrides prune/1): C4.5's pessimistic error for classes, "
                   "reduced error on a held-back third of the examples for numbers. A forest's "
                   "trees are pruned only with --prune.")
@click.option("--heuristic", type=click.Choice(["gainratio", "gain"]), default=None,
              help="Classification: how tests are scored (overrides heuristic/1; default gainratio).")
@click.option("--trees", type=click.IntRange(min=1), default=1, show_default=True,
              help="Grow a relational random forest of this many trees (bootstrap samples, a random "
                   "subset of the candidate tests at each node) and average their predictions.")
@click.option("--max-candidates", default="sqrt", show_default=True,
              help="Forest only: candidate tests scored per node: sqrt, a fraction below 1, or a count.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Forest only: random seed.")
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON object {"nodes", "leaves", "seconds"} on stdout (and "trees" for a forest).')
def fit(kb_path: Path, settings_path: Path, bg_paths: tuple[Path, ...], out: Path, incremental: bool,
        minimal_cases: int | None, max_depth: int | None, min_samples: int, significance: float | None,
        prune: bool | None, heuristic: str | None, trees: int, max_candidates: str, seed: int,
        as_json: bool) -> None:
    """Learn a tree from a knowledge base and write it as Prolog rules.

    Numeric targets give a regression tree; class targets (atoms, or any targets when
    the settings declare classes/1 or tilde_mode(classify)) a classification tree. The
    tree file defines predict/1 as a decision list (one rule per leaf, the root query
    first, cuts between rules), and classify(Class, Probabilities) for classes: consult
    the background and the tree in plain swipl, assert one model's facts and ask
    ?- predict(V).
    """
    from rrl.relational import read_kb, read_settings
    from rrl.relational.forest import TildeForestClassifier, TildeForestRegressor
    from rrl.relational.model import TreeModel
    from rrl.relational.tg import TGClassifier, TGRegressor
    from rrl.relational.tilde import TildeClassifier, TildeRegressor

    started = time.perf_counter()
    settings = read_settings(settings_path)
    examples = read_kb(kb_path)
    if not examples:
        raise RRLError(f"{kb_path}: no begin(model(_)) ... end(model(_)) block")
    classify = settings.classify
    if classify is None:
        classify = any(isinstance(e.target, str) for e in examples)
    candidates = _max_candidates(max_candidates)
    background = [str(p) for p in bg_paths]
    common: dict[str, Any] = {"minimal_cases": minimal_cases, "max_depth": max_depth, "significance": significance}
    model: TreeModel
    if incremental:
        if trees > 1:
            raise RRLError("--trees: a forest is grown in batch; drop --incremental")
        if prune:
            raise RRLError("--prune: TG (--incremental) does not prune; its F-test decides each split")
        if settings.prune:
            click.echo(f"{settings_path}: prune(true) does not apply to TG (--incremental): "
                       "learning an unpruned tree", err=True)
        if classify:
            model = TGClassifier(settings, background, min_samples=min_samples, heuristic=heuristic, **common)
        else:
            model = TGRegressor(settings, background, min_samples=min_samples, **common)
    elif trees > 1 and classify:
        model = TildeForestClassifier(settings, background, n_trees=trees, max_candidates=candidates,
                                      random_state=seed, prune=prune, heuristic=heuristic, **common)
    elif trees > 1:
        model = TildeForestRegressor(settings, background, n_trees=trees, max_candidates=candidates,
                                     random_state=seed, prune=prune, **common)
    elif classify:
        model = TildeClassifier(settings, background, prune=prune, heuristic=heuristic, **common)
    else:
        model = TildeRegressor(settings, background, prune=prune, **common)
    try:
        model.fit(examples)
        write_text_atomically(out, model.to_prolog())
    finally:
        model.close()
    seconds = round(time.perf_counter() - started, 3)
    summary: dict[str, int | float] = {"nodes": model.n_nodes, "leaves": len(model.leaves()), "seconds": seconds}
    if trees > 1:
        summary["trees"] = trees
    if as_json:
        click.echo(json.dumps(summary))
    else:
        what = f"{trees} trees, " if trees > 1 else ""
        click.echo(f"wrote {out}: {what}{summary['leaves']} leaves, {summary['nodes']} nodes, "
                   f"learned from {len(examples)} examples in {seconds} s")


def _max_candidates(text: str) -> float | str:
    if text == "sqrt":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter("expected sqrt, a fraction below 1 or a count", param_hint="--max-candidates")
    return value


@tilde.command()
@click.option("--tree", "tree_path", type=_FILE, required=True,
              help="A tree written by 'rrl tilde fit' (or any rules defining predict/1).")
@click.option("--kb", "kb_path", type=_FILE, required=True,
              help="Examples to predict (.kb; target/1 facts are optional here).")
@click.option("--bg", "bg_paths", type=_FILE, multiple=True,
              help="Background knowledge (.pl) the tree uses; may be given several times.")
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON object {"predictions": {"<model id>": value, ...}}; for a '
                   'classification tree also "probabilities": {"<model id>": {"<class>": p, ...}}.')
def predict(tree_path: Path, kb_path: Path, bg_paths: tuple[Path, ...], as_json: bool) -> None:
    """Predict a value or a class for every model of a knowledge base with a learned tree.

    The tree's rules run in Prolog exactly as plain swipl would run them: predict/1, and
    classify/2 for the class probabilities of a classification tree.
    """
    from rrl.relational import read_kb
    from rrl.relational.engine import NoPredictError, World

    examples = read_kb(kb_path, require_target=False)
    world = World([*bg_paths, tree_path])
    try:
        ids = world.load(examples)
        classes = world.classify_rules(ids)
        values = world.predict_rules(ids)
    except NoPredictError:
        raise RRLError(f"{tree_path}: defines no predict/1") from None
    finally:
        world.close()
    predictions = dict(zip((e.id for e in examples), values, strict=True))
    result: dict[str, object] = {"predictions": predictions}
    if classes is not None:
        result["probabilities"] = {e.id: (None if c is None else {str(k): p for k, p in c[1].items()})
                                   for e, c in zip(examples, classes, strict=True)}
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in predictions.items():
            click.echo(f"{key}\t{value}")
