"""The HTTP API in process (FastAPI's test client): DESIGN section 11's endpoints, the
equality with ``rrl consult --json``, refusals that store nothing, and concurrent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rrl.cli.main import cli
from rrl.domain import validate
from rrl.domain.scenario import scenario_from_dict
from rrl.service.app import create_app
from rrl.storage import Store
from tests.conftest import SCENARIOS

EXTRUDERS = yaml.safe_load((SCENARIOS / "extruders.yaml").read_text())


_OPEN: list[Any] = []  # apps used without their lifespan: closed after each test


@pytest.fixture(autouse=True)
def _close_apps() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().state.close()  # the worker process, the writer thread, the connections


def _client(url: str, policy: Path | None = None) -> TestClient:
    Store(url).init()
    app = create_app(url, policy)
    _OPEN.append(app)
    return TestClient(app)


def _without_seconds(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("seconds", "version")}


def test_endpoints_and_consult_equality(db_url: str, policy_dir: Path, tmp_path: Path) -> None:
    client = _client(db_url, policy_dir)
    created = client.post("/api/scenarios", json=EXTRUDERS)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert created.json()["version"] == 1
    # A search that ends by its step limit or a node limit, not by the clock, is the same on
    # both sides.
    search = {"max_steps": 2, "budget_ms": 600_000.0}
    counted = {"node_limit": 8}
    events = [
        {"event": "rush_order", "seed": 4, **search},
        {"event": "rush_order", "product": "B", "size": 400.0, "due": 5.0, "seed": 1, "name_foci": False, **counted},
        {"event": "breakdown", "resource": "ext2", "at": 3.0, "duration": 4.0, **search},
        {"event": "material_delay", "seed": 2, "name_foci": True, **counted},
        {"event": "new_order", "product": "A", "size": 458.0, "due": 1.0, "now": 4.0, **search},
    ]
    runner = CliRunner()
    for k, body in enumerate(events, start=2):
        before = tmp_path / f"v{k - 1}.yaml"
        result = runner.invoke(cli, ["db", "export", "--db", db_url, str(sid), "--out", str(before)])
        assert result.exit_code == 0, result.output
        answer = client.post(f"/api/scenarios/{sid}/events", json=body)
        assert answer.status_code == 200, answer.text
        served = answer.json()
        assert served["version"] == k
        options = [f"--{name.replace('_', '-')}={value}" for name, value in body.items()
                   if name not in ("event", "seed", "name_foci")]
        printed = runner.invoke(cli, ["consult", "--policy", str(policy_dir), "--scenario", str(before),
                                      "--event", body["event"], "--seed", str(body.get("seed", 0)), *options,
                                      "--walkers", "1", "--json"])  # (one walk, as the service runs)
        assert printed.exit_code == 0, printed.output
        assert _without_seconds(served) == _without_seconds(json.loads(printed.output))
        # The stored version is the printed one: its scenario, event, metrics and steps.
        stored = client.get(f"/api/scenarios/{sid}/versions/{k}").json()
        assert {key: stored[key] for key in served["scenario"]} == served["scenario"]
        assert stored["event"] == served["event"]
        assert stored["metrics"] == served["repaired"]
        assert [{key: s[key] for key in ("operator", "focal", "other", "total_tardiness")} for s in stored["steps"]] \
            == served["steps"]
        assert all(s["rule"].count("predict(") >= 1 for s in stored["steps"])
        assert stored["repair"]["node_limit"] == body.get("node_limit")
        if "name_foci" in body:  # (else the service's choice: named unless a queue shortened the search)
            assert stored["repair"]["foci_named"] is body["name_foci"]
            assert body["name_foci"] or not any(s["meets"] for s in stored["steps"])
        assert stored["repair"]["focus_width"] == 2  # (the policy's: these plans are of training size)
    current = client.get(f"/api/scenarios/{sid}").json()
    assert current["version"] == len(events) + 1
    scenario = scenario_from_dict({k: current[k] for k in ("name", "products", "resources", "cleanout", "orders",
                                                           "schedule", "now") if k in current})
    assert validate(scenario.problem, scenario.schedule) == []
    assert len(current["plan"]) == len(EXTRUDERS["orders"]) + 3
    history = client.get(f"/api/scenarios/{sid}/versions").json()
    assert [h["version"] for h in history] == list(range(1, len(events) + 2))
    assert set(history[0]) == {"version", "event", "metrics", "created", "source"}
    metrics = client.get("/api/metrics").json()
    assert metrics["repairs_served"] == len(events)
    assert metrics["validator_rejections"] == 0
    assert metrics["latency_ms"]["event"]["count"] == len(events)
    assert metrics["latency_ms"]["event"]["p50"] > 0
    assert client.get("/docs").status_code == 200
    assert "/api/scenarios/{scenario_id}/events" in client.get("/openapi.json").json()["paths"]


BAD_EVENTS = [
    ({"event": "breakdown", "product": "A"}, 422, "product does not apply to breakdown"),
    ({"event": "rush_order", "resource": "ext1"}, 422, "resource does not apply to rush_order"),
    ({"event": "material_delay", "size": 3.0}, 422, "size does not apply to material_delay"),
    ({"event": "explode"}, 422, "event: Input should be"),
    ({"event": "rush_order", "size": "400"}, 422, "size: Input should be a valid number"),
    ({"event": "rush_order", "size": -1.0}, 422, "size: Input should be greater than 0"),
    ({"event": "rush_order", "size": 1e300}, 422, "size: Input should be less than or equal to 1000000"),
    ({"event": "breakdown", "duration": 1e12}, 422, "duration: Input should be less than or equal to 1000000"),
    ({"event": "rush_order", "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ({"event": "rush_order", "seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
    ({"event": "rush_order", "node_limit": 0}, 422, "node_limit: Input should be greater than or equal to 1"),
    ({"event": "rush_order", "name_foci": "yes"}, 422, "name_foci: Input should be a valid boolean"),
    ({"event": "rush_order", "product": "Z"}, 422, "'Z' is not a product"),
    ({"event": "breakdown", "resource": "ext9"}, 422, "'ext9' is not a resource"),
    ({"event": "material_delay", "order": "o1", "release": 0.0, "now": 0.0}, 422, "earlier than"),
    ({"event": "material_delay", "order": "nope"}, 422, "'nope' is not an order"),
    ({}, 422, "event: Field required"),
]


def test_bad_requests_get_one_line_and_store_nothing(policy_dir: Path, tmp_path: Path) -> None:
    client = _client(f"sqlite:///{tmp_path / 'x.db'}", policy_dir)
    sid = client.post("/api/scenarios", json=EXTRUDERS).json()["id"]
    client.post(f"/api/scenarios/{sid}/events", json={"event": "material_delay", "order": "o1", "release": 2.0})
    for body, status, message in BAD_EVENTS:
        answer = client.post(f"/api/scenarios/{sid}/events", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert set(answer.json()) == {"error"}
        assert message in answer.json()["error"], (body, answer.json())
        assert "\n" not in answer.json()["error"]
    answer = client.post(f"/api/scenarios/{sid}/events", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 422 and "not valid JSON" in answer.json()["error"]
    for path, message in ((f"/api/scenarios/{sid + 5}/events", "no scenario"),):
        answer = client.post(path, json={"event": "rush_order"})
        assert answer.status_code == 404 and message in answer.json()["error"]
    assert client.get(f"/api/scenarios/{sid + 5}").status_code == 404
    assert client.get(f"/api/scenarios/{sid}/versions/9").status_code == 404
    assert client.get("/api/scenarios/abc").status_code == 422
    bad_scenarios = [
        ({**EXTRUDERS, "orders": [*EXTRUDERS["orders"], {"id": "x", "product": "Q", "size": 1, "due": 1}]},
         "orders[15].product: 'Q' is not a product"),
        ({**EXTRUDERS, "orders": [*EXTRUDERS["orders"], {"id": "o1", "product": "A", "size": 1, "due": 1}]},
         "duplicate order id 'o1'"),
        ({**EXTRUDERS, "colour": 1}, "colour: Extra inputs are not permitted"),
        ({k: v for k, v in EXTRUDERS.items() if k != "orders"}, "orders: Field required"),
        ({**EXTRUDERS, "schedule": {"ext1": ["o1"]}}, "is missing from the schedule"),
    ]
    for body, message in bad_scenarios:
        answer = client.post("/api/scenarios", json=body)
        assert answer.status_code == 422, answer.text
        assert message in answer.json()["error"], answer.json()
    answer = client.post("/api/scenarios?rule=nope", json=EXTRUDERS)
    assert answer.status_code == 422 and "unknown rule 'nope'" in answer.json()["error"]
    # Only the first scenario and its one good event were stored.
    assert [s["id"] for s in client.get("/api/scenarios").json()] == [sid]
    assert [h["version"] for h in client.get(f"/api/scenarios/{sid}/versions").json()] == [1, 2]
    assert client.get("/api/metrics").json()["repairs_served"] == 1


def test_concurrent_events_make_sequential_versions(db_url: str) -> None:
    """24 events posted at once on one scenario: versions 2..25, each once, each valid,
    each built on the one before (no order lost or duplicated)."""
    store = Store(db_url)
    store.init()
    app = create_app(db_url)
    _OPEN.append(app)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            sid = (await client.post("/api/scenarios", json=EXTRUDERS)).json()["id"]
            kinds = ["rush_order", "new_order", "breakdown", "material_delay"]
            return await asyncio.gather(*[
                client.post(f"/api/scenarios/{sid}/events", json={"event": kinds[k % 4], "seed": k})
                for k in range(24)])

    answers = asyncio.run(burst())
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 26))
    history = store.versions(1)
    assert [h["version"] for h in history] == list(range(1, 26))
    added = 0
    previous = store.version(1, 1).scenario
    for number in range(2, 26):
        stored = store.version(1, number)
        scenario = stored.scenario
        assert validate(scenario.problem, scenario.schedule) == []
        assert set(previous.problem.orders) <= set(scenario.problem.orders)
        added += len(scenario.problem.orders) - len(previous.problem.orders)
        assert len(scenario.problem.orders) - len(previous.problem.orders) == \
            (1 if stored.event["type"] in ("new_order", "rush_order") else 0)
        previous = scenario
    assert added == 12


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["new_order", "rush_order", "breakdown", "material_delay"]),
                          st.integers(0, 50)), min_size=1, max_size=5))
def test_any_event_sequence_keeps_every_order_and_a_valid_plan(tmp_path_factory, events) -> None:
    client = _client(f"sqlite:///{tmp_path_factory.mktemp('h') / 'h.db'}")
    sid = client.post("/api/scenarios?rule=atcs", json=EXTRUDERS).json()["id"]
    seen = {o["id"]: o for o in EXTRUDERS["orders"]}
    for kind, seed in events:
        answer = client.post(f"/api/scenarios/{sid}/events", json={"event": kind, "seed": seed})
        if answer.status_code == 422:  # e.g. nothing left to delay: refused, nothing stored
            continue
        assert answer.status_code == 200, answer.text
        out = answer.json()
        orders = {o["id"]: o for o in out["scenario"]["orders"]}
        assert set(seen) <= set(orders)
        for oid, spec in seen.items():  # only the delayed order's release may change
            same = {k: v for k, v in spec.items() if k != "release"}
            assert {k: v for k, v in orders[oid].items() if k != "release"} == same
        assert out["repaired"]["total_tardiness"] <= out["disrupted"]["total_tardiness"] + 1e-9
        seen = orders
    current = client.get(f"/api/scenarios/{sid}").json()
    scenario = scenario_from_dict({k: current[k] for k in ("name", "products", "resources", "cleanout", "orders",
                                                           "schedule", "now") if k in current})
    assert validate(scenario.problem, scenario.schedule) == []


@pytest.mark.parametrize("rule", ["edd", "ppo"])
def test_rules_and_ppo_fallback_counted(rule: str, tmp_path: Path) -> None:
    pytest.importorskip("stable_baselines3") if rule == "ppo" else None
    client = _client(f"sqlite:///{tmp_path / 'r.db'}")
    answer = client.post(f"/api/scenarios?rule={rule}", json=EXTRUDERS)
    assert answer.status_code == 201, answer.text
    metrics = client.get("/api/metrics").json()
    assert metrics["ppo"]["schedules"] == (1 if rule == "ppo" else 0)
    versions = client.get("/api/scenarios/1/versions").json()
    assert versions[0]["source"] in ((rule,) if rule != "ppo" else ("ppo", "ppo-fallback"))
    assert metrics["ppo"]["fallback_rate"] == (1.0 if versions[0]["source"] == "ppo-fallback" else 0.0)


def test_page_assets_ship_in_the_package_and_load_nothing_from_elsewhere(tmp_path: Path) -> None:
    import re

    from rrl.service.app import STATIC

    client = _client(f"sqlite:///{tmp_path / 'p.db'}")
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and all(link.startswith("/") for link in links), links
    for link in links:
        if link.startswith("/static/"):
            assert client.get(link).status_code == 200
            assert (STATIC / link.removeprefix("/static/")).is_file()
    script = (STATIC / "app.js").read_text()
    assert re.findall(r"https?://[^\"' ]+", script) == ["http://www.w3.org/2000/svg"]  # a namespace, not a fetch
    assert "https://" not in (STATIC / "app.css").read_text()


def test_two_servers_on_one_database_repair_again_when_the_other_wrote_first(db_url: str) -> None:
    """Two apps (two workers, two writers) on one database, events alternating: each
    worker's latest plan goes stale when the other server writes; the version it
    computed loses in the database, and the event is repaired again from the stored
    version. Versions stay 1..n, each built on the one before, none lost."""
    Store(db_url).init()
    with TestClient(create_app(db_url)) as a, TestClient(create_app(db_url)) as b:
        sid = a.post("/api/scenarios", json=EXTRUDERS).json()["id"]
        made = []
        for k in range(6):
            answer = (a, b)[k % 2].post(f"/api/scenarios/{sid}/events", json={"event": "rush_order", "seed": k})
            assert answer.status_code == 200, answer.text
            made.append(answer.json()["version"])
        assert made == [2, 3, 4, 5, 6, 7]
        conflicts = a.get("/api/metrics").json()["version_conflicts"] + b.get("/api/metrics").json()["version_conflicts"]
        assert conflicts >= 4  # every event after the first two started from a stale plan
        assert a.get("/api/metrics").json()["repairs_served"] == 3
    store = Store(db_url)
    previous = store.version(sid, 1).scenario
    for number in range(2, 8):
        scenario = store.version(sid, number).scenario
        assert set(previous.problem.orders) < set(scenario.problem.orders)  # one more order, none lost
        assert len(scenario.problem.orders) == len(previous.problem.orders) + 1
        previous = scenario


def test_a_dead_worker_is_replaced(db_url: str) -> None:
    """SIGKILL of the repair worker: the event it held is refused (503, nothing stored),
    a new worker takes over, and the next event is repaired from the stored plan."""
    import os
    import signal
    import time

    Store(db_url).init()
    with TestClient(create_app(db_url)) as client:
        sid = client.post("/api/scenarios", json=EXTRUDERS).json()["id"]
        assert client.post(f"/api/scenarios/{sid}/events", json={"event": "rush_order", "seed": 1}).status_code == 200
        first = client.get("/api/metrics").json()["worker"]
        assert first == {"pid": first["pid"], "restarts": 0} and first["pid"] != os.getpid()
        os.kill(first["pid"], signal.SIGKILL)
        time.sleep(0.2)
        lost = client.post(f"/api/scenarios/{sid}/events", json={"event": "rush_order", "seed": 2})
        assert lost.status_code == 503 and "restarted" in lost.json()["error"], lost.text
        again = client.post(f"/api/scenarios/{sid}/events", json={"event": "rush_order", "seed": 3})
        assert again.status_code == 200, again.text
        assert again.json()["version"] == 3
        now = client.get("/api/metrics").json()["worker"]
        assert now["restarts"] == 1 and now["pid"] != first["pid"]
    assert [h["version"] for h in Store(db_url).versions(sid)] == [1, 2, 3]


def test_a_repair_built_on_an_unstored_plan_is_never_stored(db_url: str) -> None:
    """A worker repairs ahead of the writes: A from version 1, then B from A. Another
    server stores X as version 2 first, so A loses. B says it starts from version 2, as
    X is: the database alone would take it and lose X's order. The writer refuses it."""
    from rrl.service.core import RepairService
    from rrl.service.writer import Writer
    from rrl.storage import VersionConflict

    Store(db_url).init()
    ours, theirs = RepairService(Store(db_url)), RepairService(Store(db_url))
    sid = ours.create_scenario(dict(EXTRUDERS)).scenario_id
    a = ours.repair_event(sid, "rush_order", {"product": "A"}, seed=1)
    b = ours.repair_event(sid, "rush_order", {"product": "A"}, seed=2)
    assert (a.based_on, b.based_on, b.parent) == (1, 2, a.key)
    x, _ = theirs.apply_event(sid, "new_order", {"product": "B", "size": 300.0, "due": 9.0}, seed=3)
    assert x["version"] == 2
    writer = Writer(Store(db_url))
    for repaired in (a, b):
        with pytest.raises(VersionConflict):
            writer(repaired)
    store = Store(db_url)
    assert [h["version"] for h in store.versions(sid)] == [1, 2]
    assert store.version(sid, 2).scenario.to_dict() == x["scenario"]
    ours.forget(sid)  # what the server does after a refusal, then it repairs again from the database
    c = ours.repair_event(sid, "rush_order", {}, seed=4, fresh=True)
    assert (c.based_on, c.parent) == (2, None)
    assert writer(c)[1].version == 3


