"""Classification trees (DESIGN section 12): atom targets, gain ratio, class leaves,
pruning, and tree files that plain swipl runs with the same classes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rrl.cli.main import cli
from rrl.errors import RRLError, SettingsError
from rrl.relational import Example, TildeClassifier, read_kb, synthetic, write_kb
from rrl.relational.forest import TildeForestClassifier
from rrl.relational.tg import TGClassifier
from rrl.relational.tree import best_class_split, entropy


@pytest.fixture(scope="module")
def mol(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("mol")
    paths = {"settings": base / "mol.s", "train": base / "train.kb", "test": base / "test.kb"}
    paths["settings"].write_text(synthetic.CLASS_SETTINGS)
    write_kb(synthetic.make_molecules(200, seed=1), paths["train"])
    write_kb(synthetic.make_molecules(80, seed=2, prefix="q"), paths["test"])
    return paths


@pytest.fixture(scope="module")
def held_out() -> list[Example]:
    return synthetic.make_molecules(300, seed=3, prefix="h")


def test_molecules_need_the_three_literal_rule():
    examples = synthetic.make_molecules(300, seed=4)
    assert all((e.target == "active") == synthetic.has_nitroso(e) for e in examples)
    assert 0.35 < np.mean([e.target == "active" for e in examples]) < 0.65
    # every molecule has n and o atoms and most have double bonds in both classes
    assert all("atm(a0, n, " in e.facts[0] and "atm(a1, o, " in e.facts[1] for e in examples)
    inactive_double = [any(f.endswith(", 2)") for f in e.facts) for e in examples if e.target == "inactive"]
    assert np.mean(inactive_double) > 0.8


def test_classifier_finds_the_known_rule(mol, held_out):
    model = TildeClassifier(mol["settings"]).fit(read_kb(mol["train"]))
    first = model.leaves()[0]
    assert first.conjunction == "atm(Atom1, n, Charge2), bond(Atom1, Atom3, 2), atm(Atom3, o, Charge4)"
    assert first.value == "active" and dict(first.distribution)["inactive"] == 0
    assert list(model.classes_) == ["active", "inactive"]
    assert model.score(held_out) == 1.0
    proba = model.predict_proba(held_out[:20])
    assert proba.shape == (20, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert sum(leaf.count for leaf in model.leaves()) == 200


def test_leaves_keep_class_distributions(mol):
    noisy = synthetic.make_molecules(200, seed=5, noise=0.15)
    model = TildeClassifier(mol["settings"], max_depth=2).fit(noisy)
    for leaf in model.leaves():
        counts = dict(leaf.distribution)
        assert sum(counts.values()) == leaf.count
        assert leaf.value == max(counts, key=lambda c: (counts[c], c == "active"))  # majority, first on ties


def _gain_and_ratio(passed: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, n1 = total.sum(), passed.sum(axis=1)
    gain = entropy(total) - n1 / n * entropy(passed) - (n - n1) / n * entropy(total - passed)
    return gain, gain / entropy(np.stack([n1, n - n1], axis=1))


def test_gain_ratio_only_among_tests_of_at_least_average_gain():
    total = np.array([50.0, 50.0])
    tiny = np.array([3.0, 0.0])  # splits off three pure examples
    useful = np.array([35.0, 15.0])
    gain, ratio = _gain_and_ratio(np.array([tiny, useful]), total)
    assert ratio[0] > ratio[1] and gain[0] < gain.mean()  # C4.5's guard excludes it
    assert best_class_split(np.array([tiny, useful]), total, 2, "gainratio") == 1
    assert best_class_split(np.array([tiny]), total, 2, "gainratio") == 0  # alone, it is the average
    # minimal_cases on both sides, and no split without information gain
    assert best_class_split(np.array([tiny]), total, 4) is None
    assert best_class_split(np.array([[25.0, 25.0]]), total, 2) is None


def test_gain_ratio_and_gain_can_choose_differently():
    total = np.array([50.0, 50.0])
    passed = np.array([[35.0, 15.0], [48.0, 22.0], [20.0, 0.0]])
    gain, ratio = _gain_and_ratio(passed, total)
    eligible = gain >= gain.mean()
    assert eligible.tolist() == [False, True, True]
    assert best_class_split(passed, total, 2, "gain") == int(np.argmax(gain)) == 1
    assert best_class_split(passed, total, 2, "gainratio") == int(np.argmax(np.where(eligible, ratio, -1))) == 2


def test_significance_g_test_stops_a_split_on_noise():
    total = np.array([20.0, 20.0])
    weak = np.array([[12.0, 8.0]])
    assert best_class_split(weak, total, 2) == 0
    assert best_class_split(weak, total, 2, significance=0.01) is None
    strong = np.array([[19.0, 1.0]])
    assert best_class_split(strong, total, 2, significance=0.01) == 0


def test_kb_with_class_targets(tmp_path):
    kb = tmp_path / "c.kb"
    kb.write_text("begin(model(a)).\np(1).\ntarget(pos).\nend(model(a)).\n"
                  "begin(model(b)).\np(2).\ntarget('Not pos').\nend(model(b)).\n")
    a, b = read_kb(kb)
    assert a.target == "pos" and b.target == "Not pos"
    write_kb([a, b], tmp_path / "back.kb")
    assert [e.target for e in read_kb(tmp_path / "back.kb")] == ["pos", "Not pos"]
    bad = tmp_path / "bad.kb"
    bad.write_text("begin(model(a)).\ntarget(f(x)).\nend(model(a)).\n")
    with pytest.raises(SettingsError, match=r"bad.kb:2: target\(f\(x\)\) is neither a number nor an atom"):
        read_kb(bad)


def test_declared_numeric_classes(tmp_path):
    settings = tmp_path / "s.s"
    settings.write_text("type(p(num)).\nclasses([1, 0]).\nrmode(p(#)).\n")
    examples = [Example(f"e{i}", [f"p({i % 3})"], float(i % 3 == 0)) for i in range(30)]
    model = TildeClassifier(settings).fit(examples)
    assert list(model.classes_) == [1, 0]
    assert model.predict(examples).tolist() == [1 if i % 3 == 0 else 0 for i in range(30)]
    assert "Class = 1," in model.to_prolog()
    with pytest.raises(RRLError, match=r"example x: target 2.0 is none of the classes 1, 0 of classes/1 in "):
        TildeClassifier(settings).fit([*examples, Example("x", ["p(1)"], 2.0)])
    kb = tmp_path / "c.kb"
    write_kb([*examples[:3], Example("odd", ["p(1)"], 2.0)], kb)
    with pytest.raises(SettingsError, match=rf"{kb}:13: model odd: target 2.0 is none of the classes"):
        TildeClassifier(settings).fit(read_kb(kb))


def _plain_swipl(tmp_path: Path, tree: Path, kb: Path) -> dict[str, str]:
    driver = tmp_path / "driver.pl"
    driver.write_text(r"""
