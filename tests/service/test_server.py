"""A real ``rrl serve`` process: concurrent events, ``kill -9`` in the middle of them, a
restart on the same database. Every acknowledged version must be there, once, complete
and valid; versions stay 1..n without a gap; the restarted server carries on at n + 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from rrl.domain import validate
from rrl.storage import Store
from tests.conftest import SCENARIOS
from tests.service.conftest import free_port

EXTRUDERS = yaml.safe_load((SCENARIOS / "extruders.yaml").read_text())


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie, killed and waiting for its reaper, is not)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Server:
    """``rrl serve`` in a subprocess on a free port."""

    def __init__(self, url: str, log: Path, policy: Path | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("ab")
        extra = ["--policy", str(policy)] if policy is not None else []
        self.process = subprocess.Popen([sys.executable, "-m", "rrl.cli.main", "serve", "--db", url,
                                         "--port", str(self.port), *extra], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.base}/api/metrics", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"rrl serve did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)

    def kill9(self) -> None:
        """SIGKILL the server; its repair worker must die with it (no writer left behind)."""
        workers = _children(self.process.pid)
        assert workers, "rrl serve runs its repairs in a worker process"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()
        deadline = time.monotonic() + 10
        while (alive := [pid for pid in workers if _running(pid)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, f"the worker outlived the server: {alive}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def test_acknowledged_versions_survive_kill_9(db_url: str, tmp_path: Path) -> None:
    Store(db_url).init()
    server = Server(db_url, tmp_path / "serve.log")
    try:
        sid = httpx.post(f"{server.base}/api/scenarios", json=EXTRUDERS, timeout=60).json()["id"]
        acknowledged: dict[int, dict[str, Any]] = {}
        failures: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(k: int) -> None:
            with httpx.Client(base_url=server.base, timeout=60) as http:
                seed = 1000 * k
                while not stop.is_set():
                    seed += 1
                    kind = ("rush_order", "new_order", "material_delay", "breakdown")[seed % 4]
                    try:
                        answer = http.post(f"/api/scenarios/{sid}/events", json={"event": kind, "seed": seed})
                    except httpx.HTTPError:  # the server died under this request: not acknowledged
                        return
                    if answer.status_code == 200:
                        out = answer.json()
                        with lock:
                            if out["version"] in acknowledged:
                                failures.append(f"version {out['version']} acknowledged twice")
                            acknowledged[out["version"]] = out
                    elif answer.status_code != 422:
                        failures.append(f"{answer.status_code}: {answer.text}")

        threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill9()  # while the clients are still posting
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not failures, failures
        assert len(acknowledged) >= 12
    except BaseException:
        if server.process.poll() is None:
            server.stop()
        raise

    server = Server(db_url, tmp_path / "serve.log")
    try:
        history = httpx.get(f"{server.base}/api/scenarios/{sid}/versions", timeout=60).json()
        numbers = [h["version"] for h in history]
        assert numbers == list(range(1, len(numbers) + 1)), numbers
        assert set(acknowledged) <= set(numbers)
        store = Store(db_url)
        for number, out in acknowledged.items():
            stored = store.version(sid, number)
            assert stored.event == out["event"]
            assert stored.scenario.to_dict() == out["scenario"]
        for number in numbers:  # acknowledged or not, whatever is stored is whole and valid
            scenario = store.version(sid, number).scenario
            assert validate(scenario.problem, scenario.schedule) == []
        answer = httpx.post(f"{server.base}/api/scenarios/{sid}/events", json={"event": "rush_order", "seed": 7},
                            timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == numbers[-1] + 1
    finally:
        server.stop()


def test_serve_with_a_bad_policy_says_one_line(tmp_path: Path) -> None:
    """The repair worker refuses to start: the server says why in one line and exits 2."""
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    found = subprocess.run([sys.executable, "-m", "rrl.cli.main", "serve", "--db", url, "--policy",
                            str(tmp_path / "nowhere"), "--port", str(free_port())],
                           capture_output=True, text=True, timeout=120)
    assert found.returncode == 2, found
    lines = found.stderr.strip().splitlines()
    assert len(lines) == 1 and "nowhere" in lines[0] and "not a policy directory" in lines[0], found.stderr
