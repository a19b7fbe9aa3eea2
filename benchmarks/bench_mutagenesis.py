"""rrl tilde on Mutagenesis: 10-fold cross-validated accuracy at three language levels,
against the figures Blockeel & De Raedt (1998) published for Tilde.

    python3 benchmarks/bench_mutagenesis.py [--benchmarks DIR] [--levels b1 b2 b3]
        [--trees 30] [--variants] [--nested] [--nested-forest] [--forest-variants] [--json FILE]

Data: ``DIR/mutagenesis`` (default DIR: ``../shared/benchmarks`` relative to the
repository, or $RRL_BENCHMARKS): the 188 regression-friendly molecules
(``muta188_class.kb``, target 1 = active / 0), ``muta.pl`` (undirected bonds) and the
seeded, class-stratified folds of ``folds.json``.  Language levels: the settings files
``benchmarks/mutagenesis/b1.s`` (atoms and bonds), ``b2.s`` (plus numeric tests on
partial charges), ``b3.s`` (plus lumo and logP).

Per level and fold, measured in the same run:
- TILDE: one classification tree (the settings file's heuristic and pruning);
- forest: ``--trees`` TILDE trees on bootstrap samples (0 skips it);
- regression tree read as a class: ``TildeRegressor`` on the 0/1 target, active when the
  prediction is above 0.5 (what a user of a regression-only learner would do);
- majority class of the training folds;
- with ``--variants``: TILDE with each heuristic (gain, gain ratio) and number of
  thresholds (9, 14, 19) of ``GRID`` in place of the settings file's;
- with ``--nested``: TILDE with the heuristic and the number of thresholds chosen by an
  inner cross-validation on each training fold (the settings files were chosen looking
  at these same ten folds; this column is the estimate free of that selection);
- with ``--nested-forest``: the same selection for the forest;
- with ``--forest-variants``: the forest with each variant of ``GRID``, and the mean over
  the folds of the worst variant on each fold: a lower bound on what any choice among
  them, made however (on the test folds or inside the training folds), would give.
Accuracy is the mean over the ten folds (each fold ~19 molecules); fit times are
medians over the folds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rrl.relational import Example, TildeClassifier, TildeRegressor, read_kb  # noqa: E402
from rrl.relational.forest import TildeForestClassifier  # noqa: E402

SETTINGS = ROOT / "benchmarks" / "mutagenesis"
PUBLISHED = {"b1": (0.75, 0.76), "b2": (0.79, 0.81), "b3": (0.85, 0.83)}  # Tilde, Progol
LEVELS = {"b1": "atoms and bonds", "b2": "+ numeric tests on partial charges", "b3": "+ lumo and logP"}


def default_benchmarks() -> Path:
    """$RRL_BENCHMARKS, else ``../shared/benchmarks`` next to the repository."""
    return Path(os.environ.get("RRL_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))


def cross_validate(make: Callable[[], Any], data: Path,
                   predict_class: Callable[[Any, list[Example]], list[int]] | None = None) -> dict[str, Any]:
    """10-fold accuracy of the learner ``make()`` on the 188 molecules of ``data``.

    Returns:
        ``{"accuracy", "folds", "fit_seconds", "leaves"}``: mean accuracy, per-fold
        accuracies, the median fit time of a fold, the mean number of leaves.
    """
    examples = read_kb(data / "muta188_class.kb")
    by_id = {e.id: e for e in examples}
    folds = json.loads((data / "folds.json").read_text())["folds"]
    accuracies, seconds, leaves = [], [], []
    for test in folds:
        held = set(test)
        train = [e for e in examples if e.id not in held]
        model = make()
        started = time.perf_counter()
        model.fit(train)
        seconds.append(time.perf_counter() - started)
        queries = [by_id[i] for i in test]
        predicted = (predict_class(model, queries) if predict_class
                     else [int(c) for c in model.predict(queries)])
        accuracies.append(float(np.mean([p == _label(by_id[i]) for p, i in zip(predicted, test, strict=True)])))
        leaves.append(len(model.leaves()))
        model.close()
    return {"accuracy": float(np.mean(accuracies)), "folds": accuracies,
            "fit_seconds": statistics.median(seconds), "leaves": float(np.mean(leaves))}


def _label(example: Example) -> int:
    return int(float(example.target or 0))


GRID: list[dict[str, Any]] = [{"heuristic": h, "n_thresholds": t} for h in ("gain", "gainratio") for t in (9, 14, 19)]


def nested(make: Callable[..., Any], data: Path, inner_folds: int = 3, seed: int = 0) -> dict[str, Any]:
    """10-fold accuracy when the heuristic and the number of thresholds are chosen
    inside each training fold (``GRID``, by an inner class-stratified ``inner_folds``-fold
    CV, the first best on ties), not on the test folds: the estimate free of the
    selection that went into the settings files (whose rmodes it keeps). ``make(**params)``
    builds the learner (a single tree or a forest) with one variant of ``GRID``."""
    examples = read_kb(data / "muta188_class.kb")
    by_id = {e.id: e for e in examples}
    folds = json.loads((data / "folds.json").read_text())["folds"]
    accuracies, chosen = [], []
    for number, test in enumerate(folds):
        held = set(test)
        train = [e for e in examples if e.id not in held]
        rng = np.random.default_rng(seed + number)
        inner: list[list[str]] = [[] for _ in range(inner_folds)]
        for label in (0, 1):  # deal each class round robin after a shuffle
            ids = [e.id for e in train if _label(e) == label]
            for k, i in enumerate(rng.permutation(len(ids))):
                inner[k % inner_folds].append(ids[i])
        scores = []
        for params in GRID:
            correct = 0
            for part in inner:
                out = set(part)
                with make(**params) as model:
                    model.fit([e for e in train if e.id not in out])
                    correct += sum(int(p) == _label(by_id[i]) for p, i in zip(model.predict([by_id[i] for i in part]), part, strict=True))
            scores.append(correct / len(train))
        best = GRID[int(np.argmax(scores))]
        chosen.append(best)
        with make(**best) as model:
            model.fit(train)
            predicted = model.predict([by_id[i] for i in test])
        accuracies.append(float(np.mean([int(p) == _label(by_id[i]) for p, i in zip(predicted, test, strict=True)])))
    return {"accuracy": float(np.mean(accuracies)), "folds": accuracies, "chosen": chosen}


def forest_variants(settings: Path, background: Path, data: Path, trees: int, seed: int) -> dict[str, Any]:
    """The forest's 10-fold accuracy with each variant of ``GRID``, and the mean over the
    folds of the lowest accuracy any variant has on that fold (no way of choosing among
    the variants, per fold or once, can do worse than that)."""
    runs = [{**params, **cross_validate(partial(TildeForestClassifier, settings, background, n_trees=trees,
                                                random_state=seed, **params), data)} for params in GRID]
    worst = np.min(np.array([run["folds"] for run in runs]), axis=0)
    return {"variants": runs, "worst_per_fold": float(np.mean(worst))}


def majority(data: Path) -> float:
    """Accuracy of predicting each training fold's majority class."""
    examples = {e.id: _label(e) for e in read_kb(data / "muta188_class.kb")}
    folds = json.loads((data / "folds.json").read_text())["folds"]
    out = []
    for test in folds:
        train = [v for k, v in examples.items() if k not in set(test)]
        guess = int(np.mean(train) >= 0.5)
        out.append(np.mean([examples[i] == guess for i in test]))
    return float(np.mean(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", type=Path, default=default_benchmarks(),
                        help="folder holding mutagenesis/ (default: ../shared/benchmarks or $RRL_BENCHMARKS)")
    parser.add_argument("--levels", nargs="+", default=["b1", "b2", "b3"], choices=sorted(LEVELS))
    parser.add_argument("--trees", type=int, default=30, help="trees per forest (0: no forest)")
    parser.add_argument("--seed", type=int, default=0, help="forest seed")
    parser.add_argument("--variants", action="store_true",
                        help="also the 10-fold accuracy of every heuristic x thresholds variant of GRID")
    parser.add_argument("--nested", action="store_true",
                        help="also choose heuristic and thresholds (GRID) inside each training fold (inner 3-fold CV)")
    parser.add_argument("--nested-forest", action="store_true",
                        help="also the forest with heuristic and thresholds chosen inside each training fold")
    parser.add_argument("--forest-variants", action="store_true",
                        help="also the forest with every variant of GRID, and the worst variant per fold")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    data = args.benchmarks / "mutagenesis"
    if not (data / "muta188_class.kb").is_file():
        sys.exit(f"{data}: no muta188_class.kb (give --benchmarks DIR, the folder holding mutagenesis/)")
    background = data / "muta.pl"
    base = majority(data)
    print(f"majority class: {base:.3f}")
    results: dict[str, dict[str, Any]] = {}
    for level in args.levels:
        settings = SETTINGS / f"{level}.s"
        row: dict[str, Any] = {"published_tilde": PUBLISHED[level][0], "published_progol": PUBLISHED[level][1],
                               "majority": base}
        row["tilde"] = cross_validate(partial(TildeClassifier, settings, background), data)
        print(f"{level} TILDE: {_line(row['tilde'])}", flush=True)
        row["regression_as_class"] = cross_validate(partial(TildeRegressor, settings, background), data,
                                                    _above_half)
        print(f"{level} regression tree > 0.5: {_line(row['regression_as_class'])}", flush=True)
        if args.variants:
            row["variants"] = [{**params, "accuracy": cross_validate(
                partial(TildeClassifier, settings, background, **params), data)["accuracy"]} for params in GRID]
            print(f"{level} variants: " + ", ".join(f"{v['heuristic']}/{v['n_thresholds']} {v['accuracy']:.3f}"
                                                   for v in row["variants"]), flush=True)
        if args.nested:
            row["nested"] = nested(partial(TildeClassifier, settings, background), data)
            picks = ", ".join(f"{c['heuristic']}/{c['n_thresholds']}" for c in row["nested"]["chosen"])
            print(f"{level} nested selection: accuracy {row['nested']['accuracy']:.3f} (chosen per fold: {picks})",
                  flush=True)
        if args.trees > 0:
            row["forest"] = cross_validate(partial(TildeForestClassifier, settings, background, n_trees=args.trees,
                                                   random_state=args.seed), data)
            print(f"{level} forest of {args.trees}: {_line(row['forest'])}", flush=True)
        if args.trees > 0 and args.nested_forest:
            row["nested_forest"] = nested(partial(TildeForestClassifier, settings, background, n_trees=args.trees,
                                                  random_state=args.seed), data)
            picks = ", ".join(f"{c['heuristic']}/{c['n_thresholds']}" for c in row["nested_forest"]["chosen"])
            print(f"{level} forest, nested selection: accuracy {row['nested_forest']['accuracy']:.3f} "
                  f"(chosen per fold: {picks})", flush=True)
        if args.trees > 0 and args.forest_variants:
            row["forest_variants"] = forest_variants(settings, background, data, args.trees, args.seed)
            runs = row["forest_variants"]["variants"]
            print(f"{level} forest variants: " + ", ".join(f"{v['heuristic']}/{v['n_thresholds']} {v['accuracy']:.3f}"
                                                          for v in runs)
                  + f"; worst variant per fold: {row['forest_variants']['worst_per_fold']:.3f}", flush=True)
        results[level] = row
    print()
    print("| level | language | Tilde (published) | rrl TILDE | fit s | leaves | nested selection "
          f"| rrl forest ({args.trees} trees) | fit s | regression tree > 0.5 | majority |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for level, row in results.items():
        tilde, reg = row["tilde"], row["regression_as_class"]
        forest, inner = row.get("forest"), row.get("nested")
        forest_text = f"{forest['accuracy']:.3f} | {forest['fit_seconds']:.1f}" if forest else "- | -"
        nested_text = f"{inner['accuracy']:.3f}" if inner else "-"
        print(f"| {level.upper()} | {LEVELS[level]} | {row['published_tilde']:.2f} | "
              f"{tilde['accuracy']:.3f} | {tilde['fit_seconds']:.2f} | {tilde['leaves']:.1f} | {nested_text} | "
              f"{forest_text} | {reg['accuracy']:.3f} | {base:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def _above_half(model: Any, queries: list[Example]) -> list[int]:
    return [int(v > 0.5) for v in model.predict(queries)]


def _line(result: dict[str, Any]) -> str:
    return (f"accuracy {result['accuracy']:.3f}, median fit {result['fit_seconds']:.2f} s, "
            f"{result['leaves']:.1f} leaves")


if __name__ == "__main__":
    main()
