"""The repair service under a burst: 50 rush orders posted at once on one scenario of 20
orders, against a real ``rrl serve`` process (uvicorn, SQLite file) on this machine.

Figures per round: latency of each request (from sending it to its answer) p50 / p95 /
max, throughput (events per second over the burst), the server's own split between the
repair and the rest (HTTP, validation, database), and the repair quality (total
tardiness after the event and after the repair). Baselines in the same run:

- ``sequential``: the same 50 events posted one after the other (no queue): the cost of
  one event through HTTP and the database (with no queue the service names the focus
  rules a walk's steps meet: a few ms after the search);
- ``unnamed``: as ``sequential``, each event with ``"name_foci": false``: what naming costs;
- ``library``: the same 50 repairs through :func:`rrl.learning.consult.consult` in this
  process, without HTTP or database.

Every round checks that versions 2..51 were stored once each, in order, all valid.

Run: python benchmarks/bench_service.py [--rounds 3] [--episodes 200] [--policy DIR] [--no-policy]
         [--latency-ms 150] [--min-budget-ms 0.5] [--library-budget-ms B]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from rrl.dispatching import dispatch
from rrl.domain import Plan, load_scenario
from rrl.domain.generate import random_orders
from rrl.domain.scenario import Scenario, printed_and_read, scenario_from_dict
from rrl.domain.validator import validate
from rrl.learning import RepairAgent
from rrl.learning.consult import consult, consult_json, search_agent
from rrl.service import LATENCY_MS, MIN_BUDGET_MS
from rrl.storage import Store

EVENTS = 50
ORDERS = 20


def scenario_of_20(seed: int) -> dict[str, Any]:
    """20 random orders on the extruder plant, with their EDD plan (file format)."""
    plant = load_scenario("scenarios/extruders.yaml").plant
    from rrl.domain.problem import Problem

    orders = random_orders(plant, ORDERS, random.Random(seed))
    problem = Problem(plant, {o.id: o for o in orders})
    plan = Plan.build(problem, dispatch(problem, "edd"))
    return Scenario(f"burst{seed}", problem, plan.schedule).to_dict()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


class Server:
    def __init__(self, url: str, policy: Path | None, log: Path, latency_ms: float, min_budget_ms: float) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        extra = (["--policy", str(policy)] if policy else []) + ["--latency-ms", str(latency_ms),
                                                                  "--min-budget-ms", str(min_budget_ms)]
        self.log = log.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "rrl.cli.main", "serve", "--db", url, "--port",
                                         str(self.port), *extra], stdout=self.log, stderr=self.log)
        for _ in range(600):
            try:
                if httpx.get(self.base + "/api/metrics", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"rrl serve did not start; see {log}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class Connection:
    """A bare HTTP/1.1 keep-alive connection (asyncio streams): a client much lighter than
    a full HTTP library, so that on a 2-core machine it takes little CPU from the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, f"{host}:{port}")

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        """Send one request; its status and raw body (parsed by the caller after the burst,
        so that the client's JSON work does not take CPU from the server under test)."""
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def burst(base: str, sid: int, seeds: list[int]) -> tuple[list[float], list[dict[str, Any]], float, float]:
    """Latencies (ms), answers and wall time (s) of the events posted at once, and the
    client's own CPU time per event (ms) while they were in flight."""
    # Open the connections first, so the burst measures requests, not TCP handshakes.
    connections = [await Connection.open(base) for _ in seeds]

    async def one(connection: Connection, seed: int) -> tuple[float, int, bytes]:
        began = time.perf_counter()
        status, out = await connection.post(f"/api/scenarios/{sid}/events", {"event": "rush_order", "seed": seed})
        return (time.perf_counter() - began) * 1000, status, out

    began, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*[one(c, s) for c, s in zip(connections, seeds, strict=True)])
    wall, cpu = time.perf_counter() - began, (time.process_time() - cpu) * 1000.0 / len(seeds)
    for connection in connections:
        await connection.close()
    for _, status, out in results:
        if status != 200:
            raise SystemExit(f"event refused: {status} {out.decode(errors='replace')}")
    return [r[0] for r in results], [json.loads(r[2]) for r in results], wall, cpu


def sequential(base: str, sid: int, seeds: list[int],
               extra: dict[str, Any] | None = None) -> tuple[list[float], list[dict[str, Any]], float]:
    latencies, outs = [], []
    with httpx.Client(base_url=base, timeout=120) as client:
        began = time.perf_counter()
        for seed in seeds:
            start = time.perf_counter()
            answer = client.post(f"/api/scenarios/{sid}/events",
                                 json={"event": "rush_order", "seed": seed, **(extra or {})})
            answer.raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
            outs.append(answer.json())
        wall = time.perf_counter() - began
    return latencies, outs, wall


