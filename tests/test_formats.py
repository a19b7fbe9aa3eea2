"""Standard instance formats: the importer gives exactly the shared benchmark scenarios,
and every malformed file gets one line naming the file, the line and the problem."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rrl.cli.main import cli
from rrl.dispatching import RULES, ActiveBuilder, dispatch
from rrl.domain import load_scenario, validate
from rrl.domain.formats import InstanceFormatError, read_instance
from tests.conftest import BENCHMARKS, benchmark_yamls


@pytest.mark.parametrize("name", benchmark_yamls(None))
def test_import_matches_the_shared_scenarios_exactly(name) -> None:
    reference = load_scenario(BENCHMARKS / name)
    raw = (BENCHMARKS / name).with_suffix(".fjs" if name.startswith("fjsp/") else ".jsp")
    imported = read_instance(raw)
    ref, got = reference.problem, imported.problem
    assert imported.name == reference.name
    assert got.durations == ref.durations  # exact, no rounding
    assert list(got.orders) == list(ref.orders)
    for oid, order in ref.orders.items():
        assert got.orders[oid] == order  # product, size, due, after
    assert got.plant.products == ref.plant.products
    assert dict(got.plant.resources) == dict(ref.plant.resources)
    assert not got.plant.cleanout or not any(got.plant.cleanout.values())


@pytest.mark.parametrize("name", benchmark_yamls(["mk01", "la01"]))
def test_cli_import_round_trip_and_rules_on_imported_files(name, tmp_path) -> None:
    raw = (BENCHMARKS / name).with_suffix(".fjs" if name.startswith("fjsp/") else ".jsp")
    out = tmp_path / "imported.yaml"
    result = CliRunner().invoke(cli, ["scenario", "import", str(raw), "--out", str(out), "--due-factor", "2"])
    assert result.exit_code == 0, result.output
    loaded = load_scenario(out)
    direct = read_instance(raw, due_factor=2.0)
    assert loaded.problem.durations == direct.problem.durations
    assert dict(loaded.problem.orders) == dict(direct.problem.orders)
    first = next(iter(direct.problem.orders.values()))
    assert first.due == 2.0 * min(direct.problem.durations[first.id].values())
    for rule in RULES:
        schedule = dispatch(loaded.problem, rule)
        assert validate(loaded.problem, schedule) == []


GOOD_FJS = "2 3 1.5\n2 1 1 4 2 2 3 3 5\n1 1 3 2\n"
GOOD_JSP = "# a comment\n2 2\n0 3 1 2\n1 4 0 1\n"

MALFORMED = [
    ("empty.fjs", "\n\n", None, "empty"),
    ("header.fjs", "two 3\n", 1, "number of jobs 'two' is not a whole number"),
    ("header.jsp", "2 2 7\n0 1 1 1\n0 1 1 1\n", 1, "expected 'jobs machines'"),
    ("zero_jobs.jsp", "0 2\n", 1, "number of jobs 0 is out of range"),
    ("machine_high.fjs", "1 3\n1 1 4 5\n", 2, "job 1, operation 1: machine 4 is out of range (1..3)"),
    ("machine_zero.fjs", "1 3\n1 1 0 5\n", 2, "machine 0 is out of range (1..3)"),
    ("machine_high.jsp", "1 2\n0 1 2 1\n", 2, "job 1, operation 2: machine 2 is out of range (0..1)"),
    ("zero_time.fjs", "1 2\n1 2 1 3 2 0\n", 2, "processing time 0 is out of range"),
    ("negative_time.jsp", "1 1\n0 -4\n", 2, "processing time -4 is out of range"),
    ("float_time.fjs", "1 2\n1 1 1 2.5\n", 2, "processing time '2.5' is not a whole number"),
    ("short.fjs", "1 2\n2 1 1 3 2\n", 2, "job 1, operation 2: the line ends where machine should be"),
    ("too_many_alternatives.fjs", "1 2\n1 3 1 1 2 2 1 1\n", 2, "number of machines 3 is out of range (1..2)"),
    ("extra.fjs", "1 2\n1 1 1 3 9 9\n", 2, "job 1: 2 unexpected numbers after the last operation"),
    ("twice.fjs", "1 2\n1 2 1 3 1 4\n", 2, "machine 1 is listed twice"),
    ("missing_job.fjs", "3 2\n1 1 1 3\n1 1 2 3\n", 3, "ends after 2 of the 3 jobs"),
    ("trailing.jsp", "1 1\n0 3\n0 3\n", 3, "unexpected content after the 1 jobs"),
    ("count.jsp", "1 2\n0 3 1\n", 2, "job 1: expected 2 pairs 'machine time' (4 numbers), found 3 numbers"),
    ("long.fjs", "1 3\n1 1 1 99999999999\n", 2, "processing time 99999999999 is out of range (1..1000000)"),
    # (each time within bounds, but a due date past them: the file rrl would write could not be read back)
    ("late.fjs", "1 1\n1 1 1 999999\n", 2, "job 1, operation 1: does not fit a scenario: orders[0].due: must be at most"),
    ("late2.jsp", "2 2\n0 1 1 1\n\n0 999999 1 999999\n", 4,
     "job 2, operation 1: does not fit a scenario: orders[2].due: must be at most"),
]


@pytest.mark.parametrize(("filename", "text", "line", "problem"), MALFORMED)
def test_malformed_files_get_one_line_naming_file_line_and_problem(filename, text, line, problem, tmp_path) -> None:
    path = tmp_path / filename
    path.write_text(text)
    with pytest.raises(InstanceFormatError) as caught:
        read_instance(path)
    assert caught.value.line == line
    assert problem in str(caught.value)
    out = tmp_path / "out.yaml"
    result = CliRunner().invoke(cli, ["scenario", "import", str(path), "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert lines == [f"rrl: error: {where}{caught.value.problem}"]
    assert not out.exists()  # nothing half-written


def test_format_choice_and_unreadable_files(tmp_path) -> None:
    good = tmp_path / "tiny.txt"
    good.write_text(GOOD_FJS)
    with pytest.raises(InstanceFormatError, match="unknown format 'txt'"):
        read_instance(good)
    scenario = read_instance(good, "fjs")
    assert scenario.problem.durations["J1O2"] == {"M2": 3.0, "M3": 5.0}
    assert scenario.problem.orders["J1O2"].after == ("J1O1",) and scenario.problem.orders["J1O2"].size == 15.0
    assert read_instance(_write(tmp_path / "tiny.jsp", GOOD_JSP)).problem.durations["J2O1"] == {"M1": 4.0}
    binary = _write(tmp_path / "binary.jsp", "")
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InstanceFormatError, match="not a text file"):
        read_instance(binary)
    with pytest.raises(InstanceFormatError, match="binary.fjs"):
        read_instance(tmp_path / "binary.fjs")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@st.composite
def fjs_texts(draw: st.DrawFn) -> str:
    machines = draw(st.integers(1, 5))
    jobs = draw(st.integers(1, 6))
    lines = [f"{jobs} {machines}"]
    for _ in range(jobs):
        ops = draw(st.integers(1, 5))
        cells = [str(ops)]
        for _ in range(ops):
            chosen = draw(st.lists(st.integers(1, machines), min_size=1, max_size=machines, unique=True))
            cells.append(str(len(chosen)))
            for m in chosen:
                cells += [str(m), str(draw(st.integers(1, 30)))]
        lines.append(" ".join(cells))
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None)
@given(text=fjs_texts(), seed=st.integers(0, 1000), scope=st.sampled_from(["active", "nondelay", "all"]))
def test_builder_on_imported_random_instances(text, seed, scope, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("fjs") / "random.fjs"
    path.write_text(text)
    problem = read_instance(path).problem
    builder = ActiveBuilder(problem)
    rng = random.Random(seed)
    while not builder.done:
        slots = builder.candidates(scope)
        assert slots
        builder.place(rng.choice(slots))
    schedule = builder.schedule()
    assert sorted(schedule.orders()) == sorted(problem.orders)
    assert validate(problem, schedule) == []


def test_the_unseen_families_script_writes_standard_fjs_and_references(tmp_path) -> None:
    from benchmarks.unseen_families import reference, standard_fjs

    # SchedulingLab's form: machines from 0, a two-number first line
    path = tmp_path / "x.fjs"
    path.write_text(standard_fjs("2 3\n2 1 0 5 2 1 4 2 7\n1 1 2 3\n", "x.txt"))
    assert path.read_text().splitlines()[0] == "2 3 1.33"
    durations = read_instance(path).problem.durations
    assert durations["J1O1"] == {"M1": 5.0} and durations["J1O2"] == {"M2": 4.0, "M3": 7.0}
    assert durations["J2O1"] == {"M3": 3.0}
    assert reference({"optimum": 609}) == {"best_known": 609}
    assert reference({"optimum": None, "bounds": {"upper": 571, "lower": 570}}) == {"best_known": 571,
                                                                                    "lower_bound": 570}
    # a malformed file: one line naming the file and its line (blank lines counted)
    with pytest.raises(SystemExit, match=r"^bad.txt:4: not a job line"):
        standard_fjs("2 2\n1 1 0 3\n\n1 1 x 4\n", "bad.txt")
    with pytest.raises(SystemExit, match=r"^bad.txt:2: 1 number after the job's last operation"):
        standard_fjs("1 2\n1 1 0 3 9\n", "bad.txt")
