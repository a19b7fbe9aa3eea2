"""Fixtures of the service tests: a real MariaDB server, a small policy, free ports.

The MariaDB server is Debian's ``mariadb-server`` (``make test`` installs it), started in
a temporary directory on a free local port and a unix socket, and stopped at the end of
the session. Where it is not installed or does not start, the MariaDB tests skip and
say why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the service extra is not installed (pip install '.[service]')")

from rrl.domain import load_scenario  # noqa: E402
from rrl.learning.agent import RepairAgent  # noqa: E402
from tests.conftest import SCENARIOS  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)),
                                      None)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh database on a MariaDB server started for this session."""
    server, installer = _find("mariadbd") or _find("mysqld"), _find("mariadb-install-db") or _find("mysql_install_db")
    if server is None or installer is None:
        pytest.skip("MariaDB is not installed (make test installs mariadb-server)")
    base = tmp_path_factory.mktemp("mariadb")
    data, sock, log = base / "data", base / "mysqld.sock", base / "error.log"
    user = ["--user=root"] if os.geteuid() == 0 else []
    install = subprocess.run([installer, "--no-defaults", f"--datadir={data}", *user, "--skip-test-db",
                              "--auth-root-authentication-method=normal"], capture_output=True, text=True, timeout=120)
    if install.returncode != 0:
        pytest.skip(f"mariadb-install-db failed: {(install.stderr or install.stdout).strip().splitlines()[-1:]}")
    port = free_port()
    process = subprocess.Popen([server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
                                "--bind-address=127.0.0.1", f"--pid-file={base / 'mysqld.pid'}",
                                f"--log-error={log}", "--innodb-buffer-pool-size=32M", "--skip-log-bin",
                                "--max-connections=200", *user],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import pymysql

    deadline = time.monotonic() + 60
    while True:
        try:
            conn = pymysql.connect(unix_socket=str(sock), user="root")
            break
        except pymysql.err.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
                pytest.skip(f"mariadbd did not start: {tail}")
            time.sleep(0.2)
    with conn.cursor() as cursor:
        cursor.execute("CREATE DATABASE rrl CHARACTER SET utf8mb4")
    conn.close()
    try:
        yield f"mysql+pymysql://root@127.0.0.1:{port}/rrl?charset=utf8mb4"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def fresh_mariadb_database(url: str, name: str) -> str:
    """A new empty database on the session's server (tests must not see each other's rows)."""
    import pymysql
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = pymysql.connect(host=parsed.host, port=parsed.port, user=parsed.username or "root")
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: an SQLite file, then the same test on MariaDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rrl.db'}"
    server = request.getfixturevalue("mariadb")
    return fresh_mariadb_database(server, f"t_{abs(hash(request.node.nodeid)) % 10**9}")


@pytest.fixture(scope="session")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small tardiness policy for the extruder plant (seconds to train)."""
    plant = load_scenario(SCENARIOS / "extruders.yaml").plant
    agent = RepairAgent(plant, "tardiness", seed=5).learn(60)
    directory = tmp_path_factory.mktemp("service-policy") / "tardiness"
    agent.save(directory)
    return directory