run_kb(File) :- open(File, read, S), read(S, T0), blocks(S, T0), close(S).
blocks(_, end_of_file) :- !.
blocks(S, begin(model(Id))) :- !, facts(S, Fs), forall(member(F, Fs), assertz(F)),
    ( predict(C) -> true ; C = none ), classify(_, Ps), format("~q ~q ~q~n", [Id, C, Ps]),
    forall(member(F, Fs), retract(F)), read(S, T), blocks(S, T).
blocks(S, _) :- read(S, T), blocks(S, T).
facts(S, Fs) :- read(S, T),
    ( T = end(model(_)) -> Fs = [] ; T = target(_) -> facts(S, Fs) ; Fs = [T|R], facts(S, R) ).
""")
    proc = subprocess.run(["swipl", "-q", "-g", f"consult('{tree}'), consult('{driver}'), run_kb('{kb}'), halt",
                           "-t", "halt(1)"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        key, cls, probs = line.split(" ", 2)
        out[key] = (cls, probs)
    return out


@pytest.mark.skipif(shutil.which("swipl") is None, reason="needs the swipl executable")
@pytest.mark.parametrize("trees", [1, 4, "tg"])
def test_tree_file_gives_the_same_classes_in_plain_swipl(tmp_path, mol, trees):
    noisy = tmp_path / "noisy.kb"
    write_kb(synthetic.make_molecules(150, seed=6, noise=0.2), noisy)
    out = tmp_path / "tree.pl"
    mode = ["--incremental", "--min-samples", "20", "--significance", "1"] if trees == "tg" else ["--trees", str(trees)]
    result = CliRunner().invoke(cli, ["tilde", "fit", "--kb", str(noisy), "--settings", str(mol["settings"]),
                                      "--out", str(out), "--json", *mode])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["leaves"] >= 3 and summary.get("trees", 1) == (1 if trees == "tg" else trees)
    result = CliRunner().invoke(cli, ["tilde", "predict", "--tree", str(out), "--kb", str(mol["test"]), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    predictions, probabilities = answer["predictions"], answer["probabilities"]
    assert len(predictions) == 80 and set(predictions.values()) <= {"active", "inactive"}
    for key, cls in predictions.items():
        p = probabilities[key]
        assert set(p) == {"active", "inactive"} and abs(sum(p.values()) - 1) < 1e-9
        assert cls == max(p, key=lambda c: (p[c], c == "active"))
    plain = _plain_swipl(tmp_path, out, mol["test"])
    assert {k: v[0] for k, v in plain.items()} == predictions
    for key, (_, probs) in plain.items():
        pairs = dict(part.split("-") for part in probs.strip("[]").split(","))
        assert {c: float(v) for c, v in pairs.items()} == probabilities[key]
    # the estimator itself gives the same classes and probabilities
    model = (TGClassifier(mol["settings"], min_samples=20, significance=1) if trees == "tg"
             else TildeForestClassifier(mol["settings"], n_trees=trees) if trees > 1
             else TildeClassifier(mol["settings"])).fit(read_kb(noisy))
    assert model.to_prolog() == out.read_text()
    test = read_kb(mol["test"])
    assert dict(zip([e.id for e in test], model.predict(test).tolist(), strict=True)) == predictions
    proba = model.predict_proba(test)
    assert all(proba[i].tolist() == [probabilities[e.id]["active"], probabilities[e.id]["inactive"]]
               for i, e in enumerate(test))


def test_tg_learns_the_rule_from_a_stream(mol, held_out):
    stream = synthetic.make_molecules(600, seed=9)
    model = TGClassifier(mol["settings"], min_samples=100, batch_size=50)
    for start in range(0, len(stream), 50):
        model.partial_fit(stream[start:start + 50])
    assert model.score(held_out) == 1.0
    first = model.leaves()[0]
    assert first.conjunction == "atm(Atom1, n, Charge2), bond(Atom1, Atom3, 2), atm(Atom3, o, Charge4)"
    assert first.value == "active" and sum(c for _, c in first.distribution) == first.count
    assert sum(leaf.count for leaf in model.leaves()) == 600
    # no example kept: a leaf remembers class counts per candidate test
    assert all(leaf.state.passed.shape[1] == 2 for leaf in model.leaves_)


def test_tg_classes_come_from_the_first_batch_or_classes_1(tmp_path, mol):
    model = TGClassifier(mol["settings"]).partial_fit([Example("a", ["atm(a0, n, 0.1)"], "active"),
                                                     Example("b", ["atm(a0, o, 0.1)"], "inactive")])
    with pytest.raises(RRLError, match="example c: target 'other' is none of the classes active, inactive "
                                       r"\(declare every class with classes/1"):
        model.partial_fit([Example("c", ["atm(a0, c, 0.1)"], "other")])
    declared = tmp_path / "declared.s"
    declared.write_text(synthetic.CLASS_SETTINGS + "classes([active, inactive, other]).\n")
    model = TGClassifier(declared).partial_fit([Example("a", ["atm(a0, n, 0.1)"], "active")])
    model.partial_fit([Example("c", ["atm(a0, c, 0.1)"], "other")])
    assert list(model.classes_) == ["active", "inactive", "other"]
    assert model.default_distribution_.tolist() == [1.0, 0.0, 1.0]
