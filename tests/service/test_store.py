"""The plan database on SQLite and on a real MariaDB server: round trips, the version
guard, refusals, and ``rrl db init|import|export``."""

from __future__ import annotations

import threading

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from rrl.cli.main import cli
from rrl.domain import load_scenario, validate
from rrl.domain.scenario import scenario_from_dict
from rrl.learning.consult import consult, consult_json, plan_of, search_agent
from rrl.storage import NotFound, Store, StoreError, VersionConflict
from rrl.storage.schema import orders, plan_entries, plan_versions, plants
from tests.conftest import SCENARIOS


def _stored_after(store: Store, sid: int, based_on: int, scenario, event: str, seed: int, **given):
    result = consult(search_agent(), scenario, event, seed=seed, **given)
    out = consult_json(result, scenario.name)
    after = scenario_from_dict(out["scenario"], "test")
    return store.append(sid, based_on, after, event=out["event"], repair={"seed": seed},
                        steps=[s.to_dict() for s in result.steps]), out


def _count(url: str, table) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return int(n)


def test_versions_round_trip_exactly(db_url: str) -> None:
    store = Store(db_url)
    store.init()
    scenario = load_scenario(SCENARIOS / "extruders.yaml")
    plan = plan_of(scenario)
    first = store.create(scenario.with_schedule(plan.schedule), source="edd")
    assert (first.version, first.source) == (1, "edd")
    current = first
    given = {"breakdown": {"resource": "ext3", "at": 6.0, "duration": 3.0}}
    for k, event in enumerate(["rush_order", "breakdown", "material_delay", "new_order"]):
        current, out = _stored_after(store, first.scenario_id, current.version, current.scenario, event, seed=k,
                                     **given.get(event, {}))
        assert current.version == k + 2
    # A second Store (a new process) reads what the first one wrote, equal to the printed scenario.
    reader = Store(db_url)
    back = reader.current(first.scenario_id)
    assert back.version == 5
    assert back.scenario.to_dict() == out["scenario"]
    assert back.event == out["event"]
    assert back.metrics == out["repaired"]
    assert validate(back.scenario.problem, back.scenario.schedule) == []
    assert reader.version(first.scenario_id, 1).scenario.to_dict() == scenario.with_schedule(plan.schedule).to_dict()
    history = reader.versions(first.scenario_id)
    assert [h["version"] for h in history] == [1, 2, 3, 4, 5]
    assert [h["event"]["type"] if h["event"] else None for h in history] == \
        [None, "rush_order", "breakdown", "material_delay", "new_order"]
    # The breakdown made a second plant; unchanged orders share their rows across versions.
    assert history[2]["event"]["window"] is not None
    assert _count(db_url, plants) == 2
    assert _count(db_url, orders) < 5 * len(scenario.problem.orders)


def test_a_stale_version_is_refused_and_nothing_written(db_url: str) -> None:
    store = Store(db_url)
    store.init()
    scenario = load_scenario(SCENARIOS / "extruders.yaml")
    first = store.create(scenario.with_schedule(plan_of(scenario).schedule))
    second, _ = _stored_after(store, first.scenario_id, 1, first.scenario, "rush_order", seed=1)
    rows = _count(db_url, plan_versions), _count(db_url, plan_entries), _count(db_url, orders)
    with pytest.raises(VersionConflict):
        _stored_after(store, first.scenario_id, 1, first.scenario, "rush_order", seed=2)
    # Another process that remembers nothing is refused as well.
    with pytest.raises(VersionConflict):
        _stored_after(Store(db_url), first.scenario_id, 1, first.scenario, "rush_order", seed=2)
    assert (_count(db_url, plan_versions), _count(db_url, plan_entries), _count(db_url, orders)) == rows
    assert Store(db_url).current(first.scenario_id).version == second.version == 2


