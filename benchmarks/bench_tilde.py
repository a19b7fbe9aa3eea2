"""Speed of the relational tree learner (prints medians; not a timed test).

    python3 benchmarks/bench_tilde.py [--examples 10000] [--tasks 20] [--repeats 3]

1. candidate-test evaluation: every refinement of the root query on every example, in
   one Prolog call, against the naive way (one pyswip query per example and test);
2. a TILDE fit (max_depth 6, no significance test, so the tree grows as deep as the
   data allow) on the same examples, and R^2 on 500 held-out examples of TILDE with the
   settings' significance/1 and of TG;
3. a TILDE classification fit (max_depth 6) on 10,000 synthetic molecules;
4. Q-values of 30 candidate actions of one state (30 examples sharing a 20-task state).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from rrl.relational import Example, TildeClassifier, TildeRegressor, read_settings, synthetic  # noqa: E402
from rrl.relational.constants import Constants  # noqa: E402
from rrl.relational.engine import World, prolog  # noqa: E402
from rrl.relational.language import Language  # noqa: E402
from rrl.relational.terms import conjunction  # noqa: E402
from rrl.relational.tg import TGRegressor  # noqa: E402


def _median(times: list[float]) -> float:
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-examples", type=int, default=300)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_tilde_"))
    (tmp / "syn.s").write_text(synthetic.SETTINGS)
    (tmp / "syn.pl").write_text(synthetic.BACKGROUND)
    settings = read_settings(tmp / "syn.s")
    examples = synthetic.make_examples(args.examples, seed=5, tasks=(args.tasks, args.tasks))
    print(f"{len(examples)} examples of {args.tasks}-task schedules ({sum(len(e.facts) for e in examples)} facts)")

    # 1. candidate-test evaluation -------------------------------------------------
    world = World([tmp / "syn.pl"])
    start = time.perf_counter()
    ids = world.load(examples)
    print(f"load: {time.perf_counter() - start:.2f} s")
    constants = Constants()
    constants.update(world, settings)
    language = Language(settings, constants)
    root = language.root()
    goals = [conjunction(root.literals + r.literals) for r in language.refinements(root)]
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        world.evaluate(ids, goals)
        times.append(time.perf_counter() - start)
    batched = len(ids) * len(goals) / _median(times)
    print(f"batched evaluation: {len(goals)} tests x {len(ids)} examples in {_median(times):.2f} s "
          f"= {batched:,.0f} example-test evaluations/s")
    # the same tests as one query pack: the root's literals solved once per example
    pairs = [(conjunction(root.literals), conjunction(r.literals)) for r in language.refinements(root)]
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        world.evaluate(ids, pairs)
        times.append(time.perf_counter() - start)
    print(f"as one query pack: {_median(times):.2f} s = {len(ids) * len(pairs) / _median(times):,.0f} "
          "example-test evaluations/s")

    engine = prolog()
    sample = ids[: args.naive_examples]
    start = time.perf_counter()
    for goal in goals:  # send each test for each example as its own query
        for key in sample:
            list(engine.query(f"rrl_runtime:key_goal({world.module}, {key}, ({goal}), G_), "
                              f"once({world.module}:G_)", maxresult=1))
    naive = len(sample) * len(goals) / (time.perf_counter() - start)
    print(f"naive (one pyswip query per example and test, {len(sample)} examples): "
          f"{naive:,.0f} evaluations/s; batched is {batched / naive:.0f}x faster")
    world.unload(ids)

    # 2. TILDE fit ----------------------------------------------------------------
    start = time.perf_counter()
    model = TildeRegressor(settings, background=tmp / "syn.pl", max_depth=6, significance=1).fit(examples)
    print(f"TILDE fit (max_depth 6, no significance test): {time.perf_counter() - start:.1f} s, "
          f"{model.n_nodes} nodes")
    _r2_figures(settings, tmp / "syn.pl")

    # 3. classification fit -------------------------------------------------------
    (tmp / "mol.s").write_text(synthetic.CLASS_SETTINGS)
    molecules = synthetic.make_molecules(args.examples, seed=5, noise=0.1)
    start = time.perf_counter()
    classifier = TildeClassifier(tmp / "mol.s", max_depth=6).fit(molecules)
    seconds = time.perf_counter() - start
    accuracy = classifier.score(synthetic.make_molecules(1000, seed=6, prefix="h"))
    print(f"TILDE classification fit (max_depth 6) on {len(molecules)} molecules (10 % of classes flipped): "
          f"{seconds:.1f} s, {classifier.n_nodes} nodes, held-out accuracy {accuracy:.3f}")
    classifier.close()

    # 4. Q-values of 30 candidate actions of one state ------------------------------
    state = examples[0].facts
    own = [[f"action(swap, t{i % args.tasks})"] for i in range(30)]
    each = [Example(f"a{i}", [*state, *facts]) for i, facts in enumerate(own)]
    alone = [Example(f"a{i}", facts) for i, facts in enumerate(own)]
    print(f"Q-values of 30 actions of one {args.tasks}-task state: "
          f"median {_time_predict(model, each) * 1000:.2f} ms with the state in every example, "
          f"{_time_predict(model, alone, state) * 1000:.2f} ms with the state as shared facts")
    _repair_states(args.tasks)


def _r2_figures(settings: object, background: Path) -> None:
    """R^2 on held-out synthetic examples: TILDE with the settings' significance/1, TG."""
    train = synthetic.make_examples(1500, seed=1)
    held_out = synthetic.make_examples(500, seed=2, prefix="h")
    truth = np.array([e.target for e in held_out])
    for name, model in (("TILDE", TildeRegressor(settings, background=background)),
                        ("TG (min_samples 100)", TGRegressor(settings, background=background))):
        predicted = model.fit(train).predict(held_out)
        r2 = 1 - ((truth - predicted) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
        print(f"R^2 on 500 held-out synthetic examples, {name} on 1,500: {r2:.3f} ({model.n_nodes} nodes)")
        model.close()


def _time_predict(model: TildeRegressor, examples: list[Example], shared: list[str] | None = None) -> float:
    model.predict(examples, shared or ())  # warm-up
    times = []
    for _ in range(50):
        start = time.perf_counter()
        model.predict(examples, shared or ())
        times.append(time.perf_counter() - start)
    return _median(times)


def _repair_states(n_orders: int) -> None:
    """The same on real repair states (rrl.relational.facts, background_knowledge/repair.*)."""
    try:
        from rrl._paths import data_dir
        from rrl.dispatching import dispatch
        from rrl.domain.generate import generate_scenario
        from rrl.domain.plan import Plan
        from rrl.operators.repair import successors
        from rrl.relational.facts import action_facts, state_facts
    except ImportError as error:  # the scheduling domain is optional for this benchmark
        print(f"repair states skipped ({error})")
        return
    problem = generate_scenario(machines=3, orders=n_orders, seed=1).problem
    train, by_focal = [], {}
    for seed in range(3):
        plan = Plan.build(problem, dispatch(problem, "random", seed=seed))
        for focal in problem.orders:
            state = state_facts(plan, focal)
            for action, after in successors(plan, focal):
                own = action_facts(plan, action, after)
                train.append(Example(f"e{len(train)}", state + own, plan.total_tardiness - after.total_tardiness))
                by_focal.setdefault((seed, focal), (state, []))[1].append(own)
    bk = data_dir("background_knowledge")
    start = time.perf_counter()
    # no significance test: the tree of the earlier figures (repair.s asks for one)
    model = TildeRegressor(bk / "repair.s", background=bk / "repair.pl", significance=1).fit(train)
    print(f"repair states: TILDE fit on {len(train)} (state, action) examples of {n_orders}-order plans "
          f"in {time.perf_counter() - start:.1f} s, {model.n_nodes} nodes")
    state, owns = max(by_focal.values(), key=lambda v: len(v[1]))
    owns = (owns * 30)[:30]
    each = [Example(f"a{i}", [*state, *own]) for i, own in enumerate(owns)]
    alone = [Example(f"a{i}", own) for i, own in enumerate(owns)]
    print(f"repair states: Q-values of 30 actions ({len(state)} state facts): "
          f"median {_time_predict(model, each) * 1000:.2f} ms with the state in every example, "
          f"{_time_predict(model, alone, state) * 1000:.2f} ms with the state as shared facts")


if __name__ == "__main__":
    main()
