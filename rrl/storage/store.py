"""Scenarios and their plan versions in a database (SQLite by default, MariaDB/MySQL alike).

A :class:`Store` writes each plan version in one transaction, after it checked that the
scenario's current version is still the one the new version was computed from:

- on SQLite the write transaction starts with ``BEGIN IMMEDIATE`` (it holds the write lock
  from its first statement, so two writers cannot both read the same current version);
- on MariaDB/MySQL it reads the scenario row ``SELECT ... FOR UPDATE``;
- on both, ``(scenario_id, version)`` is unique, so a duplicate version cannot be stored.

A version computed from an outdated current version raises :class:`VersionConflict` and
nothing is written. SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed
version survives the death of the process (``kill -9``); set ``RRL_SQLITE_SYNC=FULL``
to survive a power cut too, at the price of an fsync per version.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)

from rrl.domain.order import Order
from rrl.domain.plan import Plan
from rrl.domain.scenario import Scenario, scenario_from_dict
from rrl.domain.validator import validate
from rrl.errors import RRLError
from rrl.storage.schema import (
    NAME,
    cleanouts,
    downtimes,
    metadata,
    orders,
    plan_entries,
    plan_versions,
    plants,
    rates,
    resources,
    scenarios,
)

DEFAULT_URL = "sqlite:///rrl.db"

# The statements of a version's write, built once: SQLAlchemy then reuses their compiled
# form without rebuilding them for every version.
_LOCK_SCENARIO = select(scenarios.c.version).where(scenarios.c.id == bindparam("sid")).with_for_update()
_MOVE_HEAD = (update(scenarios).where(scenarios.c.id == bindparam("sid"))
              .where(scenarios.c.version == bindparam("old")).values(version=bindparam("new")))
_INSERT_ORDER = insert(orders)
_INSERT_VERSION = insert(plan_versions)


class StoreError(RRLError):
    """The database cannot be reached, is not initialised, or refuses a value."""


class NotFound(StoreError):
    """No scenario (or version) with that id."""


class VersionConflict(StoreError):
    """The scenario moved on since the version to write was computed; nothing was written."""

    def __init__(self, scenario_id: int, expected: int, found: int) -> None:
        self.scenario_id, self.expected, self.found = scenario_id, expected, found
        super().__init__(f"scenario {scenario_id}: current version is {found}, not {expected}")


@dataclass(frozen=True)
class Version:
    """One stored plan version.

    ``scenario`` is the scenario whose ``schedule`` is this version's plan (what
    ``rrl db export`` writes); ``repair`` and ``steps`` are None for a version that no
    event produced (an import or a rule's plan).
    """

    scenario_id: int
    version: int
    scenario: Scenario
    created: datetime
    source: str
    event: dict[str, Any] | None
    metrics: dict[str, Any]
    repair: dict[str, Any] | None = None
    steps: list[dict[str, Any]] | None = None

    def summary(self) -> dict[str, Any]:
        """``{"version", "event", "metrics", "created", "source"}`` (the version list of DESIGN 11)."""
        return {"version": self.version, "event": self.event, "metrics": self.metrics,
                "created": iso(self.created), "source": self.source}


@dataclass
class _Head:
    """What the store remembers of a scenario's current version (saves reading it back)."""

    version: int
    plant_id: int
    plant: dict[str, Any]
    order_rows: dict[Order, int]
    stored: Version


@dataclass
class _Pending:
    plant_id: int | None = None
    new_rows: dict[Order, int] = field(default_factory=dict)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``."""
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class Store:
    """Access to one database.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///path.db`` (default ``sqlite:///rrl.db``) or
        ``mysql+pymysql://user:password@host/db`` (MariaDB or MySQL; ``mariadb+pymysql://``
        too). The tables must exist: :meth:`init` creates them.
    """

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):  # (a port that is no number raises ValueError)
            raise StoreError(f"--db {url!r}: not a database URL (e.g. sqlite:///rrl.db)") from None
        self.sqlite = parsed.get_backend_name() == "sqlite"
        try:
            if self.sqlite:
                self.engine = create_engine(url, connect_args={"timeout": 30})
                _sqlite_setup(self.engine)
            else:
                self.engine = create_engine(url, pool_pre_ping=True, pool_recycle=3600)
        except (NoSuchModuleError, ImportError) as error:
            raise StoreError(f"--db {parsed.render_as_string(hide_password=True)}: no driver ({error})") from None
        self.label = parsed.render_as_string(hide_password=True)
        self._heads: dict[int, _Head] = {}
        self._lock = threading.Lock()
        self._entries_sql: tuple[str, Any] | None = None

    # ------------------------------------------------------------------ set-up

    def init(self) -> None:
        """Create the tables that do not exist yet (existing data is kept)."""
        with self._errors():
            metadata.create_all(self.engine)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database failures as one-line :class:`StoreError` (the driver's first line)."""
        try:
            yield
        except (StoreError, IntegrityError):
            raise
        except OperationalError as error:
            detail = str(error.orig).splitlines()[0] if error.orig is not None else str(error)
            if "no such table" in detail or "doesn't exist" in detail:
                raise StoreError(f"{self.label}: the tables are missing (run: rrl db init --db URL)") from None
            raise StoreError(f"{self.label}: {detail}") from None
        except DBAPIError as error:
            detail = str(error.orig).splitlines()[0] if error.orig is not None else str(error)
            raise StoreError(f"{self.label}: {detail}") from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        with self._errors(), self.engine.connect() as conn:
            conn = conn.execution_options(rrl_immediate=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    # ------------------------------------------------------------------ writing

    def create(self, scenario: Scenario, *, source: str = "import") -> Version:
        """Store a scenario whose ``schedule`` is its plan, as version 1; return it."""
        plan = _checked_plan(scenario)
        _check_names(scenario)
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._write() as conn:
            sid = _new_id(conn.execute(insert(scenarios).values(name=scenario.name, version=1, created=now)))
            pending = _Pending()
            stored = self._insert_version(conn, sid, 1, scenario, plan, None, pending, created=now, source=source,
                                          event=None, repair=None, steps=None)
        self._remember(stored, None, pending)
        return stored

    def append(self, scenario_id: int, based_on: int, scenario: Scenario, *, event: dict[str, Any],
               repair: dict[str, Any], steps: list[dict[str, Any]], source: str = "event") -> Version:
        """Store ``scenario`` (its schedule is the repaired plan) as the version after ``based_on``.

        Raises
        ------
        VersionConflict
            When the scenario's current version is no longer ``based_on`` (nothing written).
        NotFound
            When there is no such scenario.
        """
        plan = _checked_plan(scenario)
        _check_names(scenario)
        now = datetime.now(UTC).replace(tzinfo=None)
        try:
            stored, head, pending = self._append(scenario_id, based_on, scenario, plan, now, event, repair, steps,
                                                 source)
        except IntegrityError:  # the unique (scenario_id, version) key: another writer was first
            self._forget(scenario_id)
            raise VersionConflict(scenario_id, based_on, based_on + 1) from None
        self._remember(stored, head, pending)
        return stored

    def _append(self, scenario_id: int, based_on: int, scenario: Scenario, plan: Plan, now: datetime,
                event: dict[str, Any], repair: dict[str, Any], steps: list[dict[str, Any]],
                source: str) -> tuple[Version, _Head, _Pending]:
        with self._write() as conn:
            found = conn.execute(_LOCK_SCENARIO, {"sid": scenario_id}).scalar_one_or_none()
            if found is None:
                raise NotFound(f"no scenario {scenario_id}")
            if found != based_on:
                self._forget(scenario_id)
                raise VersionConflict(scenario_id, based_on, found)
            head = self._head_in(conn, scenario_id, found)
            pending = _Pending()
            stored = self._insert_version(conn, scenario_id, found + 1, scenario, plan, head, pending, created=now,
                                          source=source, event=event, repair=repair, steps=steps)
            moved = conn.execute(_MOVE_HEAD, {"sid": scenario_id, "old": found, "new": found + 1}).rowcount
            if moved != 1:  # cannot happen under the lock above; refuse rather than guess
                raise VersionConflict(scenario_id, based_on, -1)
        return stored, head, pending

    def _insert_version(self, conn: Connection, sid: int, number: int, scenario: Scenario, plan: Plan,
                        head: _Head | None, pending: _Pending, *, created: datetime, source: str,
                        event: dict[str, Any] | None, repair: dict[str, Any] | None,
                        steps: list[dict[str, Any]] | None) -> Version:
        plant = scenario.plant.to_dict()
        if head is not None and head.plant == plant:
            plant_id = head.plant_id
        else:
            plant_id = _insert_plant(conn, sid, plant)
            pending.plant_id = plant_id
        known = head.order_rows if head is not None else {}
        row_of: dict[str, int] = {}
        for order in scenario.problem.orders.values():
            row = known.get(order)
            if row is None:
                row = _new_id(conn.execute(_INSERT_ORDER, {
                    "scenario_id": sid, "order_id": order.id, "product": order.product, "size": order.size,
                    "due": order.due, "release": order.release, "important": order.important,
                    "weight": order.weight, "after": list(order.after)}))
                pending.new_rows[order] = row
            row_of[order.id] = row
        metrics = plan.metrics.to_dict()
        loads = list(plan.metrics.load.values())
        rules = "\n\n".join(s["rule"] for s in steps if s.get("rule")) if steps else None
        vid = _new_id(conn.execute(_INSERT_VERSION, {
            "scenario_id": sid, "version": number, "plant_id": plant_id, "now": scenario.problem.now,
            "created": created, "source": source, "event": event, "metrics": metrics,
            "total_tardiness": metrics["total_tardiness"], "tardy_orders": metrics["tardy_orders"],
            "makespan": metrics["makespan"], "utilisation": sum(loads) / len(loads) if loads else 0.0,
            "repair": repair, "steps": steps, "rules": rules}))
        listed = {oid: k for k, oid in enumerate(scenario.problem.orders)}
        times = plan.times
        self._insert_entries(conn, [
            {"version_id": vid, "order_row": row_of[oid], "resource": resource, "position": k,
             "listed": listed[oid], "start": times.start[oid], "end": times.end[oid], "tardiness": plan.tardiness(oid)}
            for resource, seq in plan.schedule.sequences.items() for k, oid in enumerate(seq)
        ])
        return Version(sid, number, scenario, created, source, event, metrics, repair, steps)

    def _insert_entries(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """One executemany of the plan's rows through the driver: SQLAlchemy's per-row
        parameter processing cost more than the database itself (one row per order)."""
        if self._entries_sql is None:
            compiled = insert(plan_entries).compile(dialect=self.engine.dialect)
            self._entries_sql = (str(compiled), compiled.positiontup)
        sql, positions = self._entries_sql
        if positions:
            conn.exec_driver_sql(sql, [tuple(row[name] for name in positions) for row in rows])
        else:
            conn.exec_driver_sql(sql, rows)

    def _remember(self, stored: Version, head: _Head | None, pending: _Pending) -> None:
        """After a commit: the new version becomes the remembered current one."""
        rows = dict(head.order_rows) if head is not None else {}
        rows.update(pending.new_rows)
        live = set(stored.scenario.problem.orders.values())
        plant_id = pending.plant_id if pending.plant_id is not None else head.plant_id if head else None
        assert plant_id is not None
        with self._lock:
            self._heads[stored.scenario_id] = _Head(stored.version, plant_id, stored.scenario.plant.to_dict(),
                                                    {o: r for o, r in rows.items() if o in live}, stored)

    def _forget(self, scenario_id: int) -> None:
        with self._lock:
            self._heads.pop(scenario_id, None)

    # ------------------------------------------------------------------ reading

    def current(self, scenario_id: int, remembered: bool = False) -> Version:
        """The current version of a scenario.

        With ``remembered``, the version this store wrote or read last is returned without
        asking the database: right when this process is the only writer, and otherwise
        caught by :meth:`append`'s check (a :class:`VersionConflict`, after which this
        store asks the database again).
        """
        if remembered:
            with self._lock:
                head = self._heads.get(scenario_id)
            if head is not None:
                return head.stored
        with self._read() as conn:
            found = conn.execute(select(scenarios.c.version).where(scenarios.c.id == scenario_id)).scalar_one_or_none()
            if found is None:
                raise NotFound(f"no scenario {scenario_id}")
            return self._head_in(conn, scenario_id, found).stored

    def _head_in(self, conn: Connection, sid: int, number: int) -> _Head:
        with self._lock:
            head = self._heads.get(sid)
        if head is not None and head.version == number:
            return head
        stored, plant_id, rows = self._load(conn, sid, number)
        head = _Head(number, plant_id, stored.scenario.plant.to_dict(), rows, stored)
        with self._lock:
            self._heads[sid] = head
        return head

    def version(self, scenario_id: int, number: int | None = None) -> Version:
        """A stored version (default: the current one)."""
        if number is None:
            return self.current(scenario_id)
        with self._read() as conn:
            return self._load(conn, scenario_id, number)[0]

    def _load(self, conn: Connection, sid: int, number: int) -> tuple[Version, int, dict[Order, int]]:
        name = conn.execute(select(scenarios.c.name).where(scenarios.c.id == sid)).scalar_one_or_none()
        if name is None:
            raise NotFound(f"no scenario {sid}")
        row = conn.execute(select(plan_versions).where(plan_versions.c.scenario_id == sid)
                           .where(plan_versions.c.version == number)).one_or_none()
        if row is None:
            raise NotFound(f"scenario {sid} has no version {number}")
        data: dict[str, Any] = {"name": name, **_read_plant(conn, row.plant_id)}
        entries = conn.execute(select(plan_entries, orders).join(orders, orders.c.id == plan_entries.c.order_row)
                               .where(plan_entries.c.version_id == row.id)).all()
        listed = sorted(entries, key=lambda e: e.listed)
        data["orders"] = [_order_dict(e) for e in listed]
        schedule: dict[str, list[str]] = {}
        for e in sorted(entries, key=lambda e: (e.resource, e.position)):
            schedule.setdefault(e.resource, []).append(e.order_id)
        data["schedule"] = {r["id"]: schedule[r["id"]] for r in data["resources"] if r["id"] in schedule}
        if row.now:
            data["now"] = row.now
        scenario = scenario_from_dict(data, f"scenario {sid} version {number}")
        rows = {scenario.problem.orders[e.order_id]: e.order_row for e in entries}
        stored = Version(sid, number, scenario, row.created, row.source, row.event, row.metrics, row.repair,
                         row.steps)
        return stored, row.plant_id, rows

    def versions(self, scenario_id: int) -> list[dict[str, Any]]:
        """``[{"version", "event", "metrics", "created", "source"}]``, oldest first."""
        with self._read() as conn:
            if conn.execute(select(scenarios.c.id).where(scenarios.c.id == scenario_id)).first() is None:
                raise NotFound(f"no scenario {scenario_id}")
            rows = conn.execute(select(plan_versions.c.version, plan_versions.c.event, plan_versions.c.metrics,
                                       plan_versions.c.created, plan_versions.c.source)
                                .where(plan_versions.c.scenario_id == scenario_id)
                                .order_by(plan_versions.c.version)).all()
        return [{"version": r.version, "event": r.event, "metrics": r.metrics, "created": iso(r.created),
                 "source": r.source} for r in rows]

    def scenarios(self) -> list[dict[str, Any]]:
        """``[{"id", "name", "version", "created"}]`` of every scenario."""
        with self._read() as conn:
            rows = conn.execute(select(scenarios).order_by(scenarios.c.id)).all()
        return [{"id": r.id, "name": r.name, "version": r.version, "created": iso(r.created)} for r in rows]


# ---------------------------------------------------------------------- helpers


def _sqlite_setup(engine: Engine) -> None:
    """WAL journal, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for writes.

    pysqlite's own transaction handling is switched off so that SQLAlchemy's ``begin``
    emits the BEGIN itself (the recipe of SQLAlchemy's SQLite documentation).
    """
    sync = os.environ.get("RRL_SQLITE_SYNC", "NORMAL").upper()
    if sync not in ("NORMAL", "FULL"):
        raise StoreError(f"RRL_SQLITE_SYNC={sync}: use NORMAL or FULL")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={sync}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("rrl_immediate") else "BEGIN")


def _checked_plan(scenario: Scenario) -> Plan:
    """The scenario's plan, refused unless the validator passes it (nothing invalid is stored)."""
    if scenario.schedule is None:
        raise StoreError(f"scenario {scenario.name!r} has no schedule to store")
    try:
        plan = scenario.plan()
    except (KeyError, RRLError):  # an order unknown or on a resource that cannot run it, a cycle
        plan = None
    problems = validate(scenario.problem, scenario.schedule, plan.times if plan is not None else None)
    if problems or plan is None:
        found = f"{problems[0]}; {len(problems)} violations" if problems else "it cannot be timed"
        raise StoreError(f"refusing to store an invalid plan ({found})")
    return plan


def _new_id(result: Any) -> int:
    """The primary key an INSERT just generated."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _check_names(scenario: Scenario) -> None:
    plant = scenario.plant
    names = [scenario.name, *plant.products, *plant.resources, *scenario.problem.orders]
    for name in names:
        if len(name) > NAME:
            raise StoreError(f"name {name[:40]!r}... is longer than {NAME} characters")


def _insert_plant(conn: Connection, sid: int, plant: Mapping[str, Any]) -> int:
    pid = _new_id(conn.execute(insert(plants).values(scenario_id=sid, products=list(plant["products"]))))
    res_rows, rate_rows, down_rows = [], [], []
    for k, r in enumerate(plant["resources"]):
        res_rows.append({"plant_id": pid, "position": k, "resource": r["id"], "kind": r["kind"],
                         "initial_product": r.get("initial_product")})
        rate_rows += [{"plant_id": pid, "resource": r["id"], "product": p, "position": j, "rate": v}
                      for j, (p, v) in enumerate(r["rates"].items())]
        down_rows += [{"plant_id": pid, "resource": r["id"], "position": j, "start": a, "end": b}
                      for j, (a, b) in enumerate(r.get("downtime", []))]
    clean_rows = [{"plant_id": pid, "from_product": a, "to_product": b, "position": k, "hours": h}
                  for k, (a, b, h) in enumerate((a, b, h) for a, row in plant["cleanout"].items()
                                                for b, h in row.items())]
    for table, rows in ((resources, res_rows), (rates, rate_rows), (downtimes, down_rows), (cleanouts, clean_rows)):
        if rows:
            conn.execute(insert(table), rows)
    return int(pid)


def _read_plant(conn: Connection, pid: int) -> dict[str, Any]:
    products = conn.execute(select(plants.c.products).where(plants.c.id == pid)).scalar_one()
    res = conn.execute(select(resources).where(resources.c.plant_id == pid).order_by(resources.c.position)).all()
    rate_rows = conn.execute(select(rates).where(rates.c.plant_id == pid).order_by(rates.c.position)).all()
    down_rows = conn.execute(select(downtimes).where(downtimes.c.plant_id == pid)
                             .order_by(downtimes.c.position)).all()
    clean_rows = conn.execute(select(cleanouts).where(cleanouts.c.plant_id == pid)
                              .order_by(cleanouts.c.position)).all()
    out_resources = []
    for r in res:
        spec: dict[str, Any] = {"id": r.resource, "kind": r.kind,
                                "rates": {x.product: x.rate for x in rate_rows if x.resource == r.resource}}
        if r.initial_product is not None:
            spec["initial_product"] = r.initial_product
        windows = [[d.start, d.end] for d in down_rows if d.resource == r.resource]
        if windows:
            spec["downtime"] = windows
        out_resources.append(spec)
    cleanout: dict[str, dict[str, float]] = {}
    for c in clean_rows:
        cleanout.setdefault(c.from_product, {})[c.to_product] = c.hours
    return {"products": list(products), "resources": out_resources, "cleanout": cleanout}


def _order_dict(row: Any) -> dict[str, Any]:
    order = Order(id=row.order_id, product=row.product, size=row.size, due=row.due, release=row.release,
                  important=bool(row.important), weight=row.weight, after=tuple(row.after))
    return order.to_dict()