def test_racing_writers_store_each_version_once(db_url: str) -> None:
    """Two stores (as two server processes) append from the same version at once: one wins."""
    setup = Store(db_url)
    setup.init()
    scenario = load_scenario(SCENARIOS / "extruders.yaml")
    first = setup.create(scenario.with_schedule(plan_of(scenario).schedule))
    writers = [Store(db_url), Store(db_url)]
    prepared = []
    for seed, _ in enumerate(writers):
        result = consult(search_agent(), first.scenario, "rush_order", seed=seed)
        out = consult_json(result, scenario.name)
        prepared.append((scenario_from_dict(out["scenario"], "t"), out))
    outcomes: list[object] = [None, None]
    barrier = threading.Barrier(2)

    def write(k: int) -> None:
        barrier.wait()
        try:
            outcomes[k] = writers[k].append(first.scenario_id, 1, prepared[k][0], event=prepared[k][1]["event"],
                                            repair={}, steps=[]).version
        except VersionConflict as error:
            outcomes[k] = error

    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(o).__name__ for o in outcomes) == ["VersionConflict", "int"]
    assert [h["version"] for h in Store(db_url).versions(first.scenario_id)] == [1, 2]


def test_refusals(db_url: str) -> None:
    store = Store(db_url)
    store.init()
    scenario = load_scenario(SCENARIOS / "extruders.yaml")
    with pytest.raises(StoreError, match="no schedule"):
        store.create(scenario.with_schedule(None))
    # A plan the validator rejects (an order on a resource that cannot run it) is never stored.
    plan = plan_of(scenario)
    d_order = next(o for o in plan.schedule.orders() if scenario.problem.orders[o].product == "D")
    where = plan.schedule.resource_of(d_order)
    wrong = plan.schedule.replace({where: [o for o in plan.schedule.sequence(where) if o != d_order],
                                   "ext1": [*plan.schedule.sequence("ext1"), d_order]})
    with pytest.raises(StoreError, match="invalid plan"):
        store.create(scenario.with_schedule(wrong))
    assert store.scenarios() == []
    with pytest.raises(NotFound):
        store.current(99)
    with pytest.raises(NotFound):
        store.versions(99)
    stored = store.create(scenario.with_schedule(plan.schedule))
    with pytest.raises(NotFound):
        store.version(stored.scenario_id, 7)


def test_missing_tables_and_bad_urls_are_one_line() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        Store("not a url")
    with pytest.raises(StoreError, match="no driver"):
        Store("postgresql+nosuchdriver://x/y")


def test_db_commands_import_export(db_url: str, tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "init", "--db", db_url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["db", "import", "--db", db_url, str(SCENARIOS / "extruders.yaml"), "--rule", "atcs"])
    assert result.exit_code == 0, result.output
    sid = int(result.output.strip())
    out = tmp_path / "back.yaml"
    result = runner.invoke(cli, ["db", "export", "--db", db_url, str(sid), "--out", str(out)])
    assert result.exit_code == 0, result.output
    back = load_scenario(out)
    original = load_scenario(SCENARIOS / "extruders.yaml")
    assert back.problem.orders == original.problem.orders
    assert back.schedule == plan_of(original, "atcs").schedule
    result = runner.invoke(cli, ["db", "list", "--db", db_url, "--json"])
    assert yaml.safe_load(result.output)["scenarios"][0]["id"] == sid
    result = runner.invoke(cli, ["db", "export", "--db", db_url, "42", "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.strip() == "rrl: error: no scenario 42"


def test_missing_tables_named(tmp_path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")  # (SQLite reads an empty file as a database without tables)
    result = CliRunner().invoke(cli, ["db", "list", "--db", f"sqlite:///{empty}"])
    assert result.exit_code == 2
    assert "tables are missing (run: rrl db init" in result.output
    assert "Traceback" not in result.output


def test_a_read_of_a_missing_database_file_creates_none(tmp_path) -> None:
    """SQLite would create the file: a mistyped --db would leave one behind."""
    missing = tmp_path / "typo.db"
    for args in (["db", "list"], ["db", "export", "1", "--out", str(tmp_path / "x.yaml")]):
        result = CliRunner().invoke(cli, [*args, "--db", f"sqlite:///{missing}"])
        assert result.exit_code == 2 and "no such database file" in result.output, result.output
        assert not missing.exists() and not (tmp_path / "x.yaml").exists()
    assert CliRunner().invoke(cli, ["db", "init", "--db", f"sqlite:///{missing}"]).exit_code == 0
    assert missing.exists()
