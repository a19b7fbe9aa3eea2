"""The tables (SQLAlchemy Core): plants, orders and plan versions of each scenario.

Rows are immutable once written, except ``scenarios.version``, the number of the
scenario's current version, which every new version moves on by one inside the same
transaction (the guard against two writers: see :mod:`rrl.storage.store`).

- a *plant* row (with its ``resources``, ``rates``, ``cleanouts``, ``downtimes``) is one
  state of a scenario's plant: a breakdown adds a downtime window, so it makes a new plant;
- an *order* row is one state of an order: a material delay (or a clock that holds an
  order back) makes a new row, unchanged orders keep theirs across versions;
- a *plan version* names its plant, its clock and how it came about (import, rule, event
  with the repair's steps and the rules that chose them), with its metrics; its
  ``plan_entries`` give the sequence of each resource, one row per order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

#: Identifiers (resource, product, order ids) are at most this long in the database.
NAME = 191  # the longest utf8mb4 VARCHAR that MariaDB indexes without large prefixes

metadata = MetaData()

#: Timestamps keep microseconds on MariaDB/MySQL too (their DATETIME drops them by default).
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Number: Double[float] = Double()  # IEEE double everywhere: times and sizes round-trip exactly

_table_args: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mariadb_engine": "InnoDB",
               "mariadb_charset": "utf8mb4"}

scenarios = Table(
    "scenarios", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False),
    Column("version", Integer, nullable=False, comment="number of the current plan version"),
    Column("created", Timestamp, nullable=False),
    **_table_args,
)

plants = Table(
    "plants", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scenario_id", ForeignKey("scenarios.id"), nullable=False, index=True),
    Column("products", JSON, nullable=False, comment="product names, in file order"),
    **_table_args,
)

resources = Table(
    "resources", metadata,
    Column("plant_id", ForeignKey("plants.id"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("resource", String(NAME), nullable=False),
    Column("kind", String(NAME), nullable=False),
    Column("initial_product", String(NAME), nullable=True),
    UniqueConstraint("plant_id", "resource"),
    **_table_args,
)

rates = Table(
    "rates", metadata,
    Column("plant_id", ForeignKey("plants.id"), primary_key=True),
    Column("resource", String(NAME), primary_key=True),
    Column("product", String(NAME), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("rate", Number, nullable=False, comment="kg per hour"),
    **_table_args,
)

cleanouts = Table(
    "cleanouts", metadata,
    Column("plant_id", ForeignKey("plants.id"), primary_key=True),
    Column("from_product", String(NAME), primary_key=True),
    Column("to_product", String(NAME), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("hours", Number, nullable=False),
    **_table_args,
)

downtimes = Table(
    "downtimes", metadata,
    Column("plant_id", ForeignKey("plants.id"), primary_key=True),
    Column("resource", String(NAME), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("start", Number, nullable=False),
    Column("end", Number, nullable=False),
    **_table_args,
)

orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scenario_id", ForeignKey("scenarios.id"), nullable=False),
    Column("order_id", String(NAME), nullable=False),
    Column("product", String(NAME), nullable=False),
    Column("size", Number, nullable=False),
    Column("due", Number, nullable=False),
    Column("release", Number, nullable=False),
    Column("important", Boolean, nullable=False),
    Column("weight", Number, nullable=False),
    Column("after", JSON, nullable=False, comment="ids of the orders that must end first"),
    Index("ix_orders_scenario_order", "scenario_id", "order_id"),
    **_table_args,
)

plan_versions = Table(
    "plan_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scenario_id", ForeignKey("scenarios.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("plant_id", ForeignKey("plants.id"), nullable=False),
    Column("now", Number, nullable=False),
    Column("created", Timestamp, nullable=False),
    Column("source", String(64), nullable=False, comment="import, a rule (edd, ppo, fallback:edd, ...) or event"),
    Column("event", JSON, nullable=True, comment="the event as rrl consult --json prints it"),
    Column("metrics", JSON, nullable=False),
    Column("total_tardiness", Number, nullable=False),
    Column("tardy_orders", Integer, nullable=False),
    Column("makespan", Number, nullable=False),
    Column("utilisation", Number, nullable=False, comment="mean load of the resources"),
    Column("repair", JSON, nullable=True,
           comment="initial and disrupted metrics, goal, seconds, note of the repair that made the version"),
    Column("steps", JSON, nullable=True,
           comment="repair steps: operator, focal, other, total_tardiness, q_value and the rule that chose it"),
    Column("rules", Text, nullable=True, comment="the policy's rules that explained the steps, in step order"),
    UniqueConstraint("scenario_id", "version", name="uq_plan_versions_scenario_version"),
    **_table_args,
)

plan_entries = Table(
    "plan_entries", metadata,
    Column("version_id", ForeignKey("plan_versions.id"), primary_key=True),
    Column("order_row", ForeignKey("orders.id"), primary_key=True),
    Column("resource", String(NAME), nullable=False),
    Column("position", Integer, nullable=False, comment="index in the resource's sequence"),
    Column("listed", Integer, nullable=False, comment="index of the order in the scenario's order list"),
    Column("start", Number, nullable=False, comment="derived by the timing rules, kept for queries"),
    Column("end", Number, nullable=False),
    Column("tardiness", Number, nullable=False),
    **_table_args,
)
