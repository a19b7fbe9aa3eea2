"""Scenario files: round trips, and one clear line for every kind of bad file."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from rrl.cli.main import cli
from rrl.domain import load_scenario
from rrl.domain.scenario import Scenario
from tests.conftest import SCENARIOS

GOOD = {
    "name": "small",
    "products": ["A", "B"],
    "resources": [
        {"id": "r1", "kind": "extruder", "rates": {"A": 100.0, "B": 50.0}},
        {"id": "r2", "kind": "extruder", "rates": {"B": 80.0}, "downtime": [[5.0, 6.0]]},
    ],
    "cleanout": {"A": {"B": 0.5}},
    "orders": [
        {"id": "o1", "product": "A", "size": 100, "due": 2.0},
        {"id": "o2", "product": "B", "size": 160, "due": 4.0, "after": ["o1"]},
        {"id": "o3", "product": "B", "size": 80, "due": 3.0},
    ],
    "schedule": {"r1": ["o1"], "r2": ["o2", "o3"]},
}


def _mutated(change) -> dict:
    data = copy.deepcopy(GOOD)
    change(data)
    return data


BAD = [
    ("missing key", lambda d: d["orders"][1].pop("size"), "orders[1].size: missing key"),
    ("unknown product", lambda d: d["orders"][0].update(product="E"), "orders[0].product: 'E' is not a product"),
    ("negative size", lambda d: d["orders"][2].update(size=-5), "orders[2].size: must be > 0"),
    ("rate 0", lambda d: d["resources"][0]["rates"].update(A=0), "resources[0].rates.A: must be > 0"),
    ("duplicate order id", lambda d: d["orders"][2].update(id="o1"), "orders[2].id: duplicate order id 'o1'"),
    ("order scheduled twice", lambda d: d["schedule"]["r2"].append("o2"), "schedule.r2[2]: order 'o2' is scheduled twice"),
    ("order missing", lambda d: d["schedule"]["r2"].remove("o3"), "schedule: order 'o3' is missing"),
    ("not eligible", lambda d: d["schedule"].update(r1=[], r2=["o1", "o2", "o3"]), "schedule.r2[0]: order 'o1' (product A) cannot run on r2"),
    ("after unknown", lambda d: d["orders"][1].update(after=["zz"]), "orders[1].after[0]: 'zz' is not an order"),
    ("precedence cycle", lambda d: d["orders"][0].update(after=["o2"]), "precedence cycle"),
    ("sequence cycle", lambda d: d["schedule"].update(r1=["o1"], r2=["o3", "o2"]) or d["orders"][2].update(after=["o2"]), "cycle"),
    ("unknown key", lambda d: d.update(order=[]), "order: unknown key"),
    ("not a number", lambda d: d["orders"][0].update(due="soon"), "orders[0].due: expected a number"),
    ("bad window", lambda d: d["resources"][1].update(downtime=[[6, 5]]), "resources[1].downtime[0]: end 5 must be after start 6"),
    ("unknown resource in schedule", lambda d: d["schedule"].update(r9=[]), "schedule.r9: 'r9' is not a resource"),
    ("duplicate resource", lambda d: d["resources"][1].update(id="r1"), "resources[1].id: duplicate resource id"),
]


def test_good_file_round_trips(tmp_path) -> None:
    for suffix in (".yaml", ".json"):
        path = tmp_path / f"good{suffix}"
        path.write_text(json.dumps(GOOD) if suffix == ".json" else yaml.safe_dump(GOOD))
        scenario = load_scenario(path)
        again = tmp_path / f"again{suffix}"
        scenario.save(again)
        reloaded = load_scenario(again)
        assert reloaded.problem.orders == scenario.problem.orders
        assert reloaded.schedule == scenario.schedule
        assert reloaded.plan().times == scenario.plan().times


@pytest.mark.parametrize(("case", "change", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_gives_one_line(tmp_path, case, change, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_mutated(change)))
    result = CliRunner().invoke(cli, ["scenario", "validate", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("rrl: error: bad.yaml: ")
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_numbers_as_json_and_yaml_1_2_write_them_are_numbers(tmp_path) -> None:
    """1e3 and 1e-05 (what Python's json writes for 0.00001) are numbers in JSON and
    YAML 1.2; YAML 1.1's loader would read them as strings."""
    data = copy.deepcopy(GOOD)
    data["orders"][0]["size"] = 1000.0
    data["orders"][0]["release"] = 0.00001
    written = json.dumps(data)
    assert "1e-05" in written
    (tmp_path / "exp.json").write_text(written)
    (tmp_path / "exp.yaml").write_text(written.replace("1000.0", "1e3"))
    for name in ("exp.json", "exp.yaml"):
        order = load_scenario(tmp_path / name).problem.orders[data["orders"][0]["id"]]
        assert order.size == 1000.0 and order.release == 0.00001


@pytest.mark.parametrize(("name", "text", "where"), [
    ("twice.yaml", "products: [A]\nproducts: [B]\nresources: []\norders: []\n", "line 2"),
    ("rates.yaml", "products: [A]\nresources: [{id: r, rates: {A: 1, A: 2}}]\norders: []\n", "line 2"),
    ("twice.json", '{"products": ["A"], "resources": [], "orders": [], "orders": []}', ""),
])
def test_a_key_given_twice_is_an_error_not_an_overwrite(tmp_path, name, text, where) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = CliRunner().invoke(cli, ["scenario", "validate", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"rrl: error: {name}: {where}") and "given twice" in result.output, result.output


def test_merge_keys_may_override_and_what_save_writes_reads_back(tmp_path) -> None:
    """``<<: *base`` is no duplicate; an id that reads as a number is quoted when saved,
    and one typed bare gets a hint."""
    path = tmp_path / "merge.yaml"
    path.write_text("products: [A]\nresources:\n  - &base {id: r1, rates: {A: 1}}\n  - {<<: *base, id: r2}\n"
                    "orders: [{id: '1e5', product: A, size: 1, due: 1}]\nname: '2e3'\n")
    scenario = load_scenario(path)
    assert list(scenario.plant.resources) == ["r1", "r2"] and scenario.name == "2e3"
    again = tmp_path / "again.yaml"
    scenario.save(again)
    reread = load_scenario(again)
    assert list(reread.problem.orders) == ["1e5"] and reread.name == "2e3"
    path.write_text(path.read_text().replace("'1e5'", "1e5"))
    result = CliRunner().invoke(cli, ["scenario", "validate", str(path)])
    assert result.exit_code == 2 and "orders[0].id" in result.output and "quotes" in result.output


@pytest.mark.parametrize(("name", "text", "message"), [
    ("tag.yaml", "products: !!map foo\n", "expected a mapping node"),
    ("deep.json", "[" * 100_000, "nested too deeply"),
    ("digits.json", '{"products": ' + "9" * 5000 + "}", "unreadable number"),
])
def test_pathological_files_are_one_line_errors(tmp_path, name, text, message) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = CliRunner().invoke(cli, ["scenario", "validate", str(path)])
    assert result.exit_code == 2 and message in result.output, result.output  # (a traceback exits 1)


def test_a_json_file_may_start_with_a_byte_order_mark(tmp_path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode())
    assert load_scenario(path).problem.orders


def test_malformed_yaml_names_line(tmp_path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("products: [A, B\nresources: []\n")
    result = CliRunner().invoke(cli, ["schedule", "--scenario", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("rrl: error: broken.yaml: line ")


def test_user_error_in_a_real_process_has_no_traceback(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_mutated(lambda d: d["orders"][0].update(product="E"))))
    proc = subprocess.run([sys.executable, "-m", "rrl.cli.main", "schedule", "--scenario", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == "rrl: error: bad.yaml: orders[0].product: 'E' is not a product"


def test_shipped_scenarios_load() -> None:
    for path in SCENARIOS.glob("*.yaml"):
        scenario = load_scenario(path)
        assert isinstance(scenario, Scenario)
        assert scenario.problem.orders


def test_now_freezes_started_orders(tmp_path) -> None:
    data = copy.deepcopy(GOOD)
    data["now"] = 1.5  # o1 runs [0, 1) on r1; o2 waits for it and runs [1, 3) on r2; o3 [3, 4)
    path = tmp_path / "now.yaml"
    path.write_text(yaml.safe_dump(data))
    scenario = load_scenario(path)
    plan = scenario.plan()
    assert plan.times.start["o2"] == 1.0
    assert scenario.problem.frozen == {"o1": 0.0, "o2": 1.0}
