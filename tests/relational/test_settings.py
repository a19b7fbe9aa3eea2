"""Stopping rules and pruning come from the settings file the same way in batch (TILDE)
and incremental (TG) learning, through the API and the CLI; the command line and the
estimator's own parameters override the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rrl.cli.main import cli
from rrl.errors import SettingsError
from rrl.relational import (
    TildeClassifier,
    TildeRegressor,
    read_kb,
    read_settings,
    synthetic,
    write_kb,
)
from rrl.relational.tg import TGRegressor

NO_TEST = synthetic.SETTINGS.replace("significance(0.001).\n", "").replace("max_depth(6).\n", "")


def _settings(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_significance_from_the_file_stops_tilde_as_the_parameter_does(tmp_path, files, train):
    bare = _settings(tmp_path, "bare.s", NO_TEST)
    with_test = _settings(tmp_path, "test.s", NO_TEST + "significance(0.001).\n")
    grown = TildeRegressor(bare, background=files["bg"]).fit(train)
    from_file = TildeRegressor(with_test, background=files["bg"]).fit(train)
    from_param = TildeRegressor(bare, background=files["bg"], significance=0.001).fit(train)
    assert grown.n_nodes > 20
    assert from_file.n_nodes == from_param.n_nodes == 3
    assert from_file.to_prolog() == from_param.to_prolog()
    # the parameter overrides the file; 1 turns the test off
    assert TildeRegressor(with_test, background=files["bg"], significance=1).fit(train).n_nodes == grown.n_nodes


def _cli_fit(tmp_path: Path, *args: str) -> dict[str, float]:
    result = CliRunner().invoke(cli, ["tilde", "fit", "--out", str(tmp_path / "tree.pl"), "--json", *args])
    assert result.exit_code == 0, result.output
    summary: dict[str, float] = json.loads(result.output)
    return summary


@pytest.mark.parametrize("incremental", [False, True])
def test_stopping_rules_from_the_file_in_batch_and_incremental_mode(tmp_path, files, incremental):
    """max_depth/1, minimal_cases/1 and significance/1 of the file bind both learners;
    the command line overrides each."""
    mode = ["--incremental", "--min-samples", "50"] if incremental else []
    base = ["--kb", str(files["train"]), "--bg", str(files["bg"]), *mode]
    shallow = _settings(tmp_path, "shallow.s", NO_TEST + "max_depth(1).\nsignificance(1).\n")
    assert _cli_fit(tmp_path, "--settings", str(shallow), *base)["nodes"] == 3
    assert _cli_fit(tmp_path, "--settings", str(shallow), "--max-depth", "3", *base)["nodes"] > 3
    tested = _settings(tmp_path, "tested.s", NO_TEST + "significance(0.001).\n")
    assert _cli_fit(tmp_path, "--settings", str(tested), *base)["nodes"] == 3
    assert _cli_fit(tmp_path, "--settings", str(tested), "--significance", "1", *base)["nodes"] > 3
    big = _settings(tmp_path, "big.s", NO_TEST + "minimal_cases(300).\nsignificance(1).\n")
    assert _cli_fit(tmp_path, "--settings", str(big), *base)["nodes"] == 1  # 400 examples: no split keeps 300 a side
    assert _cli_fit(tmp_path, "--settings", str(big), "--minimal-cases", "5", *base)["nodes"] >= 3


def test_tg_takes_the_same_rules_from_the_file(tmp_path, files, train):
    shallow = _settings(tmp_path, "shallow.s", NO_TEST + "max_depth(1).\nminimal_cases(40).\n")
    model = TGRegressor(shallow, background=files["bg"], min_samples=50).fit(train[:600])
    assert model.max_depth_ == 1 and model.minimal_cases_ == 40 and model.n_nodes == 3
    assert model.significance_ == 0.001  # TG's default when neither file nor parameter sets it


def test_prune_and_minimal_cases_from_the_file_for_classes(tmp_path):
    noisy = synthetic.make_molecules(250, seed=7, noise=0.2)
    plain = _settings(tmp_path, "plain.s", synthetic.CLASS_SETTINGS)
    pruned = _settings(tmp_path, "pruned.s", synthetic.CLASS_SETTINGS + "prune(true).\n")
    grown = TildeClassifier(plain).fit(noisy)
    from_file = TildeClassifier(pruned).fit(noisy)
    assert len(from_file.leaves()) < len(grown.leaves())
    assert from_file.to_prolog() == TildeClassifier(plain, prune=True).fit(noisy).to_prolog()
    assert TildeClassifier(pruned, prune=False).fit(noisy).to_prolog() == grown.to_prolog()
    big = _settings(tmp_path, "big.s", synthetic.CLASS_SETTINGS + "minimal_cases(30).\n")
    assert all(leaf.count >= 30 for leaf in TildeClassifier(big).fit(noisy).leaves())
    # through the CLI: --no-prune overrides prune(true)
    kb = tmp_path / "noisy.kb"
    write_kb(noisy, kb)
    assert _cli_fit(tmp_path, "--kb", str(kb), "--settings", str(pruned))["leaves"] == len(from_file.leaves())
    assert _cli_fit(tmp_path, "--kb", str(kb), "--settings", str(pruned), "--no-prune")["leaves"] == len(grown.leaves())


def test_heuristic_and_classes_from_the_file(tmp_path):
    examples = synthetic.make_molecules(120, seed=8, noise=0.1)
    gain = _settings(tmp_path, "gain.s", synthetic.CLASS_SETTINGS + "heuristic(gain).\n")
    assert TildeClassifier(gain).fit(examples).heuristic_ == "gain"
    assert TildeClassifier(gain, heuristic="gainratio").fit(examples).heuristic_ == "gainratio"
    ordered = _settings(tmp_path, "ordered.s", synthetic.CLASS_SETTINGS + "classes([inactive, active]).\n")
    assert list(TildeClassifier(ordered).fit(examples).classes_) == ["inactive", "active"]


def test_tilde_mode_classify_makes_numbers_classes(tmp_path):
    kb = tmp_path / "n.kb"
    kb.write_text("".join(f"begin(model(m{i})).\np({i % 2}).\ntarget({i % 2}).\nend(model(m{i})).\n" for i in range(20)))
    settings = _settings(tmp_path, "n.s", "type(p(num)).\nrmode(p(#)).\ntilde_mode(classify).\n")
    assert read_settings(settings).classify is True
    _cli_fit(tmp_path, "--kb", str(kb), "--settings", str(settings))
    assert "classify(Class, Probabilities)" in (tmp_path / "tree.pl").read_text()
    result = CliRunner().invoke(cli, ["tilde", "predict", "--tree", str(tmp_path / "tree.pl"), "--kb", str(kb), "--json"])
    answer = json.loads(result.output)
    assert answer["predictions"]["m3"] == 1 and answer["probabilities"]["m3"] == {"0": 0.0, "1": 1.0}
    assert type(answer["predictions"]["m3"]) is int  # a class read as an integer stays one
    regression = _settings(tmp_path, "r.s", "type(p(num)).\nrmode(p(#)).\ntilde_mode(regression).\n")
    _cli_fit(tmp_path, "--kb", str(kb), "--settings", str(regression))
    assert "predict(Value) :-" in (tmp_path / "tree.pl").read_text()
    assert len(read_kb(kb)) == 20


BAD = [
    ("prune(maybe).\n", "prune/1 needs one of true, false"),
    ("heuristic(gini).\n", "heuristic/1 needs one of gainratio, gain"),
    ("classes(pos).\n", "classes/1 needs a non-empty list"),
    ("classes([pos, pos]).\n", "lists a class twice"),
    ("tilde_mode(cluster).\n", "tilde_mode/1 needs one of classify, regression"),
    ("discrete(X).\n", "discrete/1 needs a type name"),
    ("discretization(bounds(0)).\n", "integer N >= 1"),
    ("discretization(equal_width).\n", "discretization/1 needs bounds(N)"),
    ("significance(0).\n", "significance/1 needs a level above 0"),
    ("lookahead(atm, 2).\n", "unknown directive lookahead/2"),
]


@pytest.mark.parametrize(("line", "message"), BAD, ids=[b[1] for b in BAD])
def test_new_directives_check_their_values_and_name_the_line(tmp_path, line, message):
    path = _settings(tmp_path, "bad.s", "type(p(num)).\nrmode(p(#)).\n" + line)
    with pytest.raises(SettingsError) as info:
        read_settings(path)
    assert str(info.value).startswith(f"{path}:3: ") and message in str(info.value)


def test_options_that_do_not_fit_the_learner_are_one_line_errors(tmp_path, files):
    base = ["tilde", "fit", "--kb", str(files["train"]), "--settings", str(files["settings"]), "--bg", str(files["bg"]),
            "--out", str(tmp_path / "t.pl")]
    for extra, message in ((["--incremental", "--prune"], "TG (--incremental) does not prune"),
                           (["--incremental", "--trees", "3"], "a forest is grown in batch"),
                           (["--trees", "3", "--max-candidates", "none"], "--max-candidates")):
        result = CliRunner().invoke(cli, [*base, *extra])
        assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t.pl").exists()


def test_prune_in_the_file_is_reported_as_not_applying_to_tg(tmp_path, files):
    pruned = _settings(tmp_path, "p.s", synthetic.SETTINGS + "prune(true).\n")
    result = CliRunner().invoke(cli, ["tilde", "fit", "--kb", str(files["train"]), "--settings", str(pruned),
                                      "--bg", str(files["bg"]), "--out", str(tmp_path / "t.pl"), "--incremental",
                                      "--json"])
    assert result.exit_code == 0
    assert f"{pruned}: prune(true) does not apply to TG" in result.stderr
    assert json.loads(result.stdout)["nodes"] >= 1