def test_queued_events_get_a_share_of_the_latency_target(tmp_path: Path) -> None:
    import time

    from rrl.service.core import MIN_BUDGET_MS, RepairService, default_budget_ms

    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    store.init()
    service = RepairService(store, latency_ms=150.0)
    assert service.agent.walkers == 1  # (the server and the worker take both cores under a burst)
    now = time.perf_counter()
    assert service.budget_for(None, 10, 20) is None  # no deadline: the library's default
    assert service.budget_for(now + 10.0, 0, 20) is None  # time enough: the default too
    alone = service.budget_for(now + 0.030, 0, 20)
    assert alone is not None and alone < default_budget_ms(20)
    queued = service.budget_for(now + 0.150, 49, 20)
    assert queued is not None and MIN_BUDGET_MS <= queued < alone
    assert service.budget_for(now - 1.0, 3, 20) == MIN_BUDGET_MS  # late already: the least search
    assert RepairService(store, latency_ms=0).budget_for(now + 0.01, 49, 20) is None


def test_a_search_stops_once_a_queue_forms_behind_it(tmp_path: Path) -> None:
    """The first event of a burst finds no queue and starts with the library's default
    budget; once the rest have queued behind it, its search stops at its share of them."""
    import time

    from rrl.bounds import MAX_BUDGET_MS
    from rrl.service.core import RepairService

    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    store.init()
    asked: list[int] = []

    def queue() -> int:  # alone when it starts, 50 waiting from its first look on
        asked.append(1)
        return 1 if len(asked) == 1 else 50

    explored = {}
    for name, service in (("alone", RepairService(store)), ("queued", RepairService(store, queue=queue))):
        sid = service.create_scenario(dict(EXTRUDERS)).scenario_id
        out, stored = service.apply_event(sid, "rush_order", {}, seed=3, deadline=time.perf_counter() + 0.150)
        assert stored.repair is not None and stored.repair["budget_ms"] is None  # the default, both times
        assert stored.repair["queued_behind"] == 0
        # (the queue that formed spent the event's share: its steps go unnamed)
        assert stored.repair["foci_named"] is (name == "alone")
        explored[name] = stored.repair["explored"]
    assert len(asked) > 1  # asked again as the search went
    assert explored["queued"] < explored["alone"], explored
    # An event that started long ago, late, behind a long queue: its search still makes
    # its first expansion (the time spent counts from the search's first look).
    began = time.perf_counter() - 10.0
    spent = RepairService(store, queue=lambda: 50)._stopper(began + 0.150, 20, began)
    assert spent is not None and spent() is False
    time.sleep(0.005)
    assert spent() is True  # then the least search, 1 ms, is soon spent
    # A node limit is the client's own bound: neither a queue nor a deadline long past
    # shortens it, and the repair is the one it gets alone.
    counted = {}
    for name, service in (("alone", RepairService(store)), ("queued", RepairService(store, queue=lambda: 50))):
        sid = service.create_scenario(dict(EXTRUDERS)).scenario_id
        out, stored = service.apply_event(sid, "rush_order", {}, seed=3, node_limit=30, deadline=began + 0.150)
        assert stored.repair is not None and stored.repair["node_limit"] == 30
        assert stored.repair["budget_ms"] == MAX_BUDGET_MS  # (the clock's ceiling: the count ends it)
        counted[name] = (stored.repair["explored"], out["repaired"], out["steps"])
    assert counted["queued"] == counted["alone"] and counted["alone"][0] == 30