STAGES = ("repair", "validate", "print", "store")


def library(agent: RepairAgent, data: dict[str, Any], seeds: list[int], url: str,
            budget_ms: float | None) -> tuple[list[float], float, dict[str, float]]:
    """The service's work for each event, in this process, stage by stage (no HTTP)."""
    store = Store(url)
    store.init()
    stored = store.create(scenario_from_dict(data))
    scenario = stored.scenario
    times = []
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    began = time.perf_counter()
    for seed in seeds:
        t0 = time.perf_counter()
        result = consult(agent, scenario, "rush_order", seed=seed, budget_ms=budget_ms)
        t1 = time.perf_counter()
        assert not validate(result.plan.problem, result.plan.schedule, result.plan.times,
                            reference=(result.before.schedule, result.before.times))
        t2 = time.perf_counter()
        # as the service's worker does: the printed scenario, and the next event's, timed
        printed, scenario = printed_and_read(result.plan, scenario.name)
        out = consult_json(result, scenario.name, printed)
        scenario.plan()
        t3 = time.perf_counter()
        stored = store.append(stored.scenario_id, stored.version, scenario, event=out["event"], repair={},
                              steps=[])
        t4 = time.perf_counter()
        for name, a, b in zip(STAGES, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
            stages[name].append((b - a) * 1000)
        times.append((t4 - t0) * 1000)
    store.close()
    return times, time.perf_counter() - began, {k: statistics.median(v) for k, v in stages.items()}


def cpu_ms(pid: int) -> float | None:
    """CPU time (user + system) of a process so far, in ms (None off Linux or once gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def repair_worker(pid: int) -> int | None:
    """The server's repair worker: its child started by multiprocessing's spawn (not the
    resource tracker)."""
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"pipe_handle" in command and b"resource_tracker" not in command:
            return int(entry.name)
    return None


def check_versions(url: str, sid: int) -> tuple[float, float]:
    """Check the scenario's versions; the share of its repairs asked to name the focus rules
    of their walk's steps, and the steps named per repair."""
    store = Store(url)
    numbers = [h["version"] for h in store.versions(sid)]
    assert numbers == list(range(1, EVENTS + 2)), f"versions {numbers}"
    named = steps = 0
    for number in numbers:
        version = store.version(sid, number)
        scenario = version.scenario
        assert validate(scenario.problem, scenario.schedule) == [], f"version {number} invalid"
        assert len(scenario.problem.orders) == ORDERS + number - 1
        named += bool(version.repair and version.repair.get("foci_named"))
        steps += sum(bool(step.get("meets")) for step in version.steps or [])
    store.close()
    return named / EVENTS, steps / EVENTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=200, help="training episodes of the policy")
    parser.add_argument("--policy", type=Path, default=None, help="an existing policy directory")
    parser.add_argument("--no-policy", action="store_true", help="serve the policy-free search instead")
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS, help="rrl serve --latency-ms")
    parser.add_argument("--min-budget-ms", type=float, default=MIN_BUDGET_MS, help="rrl serve --min-budget-ms")
    parser.add_argument("--library-budget-ms", type=float, default=None,
                        help="search budget of the in-process baseline (default: the library's)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rrl-bench-service-"))
    policy: Path | None = None
    if not args.no_policy:
        policy = args.policy
        if policy is None:
            plant = load_scenario("scenarios/extruders.yaml").plant
            policy = work / "policy"
            RepairAgent(plant, "tardiness", seed=0).learn(args.episodes).save(policy)
    agent = RepairAgent.load(policy) if policy else search_agent()
    url = f"sqlite:///{work / 'bench.db'}"
    Store(url).init()
    server = Server(url, policy, work / "serve.log", args.latency_ms, args.min_budget_ms)
    rows: dict[str, list[dict[str, float]]] = {"burst": [], "sequential": [], "unnamed": [], "library": []}
    split: list[dict[str, float]] = []
    try:
        warm = httpx.post(server.base + "/api/scenarios", json=scenario_of_20(999), timeout=60).json()["id"]
        for seed in range(5):  # the first repairs load Prolog's code paths
            httpx.post(f"{server.base}/api/scenarios/{warm}/events", json={"event": "rush_order", "seed": seed},
                       timeout=60)
        for r in range(args.rounds):
            data = scenario_of_20(r)
            seeds = [1000 * r + k for k in range(EVENTS)]
            # (the two unloaded modes alternate which goes first, round by round)
            for mode in ("burst", "sequential", "unnamed") if r % 2 == 0 else ("burst", "unnamed", "sequential"):
                sid = httpx.post(server.base + "/api/scenarios", json=data, timeout=60).json()["id"]
                before = httpx.get(server.base + "/api/metrics", timeout=60).json()
                processes = {"server": server.process.pid, "worker": repair_worker(server.process.pid)}
                cpu = {name: cpu_ms(pid) if pid else None for name, pid in processes.items()}
                if mode == "burst":
                    latencies, outs, wall, client = asyncio.run(burst(server.base, sid, seeds))
                else:
                    latencies, outs, wall = sequential(server.base, sid, seeds,
                                                       {"name_foci": False} if mode == "unnamed" else None)
                for name, pid in processes.items():
                    now = cpu_ms(pid) if pid else None
                    spent = cpu[name]
                    cpu[name] = (now - spent) / EVENTS if now is not None and spent is not None else None
                if mode == "burst":
                    cpu["client"] = client
                after = httpx.get(server.base + "/api/metrics", timeout=60).json()
                named, met = check_versions(url, sid)
                repair = [o["seconds"] * 1000 for o in outs]
                print(f"round {r} {mode}: p50 {percentile(latencies, 0.5):.1f} ms, p95 "
                      f"{percentile(latencies, 0.95):.1f} ms, {EVENTS / wall:.1f} events/s", flush=True)
                rows[mode].append({
                    "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "max": max(latencies),
                    "throughput": EVENTS / wall, "repair_ms": statistics.median(repair),
                    "steps": statistics.mean(len(o["steps"]) for o in outs),
                    "disrupted": statistics.mean(o["disrupted"]["total_tardiness"] for o in outs),
                    "repaired": statistics.mean(o["repaired"]["total_tardiness"] for o in outs),
                    "served": after["repairs_served"] - before["repairs_served"], "named": named, "met": met,
                    **{f"cpu_{name}": ms for name, ms in cpu.items() if ms is not None},
                })
            times, wall, stages = library(agent, data, seeds, f"sqlite:///{work / f'library{r}.db'}",
                                          args.library_budget_ms)
            split.append(stages)
            rows["library"].append({"p50": percentile(times, 0.5), "p95": percentile(times, 0.95), "max": max(times),
                                    "throughput": EVENTS / wall, "repair_ms": stages["repair"]})
    finally:
        server.stop()
    print(f"{EVENTS} rush orders on one scenario of {ORDERS} orders (extruder plant), {args.rounds} rounds, "
          f"repairs by {'policy ' + str(policy) if policy else 'the policy-free search'}; medians over rounds (named, met: means)")
    print(f"{'mode':<11} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'events/s':>9} {'repair ms':>10} "
          f"{'steps':>6} {'TT disrupted':>13} {'TT repaired':>12} {'named':>6} {'met':>5}")
    for mode, found in rows.items():
        def med(key: str, found: list[dict[str, float]] = found) -> float:
            values = [f[key] for f in found if key in f]
            if not values:
                return float("nan")
            # (whether repairs were named: every round counts, not the middle one)
            return statistics.mean(values) if key in ("named", "met") else statistics.median(values)
        print(f"{mode:<11} {med('p50'):8.1f} {med('p95'):8.1f} {med('max'):8.1f} {med('throughput'):9.1f} "
              f"{med('repair_ms'):10.1f} {med('steps'):6.2f} {med('disrupted'):13.2f} {med('repaired'):12.2f} "
              + (f"{med('named'):6.0%} {med('met'):5.2f}" if mode != "library" else f"{'-':>6} {'-':>5}"))
    budget = f"{args.library_budget_ms:g} ms" if args.library_budget_ms else "the default"
    print(f"library: one event's work in ms (median), search budget {budget}: "
          + ", ".join(f"{name} {statistics.median(s[name] for s in split):.2f}" for name in STAGES))
    for mode in ("burst", "sequential", "unnamed"):
        shares = {name: [r[f"cpu_{name}"] for r in rows[mode] if f"cpu_{name}" in r]
                  for name in ("server", "worker", "client")}
        if any(shares.values()):
            print(f"{mode}: CPU per event in ms (median over rounds): "
                  + ", ".join(f"{name} {statistics.median(v):.2f}" for name, v in shares.items() if v))
    print("checked: versions 2..51 stored once each, in order, every plan valid")


if __name__ == "__main__":
    main()
