"""Bad input files: each gives one line naming the file and the line, through the API
and through the CLI (exit status 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rrl.cli.main import cli
from rrl.errors import SettingsError
from rrl.relational import read_kb, read_settings
from rrl.relational.engine import World

GOOD_S = "type(focal(task)).\ntype(task(task, res, pos, due)).\nroot((focal(T), task(T, R, P, D))).\nrmode(+D >= #).\n"
GOOD_KB = "begin(model(a)).\nfocal(t1).\ntask(t1, r1, 0, 5.0).\ntarget(1.0).\nend(model(a)).\n"

BAD_SETTINGS = [
    ("unknown directive", GOOD_S + "lookahead(task, 2).\n", 5, "unknown directive lookahead/2"),
    ("undeclared predicate", GOOD_S + "rmode(res_load(+R, -L)).\n", 5, "res_load/2, which has no type/1"),
    ("type clash in root", GOOD_S.replace("task(T, R, P, D)", "task(T, R, T, D)"), 3, "type clash: variable T"),
    ("type clash in rmode", GOOD_S + "type(load(res, due)).\nrmode((task(+T, -R, -P, -D), load(+P, -E))).\n", 6,
     "type clash: variable P"),
    ("syntax error", GOOD_S + "rmode(task(+T, -R -P, -D).\n", 5, "syntax error"),
    ("bad minimal_cases", GOOD_S + "minimal_cases(zero).\n", 5, "minimal_cases/1"),
    ("bad mode", GOOD_S + "rmode(task(+T, f(R), -P, -D)).\n", 5, "rmode argument"),
    # (a float that is not finite reaches Python as the text SWI-Prolog writes: no JSON error)
    ("infinite constant", GOOD_S + "rmode(+D >= 1.0Inf).\n", 5, "comparison >="),
]

BAD_KB = [
    ("unbalanced end", GOOD_KB + "end(model(a)).\n", 6, "does not close a block"),
    ("missing end", GOOD_KB + "begin(model(b)).\ntarget(2).\n", 6, "never closed"),
    ("nested begin", "begin(model(a)).\nbegin(model(b)).\n", 2, "missing end"),
    ("no target", "begin(model(a)).\nfocal(t1).\nend(model(a)).\n", 1, "0 target/1 facts"),
    ("two targets", "begin(model(a)).\ntarget(1).\ntarget(2).\nend(model(a)).\n", 1, "2 target/1 facts"),
    ("syntax error", GOOD_KB + "begin(model(b)).\ntask(t1, r1 0, 5.0).\n", 7, "syntax error"),
    ("fact outside", "focal(t1).\n" + GOOD_KB, 1, "outside a begin"),
    ("non-ground", "begin(model(a)).\nfocal(X).\ntarget(1).\nend(model(a)).\n", 2, "not ground"),
    ("infinite target", "begin(model(a)).\nfocal(t1).\ntarget(inf).\nend(model(a)).\n", 3, "target(inf) is not a finite"),
    ("nan target", "begin(model(a)).\ntarget(nan).\nend(model(a)).\n", 2, "target(nan) is not a finite"),
    ("infinity target", "begin(model(a)).\ntarget(infinity).\nend(model(a)).\n", 2, "not a finite"),
    ("id twice", GOOD_KB + GOOD_KB, 6, "model a is given twice (first at line 1)"),
]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("case", "text", "line", "message"), BAD_SETTINGS, ids=[c[0] for c in BAD_SETTINGS])
def test_bad_settings(tmp_path, case, text, line, message):
    path = _write(tmp_path, "bad.s", text)
    with pytest.raises(SettingsError) as info:
        read_settings(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("case", "text", "line", "message"), BAD_KB, ids=[c[0] for c in BAD_KB])
def test_bad_kb(tmp_path, case, text, line, message):
    path = _write(tmp_path, "bad.kb", text)
    with pytest.raises(SettingsError) as info:
        read_kb(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_background_syntax_error_names_line(tmp_path):
    path = _write(tmp_path, "bad.pl", "ok(1).\n\nbroken(X) :- ok(X.\nfine(2).\n")
    with pytest.raises(SettingsError) as info:
        World([path])
    assert str(info.value).startswith(f"{path}:3: syntax error")


def test_background_failing_directive_names_line(tmp_path):
    path = _write(tmp_path, "bad.pl", "ok(1).\n:- atom_length(1, 2, 3, 4).\n")
    with pytest.raises(SettingsError) as info:
        World([path])
    assert str(info.value).startswith(f"{path}:2: ")


def _cli_files(tmp_path: Path, settings: str = GOOD_S, kb: str = GOOD_KB, bg: str = "x(1).\n") -> list[str]:
    return ["--kb", str(_write(tmp_path, "d.kb", kb)), "--settings", str(_write(tmp_path, "d.s", settings)),
            "--bg", str(_write(tmp_path, "d.pl", bg))]


@pytest.mark.parametrize("which", ["settings", "kb", "bg"])
def test_cli_errors_are_one_line(tmp_path, which):
    bad = {"settings": {"settings": BAD_SETTINGS[0][1]}, "kb": {"kb": BAD_KB[3][1]},
           "bg": {"bg": "p(.\n"}}[which]
    out = tmp_path / "tree.pl"
    result = CliRunner().invoke(cli, ["tilde", "fit", *_cli_files(tmp_path, **bad), "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rrl: error: ") and ":" in lines[0]
    assert "Traceback" not in result.output and not out.exists()


def test_cli_subprocess_error_has_no_traceback(tmp_path):
    files = _cli_files(tmp_path, settings=BAD_SETTINGS[1][1])
    proc = subprocess.run([sys.executable, "-m", "rrl.cli.main", "tilde", "fit", *files, "--out",
                           str(tmp_path / "t.pl")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"rrl: error: {tmp_path / 'd.s'}:5: rmode uses res_load/2, which has no type/1 declaration"
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_predict_with_a_tree_that_is_not_prolog(tmp_path):
    tree = _write(tmp_path, "tree.pl", "predict(V) :- V is 1 +.\n")
    result = CliRunner().invoke(cli, ["tilde", "predict", "--tree", str(tree), "--kb",
                                      str(_write(tmp_path, "d.kb", GOOD_KB)), "--json"])
    assert result.exit_code == 2 and result.output.startswith(f"rrl: error: {tree}:1: syntax error")


def test_ace_style_bare_variable_links_to_an_earlier_argument(tmp_path):
    path = _write(tmp_path, "ace.s", GOOD_S + "type(load(res, due)).\ntype(due >= due).\n"
                  "rmode(2: (load(+R, -L), L >= #)).\nrmode((load(+R, -L), M >= #)).\n")
    with pytest.raises(SettingsError) as info:
        read_settings(path)
    assert str(info.value).startswith(f"{path}:8: variable M")
    path.write_text(path.read_text().replace("rmode((load(+R, -L), M >= #)).\n", ""))
    settings = read_settings(path)
    assert settings.rmodes[-1].limit == 2 and settings.rmodes[-1].literals[1].args[0].kind == "ref"


def test_shipped_repair_language_bias_reads():
    from rrl._paths import data_dir

    settings = read_settings(data_dir("background_knowledge") / "repair.s")
    assert settings.root and settings.rmodes
    World([data_dir("background_knowledge") / "repair.pl"])


@pytest.mark.parametrize("target", [float("inf"), float("nan"), "inf"])
def test_fit_rejects_non_finite_targets(tmp_path, target):
    from rrl.errors import RRLError
    from rrl.relational import Example, TildeRegressor
    from rrl.relational.tg import TGRegressor

    settings = _write(tmp_path, "d.s", GOOD_S)
    examples = [Example("a", ["focal(t1)", "task(t1, r1, 0, 5.0)"], 1.0),
                Example("b", ["focal(t1)", "task(t1, r1, 0, 5.0)"], target)]
    for model in (TildeRegressor(settings), TGRegressor(settings)):
        with pytest.raises(RRLError, match="example b: target .* is not a"):
            model.fit(examples)


def test_bad_fact_in_a_block_names_its_own_line(tmp_path):
    path = _write(tmp_path, "bad.kb", "begin(model(a)).\nfocal(t1).\n3.\ntarget(1.0).\nend(model(a)).\n")
    examples = read_kb(path)
    assert examples[0].fact_lines == [2, 3]
    with pytest.raises(SettingsError) as info:
        World().load(examples)
    assert str(info.value) == f"{path}:3: example a: example fact 3 is not an atom or a compound term"


def test_a_read_error_that_is_no_syntax_error_keeps_the_line(tmp_path):
    from rrl.relational.engine import run

    path = _write(tmp_path, "f.pl", "a.\nb.\nc.\n")
    answer = run(f"open('{path}', read, S), read(S, _), read(S, _), read(S, _), "
                 "rrl_safe:rrl_error_line(error(resource_error(memory), _), S, Line, _), close(S)")
    assert answer["Line"] == 3


def test_predict_with_a_tree_without_predict(tmp_path):
    tree = _write(tmp_path, "tree.pl", "value(1).\n")
    result = CliRunner().invoke(cli, ["tilde", "predict", "--tree", str(tree), "--kb",
                                      str(_write(tmp_path, "d.kb", GOOD_KB)), "--json"])
    assert result.exit_code == 2 and result.output == f"rrl: error: {tree}: defines no predict/1\n"


def test_rmode_variables_link_within_a_literal_and_after_a_comparison(tmp_path):
    path = _write(tmp_path, "link.s", GOOD_S + "type(same(task, task)).\ntype(late(due)).\n"
                  "rmode(same(-U, U)).\nrmode((+X >= #, late(X))).\n")
    settings = read_settings(path)
    assert [a.kind for a in settings.rmodes[-2].literals[0].args] == ["-", "ref"]
    path.write_text(path.read_text() + "rmode((late(-X), same(+X, -Y))).\n")
    with pytest.raises(SettingsError, match=f"{path}:9: type clash: variable X is used as due and as task"):
        read_settings(path)