def test_stored_walk_steps_name_the_focus_rules_their_orders_meet(tmp_path: Path) -> None:
    """By default the stored steps of a walk name the focus rule their order meets, as
    ``rrl consult`` prints them; not when the queue shortened the search (unless the
    event asks), nor when the event says no. Naming never changes the repair."""
    import time

    from rrl.learning.recreate import RECREATE_RULE
    from rrl.learning.search import CHAIN_RULES
    from rrl.service.core import RepairService

    store = Store(f"sqlite:///{tmp_path / 'named.db'}")
    store.init()
    repairs = {}
    for asked in (None, False):  # (a node limit: the same search both times)
        service = RepairService(store)
        sid = service.create_scenario(dict(EXTRUDERS)).scenario_id
        out, stored = service.apply_event(sid, "rush_order", {}, seed=1, node_limit=20, name_foci=asked)
        assert stored.repair is not None and stored.steps is not None
        assert stored.repair["foci_named"] is (asked is None)
        assert any(s["focus_rule"] == RECREATE_RULE for s in stored.steps), "the case should be repaired by a walk"
        chained = [s for s in stored.steps if s["focus_reason"] in CHAIN_RULES]  # (a walk's, block's, exchange's)
        if asked is None:
            assert all(s["meets"] for s in chained)  # (this case's walk moves late orders and theirs)
            assert all(s["meets_rule"].startswith(f"focus_candidate({s['meets']},") for s in chained)
        assert not any(s["meets"] or s["meets_rule"] for s in stored.steps if asked is False or s not in chained)
        repairs[asked] = out["steps"], [{k: v for k, v in s.items() if not k.startswith("meets")}
                                        for s in stored.steps]
    assert repairs[None] == repairs[False]
    # A queue that stays empty: the steps are named once the search has ended (a deadline
    # far enough that a loaded machine's search leaves the event's share unspent).
    service = RepairService(store, queue=lambda: 1)
    sid = service.create_scenario(dict(EXTRUDERS)).scenario_id
    _, stored = service.apply_event(sid, "rush_order", {}, seed=1, deadline=time.perf_counter() + 1.0)
    assert stored.repair is not None and stored.repair["budget_ms"] is None
    assert stored.repair["foci_named"] is True
    # A burst: the queue shortens the search, and the steps go unnamed unless the event asks.
    for asked in (None, True):
        service = RepairService(store, queue=lambda: 50)
        sid = service.create_scenario(dict(EXTRUDERS)).scenario_id
        out, stored = service.apply_event(sid, "rush_order", {}, seed=1, name_foci=asked,
                                          deadline=time.perf_counter() + 0.150)
        assert stored.repair is not None and stored.steps is not None
        assert stored.repair["budget_ms"] is not None  # (shortened)
        assert stored.repair["foci_named"] is (asked is True)
        if asked is None:
            assert not any(s["meets"] for s in stored.steps)


