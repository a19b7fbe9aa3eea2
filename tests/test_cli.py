"""The CLI: help texts, JSON contract, generate and validate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from rrl.cli.main import cli
from rrl.domain import load_scenario, validate
from tests.conftest import SCENARIOS


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for args in (["--help"], ["schedule", "--help"], ["scenario", "--help"], ["scenario", "generate", "--help"],
                 ["scenario", "validate", "--help"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0
        assert "Usage:" in result.output


def test_a_command_group_alone_prints_its_help() -> None:
    for args in ([], ["tilde"], ["policy"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and result.output.startswith("Usage: "), result.output
        assert "error" not in result.output.splitlines()[0]


def test_a_reader_that_leaves_early_gets_no_error() -> None:
    """``rrl ... | head``: the closed pipe is not a user error (here the reader has left
    before the first line)."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "rrl.cli.main", "schedule", "--scenario",
                               str(SCENARIOS / "extruders.yaml")], stdout=write, stderr=subprocess.PIPE, text=True,
                              timeout=120, check=False)
    finally:
        os.close(write)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_schedule_json_is_one_object_and_validates(tmp_path) -> None:
    gantt = tmp_path / "g.png"
    result = CliRunner().invoke(cli, ["schedule", "--scenario", str(SCENARIOS / "extruders.yaml"),
                                      "--rule", "atcs", "--json", "--gantt", str(gantt)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"metrics", "schedule"}
    assert {"total_tardiness", "weighted_tardiness", "max_tardiness", "avg_tardiness", "tardy_orders",
            "makespan", "total_cleanout", "load", "tardiness"} <= set(data["metrics"])
    assert abs(sum(r["tardiness"] for r in data["schedule"]) - data["metrics"]["total_tardiness"]) < 1e-6
    assert gantt.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generate_then_validate_at_seed_scale(tmp_path) -> None:
    out = tmp_path / "big.yaml"
    runner = CliRunner()
    result = runner.invoke(cli, ["scenario", "generate", "--machines", "152", "--types", "42", "--orders", "500",
                                 "--family-steps", "5", "--breaks", "--rule", "edd", "--out", str(out)])
    assert result.exit_code == 0, result.output
    scenario = load_scenario(out)
    assert len(scenario.plant.resources) == 152
    assert len({r.kind for r in scenario.plant.resources.values()}) == 42
    assert len(scenario.problem.orders) == 500
    assert any(o.after for o in scenario.problem.orders.values())
    assert validate(scenario.problem, scenario.schedule) == []
    result = runner.invoke(cli, ["scenario", "validate", str(out), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["valid"] is True


def test_bad_flag_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["schedule", "--scenario", str(SCENARIOS / "extruders.yaml"), "--rule", "fifo_lifo"])
    assert result.exit_code == 2
    assert "Invalid value for '--rule'" in result.output


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rrl: error: ") or "Error: " in result.output, result.output
    assert "Traceback" not in result.output
    return result.output


def test_bad_output_paths_and_values_give_one_line(tmp_path) -> None:
    runner = CliRunner()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    extruders = str(SCENARIOS / "extruders.yaml")
    out = _one_line_error(runner.invoke(cli, ["schedule", "--scenario", extruders, "--gantt", str(tmp_path / "g.txt")]))
    assert "--gantt" in out
    out = _one_line_error(runner.invoke(cli, ["scenario", "generate", "--out", str(blocker / "x.yaml")]))
    assert "file" in out
    out = _one_line_error(runner.invoke(cli, ["train", "--goal", "tardiness", "--scenario", extruders,
                                              "--episodes", "500", "--out", str(blocker)]))
    assert "is a file" in out
    out = _one_line_error(runner.invoke(cli, ["consult", "--policy", str(tmp_path), "--scenario", extruders,
                                              "--event", "new_order", "--size", "nan"]))
    assert "finite" in out
    out = _one_line_error(runner.invoke(cli, ["consult", "--policy", str(tmp_path), "--scenario", extruders,
                                              "--event", "breakdown", "--product", "A"]))
    assert "--product does not apply to breakdown" in out


def test_huge_number_in_a_scenario_is_a_user_error(tmp_path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("products: [A]\nresources: [{id: r, rates: {A: 1}}]\norders: [{id: o, product: A, size: "
                    + "9" * 400 + ", due: 1}]\n")
    out = _one_line_error(CliRunner().invoke(cli, ["scenario", "validate", str(path)]))
    assert "orders[0].size" in out
