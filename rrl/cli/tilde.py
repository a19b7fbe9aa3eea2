"""``rrl tilde``: learn and apply first-order regression trees on any relational data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from rrl._io import write_text_atomically
from rrl.errors import RRLError

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(short_help="Learn first-order regression trees (TILDE, TG) on any relational data.")
def tilde() -> None:
    """Learn first-order regression trees (TILDE, TG) from a knowledge base.

    The data are a knowledge base (.kb: one begin(model(Id)) ... end(model(Id)) block of
    ground facts per example, with one target(Value) fact each), a settings file (.s:
    type/1, rmode/1, root/1, minimal_cases/1, max_depth/1, significance/1) and optional
    background knowledge (.pl). See docs/tilde.md for the formats.
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
              help="Learn with TG, streaming the examples in file order, instead of batch TILDE.")
@click.option("--minimal-cases", type=click.IntRange(min=1), default=None,
              help="Fewest examples per leaf (overrides minimal_cases/1).")
@click.option("--max-depth", type=click.IntRange(min=0), default=None,
              help="Most tests on a path (overrides max_depth/1).")
@click.option("--min-samples", type=click.IntRange(min=1), default=100, show_default=True,
              help="TG only: examples a leaf sees before it may split.")
@click.option("--significance", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              default=None,
              help="F-test level a split must pass. TG: overrides significance/1 (default "
                   "0.001). TILDE: off unless given (then trees stop splitting on noise).")
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON object {"nodes", "leaves", "seconds"} on stdout.')
def fit(kb_path: Path, settings_path: Path, bg_paths: tuple[Path, ...], out: Path, incremental: bool,
        minimal_cases: int | None, max_depth: int | None, min_samples: int, significance: float | None,
        as_json: bool) -> None:
    """Learn a tree from a knowledge base and write it as Prolog rules.

    The tree file defines predict(Value) as a decision list (one rule per leaf, the root
    query first, cuts between rules): consult the background and the tree in plain swipl,
    assert one model's facts and ask ?- predict(V).
    """
    from rrl.relational import read_kb, read_settings
    from rrl.relational.tg import TGRegressor
    from rrl.relational.tilde import TildeRegressor

    started = time.perf_counter()
    settings = read_settings(settings_path)
    examples = read_kb(kb_path)
    if not examples:
        raise RRLError(f"{kb_path}: no begin(model(_)) ... end(model(_)) block")
    background = [str(p) for p in bg_paths]
    model: TildeRegressor | TGRegressor
    if incremental:
        model = TGRegressor(settings, background, min_samples=min_samples, significance=significance,
                            minimal_cases=minimal_cases, max_depth=max_depth)
    else:
        model = TildeRegressor(settings, background, minimal_cases=minimal_cases, max_depth=max_depth,
                               significance=significance)
    try:
        model.fit(examples)
        write_text_atomically(out, model.to_prolog())
    finally:
        model.close()
    seconds = round(time.perf_counter() - started, 3)
    summary = {"nodes": model.n_nodes, "leaves": len(model.leaves()), "seconds": seconds}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"wrote {out}: {summary['leaves']} leaves, {summary['nodes']} nodes, "
                   f"learned from {len(examples)} examples in {seconds} s")


@tilde.command()
@click.option("--tree", "tree_path", type=_FILE, required=True,
              help="A tree written by 'rrl tilde fit' (or any rules defining predict/1).")
@click.option("--kb", "kb_path", type=_FILE, required=True,
              help="Examples to predict (.kb; target/1 facts are optional here).")
@click.option("--bg", "bg_paths", type=_FILE, multiple=True,
              help="Background knowledge (.pl) the tree uses; may be given several times.")
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON object {"predictions": {"<model id>": value, ...}}.')
def predict(tree_path: Path, kb_path: Path, bg_paths: tuple[Path, ...], as_json: bool) -> None:
    """Predict a value for every model of a knowledge base with a learned tree.

    The tree's rules run in Prolog exactly as plain swipl would run them.
    """
    from rrl.relational import read_kb
    from rrl.relational.engine import NoPredictError, World

    examples = read_kb(kb_path, require_target=False)
    world = World([*bg_paths, tree_path])
    try:
        ids = world.load(examples)
        values = world.predict_rules(ids)
    except NoPredictError:
        raise RRLError(f"{tree_path}: defines no predict/1") from None
    finally:
        world.close()
    predictions = dict(zip((e.id for e in examples), values, strict=True))
    if as_json:
        click.echo(json.dumps({"predictions": predictions}))
    else:
        for key, value in predictions.items():
            click.echo(f"{key}\t{value}")