def test_two_services_on_one_database_take_turns_without_losing_a_version(db_url: str) -> None:
    """Two server processes' worth of services: each one's remembered plan goes stale when
    the other writes; the database's guard makes it repair again from the new version."""
    from rrl.service.core import RepairService

    first, second = Store(db_url), Store(db_url)
    first.init()
    a, b = RepairService(first), RepairService(second)
    sid = a.create_scenario(dict(EXTRUDERS)).scenario_id
    made = []
    for k in range(6):
        service = (a, b)[k % 2]
        out, stored = service.apply_event(sid, "rush_order", {}, seed=k)
        made.append(out["version"])
        assert stored.scenario.to_dict() == out["scenario"]
    assert made == [2, 3, 4, 5, 6, 7]
    assert a.counters.version_conflicts + b.counters.version_conflicts >= 4
    history = Store(db_url).versions(sid)
    assert [h["version"] for h in history] == list(range(1, 8))
    orders = [len(Store(db_url).version(sid, v).scenario.problem.orders) for v in range(1, 8)]
    assert orders == list(range(len(EXTRUDERS["orders"]), len(EXTRUDERS["orders"]) + 7))


def test_a_worker_whose_start_was_refused_tries_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restarted worker whose start was refused (the database was down, say) does not
    refuse every call from then on: each call tries the start again."""
    from rrl.service import worker

    url = f"sqlite:///{tmp_path / 'later.db'}"
    monkeypatch.setattr(worker, "_service", None)
    monkeypatch.setattr(worker, "_die_with_parent", lambda: None)  # this is the test process
    assert worker._start(url, str(tmp_path / "no-policy-yet"), 150.0, 1.0)[0] == "refused"
    kind, (status, message) = worker._run("metrics", (), {})
    assert (kind, status) == ("refused", 503) and "cannot start" in message and "no-policy-yet" in message
    monkeypatch.setattr(worker, "_settings", (url, None, 150.0, 1.0))  # the cause is gone
    kind, answer = worker._run("metrics", (), {})
    assert kind == "ok" and answer["repairs_served"] == 0
