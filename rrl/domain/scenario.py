"""Scenario files (DESIGN section 2): read, check and write plants, orders and plans.

Every problem found in a file raises :class:`ScenarioError` naming the file, the key
path (``orders[3].product``) and the problem, so the CLI can print one line.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from rrl._io import write_text_atomically
from rrl.bounds import MAX_HOURS
from rrl.domain.order import Order
from rrl.domain.plan import Plan
from rrl.domain.plant import Plant, Resource, merge_windows
from rrl.domain.problem import Problem
from rrl.domain.schedule import Schedule
from rrl.domain.timing import Timetable, compute_times, frozen_orders, started_prefix
from rrl.errors import CycleError, ScenarioError

_TOP_KEYS = {"name", "products", "resources", "cleanout", "orders", "schedule", "now"}
_RESOURCE_KEYS = {"id", "kind", "rates", "initial_product", "downtime"}
_ORDER_KEYS = {"id", "product", "size", "due", "release", "important", "weight", "after"}


@dataclass(frozen=True)
class Scenario:
    """The content of a scenario file.

    Parameters
    ----------
    name : str
        A label for reports.
    problem : Problem
        Plant, orders, ``now`` and the orders frozen by it.
    schedule : Schedule or None
        The current plan, when the file has one.
    """

    name: str
    problem: Problem
    schedule: Schedule | None = field(default=None)
    # the timed schedule, once asked for (a copy made by ``replace`` times its own)
    _plan: Plan | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def plant(self) -> Plant:
        """The plant of the problem."""
        return self.problem.plant

    def plan(self) -> Plan:
        """The file's schedule, timed (raises ScenarioError when the file has none)."""
        if self.schedule is None:
            raise ScenarioError(self.name, "schedule", "the scenario has no schedule")
        if self._plan is None:  # timed once: the service stores a version and repairs it next
            object.__setattr__(self, "_plan", Plan.build(self.problem, self.schedule))
        assert self._plan is not None
        return self._plan

    def with_schedule(self, schedule: Schedule | None) -> Scenario:
        """A copy with another schedule."""
        return replace(self, schedule=schedule)

    def to_dict(self) -> dict[str, Any]:
        """The scenario in the file format (JSON- and YAML-ready)."""
        data: dict[str, Any] = {"name": self.name, **self.problem.plant.to_dict()}
        data["orders"] = [o.to_dict() for o in self.problem.orders.values()]
        if self.schedule is not None:
            data["schedule"] = self.schedule.to_dict()
        if self.problem.now:
            data["now"] = self.problem.now
        return data

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the scenario (JSON when the name ends in ``.json``, else YAML), atomically."""
        target = Path(path)
        if target.suffix.lower() == ".json":
            text = json.dumps(self.to_dict(), indent=2)
        else:
            text = yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)
        write_text_atomically(target, text)


def scenario_of(plan: Plan, name: str) -> Scenario:
    """The scenario of ``plan``, written so that reading it back gives the same times.

    A file has no memory of earlier clocks: an order held back to an earlier ``now``
    (it could not start in the past) or frozen at such a start would, read literally,
    start earlier. Such orders, and only they, get their planned start as ``release``.
    """
    return _printed(plan, name)[0]


def as_read(scenario: Scenario) -> Scenario:
    """``scenario`` as a reader of its file gets it, without writing and parsing the file:
    the orders frozen by the clock are found again from the schedule alone (a file does
    not remember which orders an earlier clock froze)."""
    if scenario.schedule is None:
        return scenario
    literal = Problem(scenario.problem.plant, scenario.problem.orders, scenario.problem.now)
    return replace(scenario, problem=literal.with_clock(literal.now, frozen_orders(literal, scenario.schedule)))


def printed_and_read(plan: Plan, name: str) -> tuple[Scenario, Scenario]:
    """``scenario_of(plan, name)`` and its :func:`as_read`, timing the literal file once
    for both (a service prints and stores every repaired plan)."""
    printed, literal_times = _printed(plan, name)
    if literal_times is None:
        return printed, as_read(printed)
    now = printed.problem.now
    literal = Problem(printed.problem.plant, printed.problem.orders, now)
    assert printed.schedule is not None
    # frozen_orders would time the same literal file again (clock 0, nothing pinned)
    frozen = started_prefix(printed.schedule, literal_times.start, now)
    return printed, replace(printed, problem=literal.with_clock(now, frozen))


def _printed(plan: Plan, name: str) -> tuple[Scenario, Timetable | None]:
    """:func:`scenario_of`, and the times of its orders read literally (no clock; None
    when the search for the releases ran out)."""
    literal = Problem(plan.problem.plant, plan.problem.orders)
    found: Timetable | None = None
    for _ in range(len(literal.orders) + 1):
        times = compute_times(literal, plan.schedule)
        early = [o for o, s in times.start.items() if s < plan.times.start[o] - 1e-9]
        if not early:
            found = times
            break
        literal = literal.with_orders(literal.orders[o].with_changes(release=plan.times.start[o]) for o in early)
    problem = Problem(plan.problem.plant, literal.orders, plan.problem.now, plan.problem.frozen)
    return Scenario(name=name, problem=problem, schedule=plan.schedule), found


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check a YAML or JSON scenario file.

    Raises
    ------
    ScenarioError
        Naming the file, the key path and the problem.
    """
    source = Path(path)
    label = source.name
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(str(path), "", f"cannot read the file ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        data = source.read_bytes()
        line = data.count(b"\n", 0, error.start) + 1
        raise ScenarioError(label, f"line {line}", f"not UTF-8 text (byte 0x{data[error.start]:02x})") from None
    return scenario_from_dict(parse_text(text, label, json_file=source.suffix.lower() == ".json"), label,
                              default_name=source.stem)


def parse_text(text: str, label: str, json_file: bool = False) -> Any:
    """The data of a scenario file's text: JSON where ``json_file``, else YAML (with the
    numbers of YAML 1.2 and JSON, such as ``1e3``, read as numbers); a key given twice
    in one mapping is an error, not a silent overwrite."""
    try:
        if json_file:
            # (editors on Windows start UTF-8 files with a byte-order mark, which JSON forbids)
            return json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_unique_pairs)
        return yaml.load(text, Loader=_Loader)
    except json.JSONDecodeError as error:
        raise ScenarioError(label, f"line {error.lineno}", f"malformed JSON: {error.msg}") from None
    except _DuplicateKey as error:
        raise ScenarioError(label, "", f"the key '{error.key}' is given twice in one object") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise ScenarioError(label, where, f"malformed YAML/JSON: {problem}") from None
    except RecursionError:
        raise ScenarioError(label, "", "nested too deeply") from None
    except ValueError as error:  # (e.g. an integer of more digits than Python converts)
        raise ScenarioError(label, "", f"unreadable number: {error}") from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe YAML loader (libyaml's parser where present: 4x faster at 500 orders),
    reading YAML 1.2's numbers and refusing duplicate keys."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        # A mapping's own keys only: merged ones (``<<: *base``) may be overridden, and a
        # merged mapping's keys are checked where it is written.
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key '{key}' is given twice in one mapping", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


class _Dumper(yaml.SafeDumper):
    """The safe YAML writer, quoting what :class:`_Loader` would read as a number
    (an id ``1e5``), so that a saved scenario reads back the same."""


_MERGE = "tag:yaml.org,2002:merge"
# YAML 1.1 reads 1e3 and 1e-05 (what Python's json writes) as strings; 1.2 and JSON as numbers.
_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
for _side in (_Loader, _Dumper):
    _side.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789"))


def scenario_from_dict(data: Any, source: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    """Check a parsed scenario and build it (see :func:`load_scenario`)."""
    reader = _Reader(source)
    top = reader.mapping(data, "", _TOP_KEYS, required=("products", "resources", "orders"))
    name = reader.ident(top["name"], "name") if top.get("name") not in (None, "") else default_name
    products = reader.products(top["products"])
    resources = reader.resources(top["resources"], products)
    cleanout = reader.cleanout(top.get("cleanout") or {}, products)
    plant = Plant(products=tuple(products), resources=resources, cleanout=cleanout)
    orders = reader.orders(top["orders"], plant)
    now = reader.number(top.get("now", 0.0), "now", minimum=0.0, maximum=MAX_HOURS)
    problem = Problem(plant=plant, orders=orders, now=now)
    schedule = None
    if top.get("schedule") is not None:
        schedule = reader.schedule(top["schedule"], problem)
        try:
            problem = problem.with_clock(now, frozen_orders(problem, schedule))
        except CycleError as error:
            raise ScenarioError(source, "schedule", f"sequences and 'after' form a cycle ({error})") from None
    return Scenario(name=name, problem=problem, schedule=schedule)


class _Reader:
    """Type and consistency checks that know where they are in the file."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, key or "(top level)", problem)

    def mapping(
        self, value: Any, key: str, allowed: set[str] | None = None, required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Check ``value`` is a mapping; with ``allowed``, reject keys outside it."""
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a mapping, got {_kind(value)}")
        for name in value:
            if allowed is not None and name not in allowed:
                raise self.fail(_join(key, str(name)), f"unknown key (expected one of {', '.join(sorted(allowed))})")
        for name in required:
            if name not in value:
                raise self.fail(_join(key, name), "missing key")
        return dict(value)

    def sequence(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_kind(value)}")
        return value

    def number(self, value: Any, key: str, minimum: float | None = None, positive: bool = False,
               maximum: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number, got {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:
            finite = False
        if not finite:
            raise self.fail(key, f"expected a finite number, got {value!r}")
        if positive and value <= 0:
            raise self.fail(key, f"must be > 0, got {value}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be >= {minimum:g}, got {value}")
        if maximum is not None and abs(value) > maximum:
            raise self.fail(key, f"must be at most {maximum:g} in size, got {value} (docs/security.md: the bounds "
                                 "within which rrl times schedules exactly)")
        return float(value)

    def ident(self, value: Any, key: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
            hint = " (a name that reads as a number, such as 1e5, goes in quotes)" if isinstance(value, float) else ""
            raise self.fail(key, f"expected a name, got {value!r}{hint}")
        return str(value)

    def product(self, value: Any, key: str, products: list[str]) -> str:
        name = self.ident(value, key)
        if name not in products:
            raise self.fail(key, f"'{name}' is not a product")
        return name

    def products(self, value: Any) -> list[str]:
        items = self.sequence(value, "products")
        names: list[str] = []
        for i, item in enumerate(items):
            name = self.ident(item, f"products[{i}]")
            if name in names:
                raise self.fail(f"products[{i}]", f"duplicate product '{name}'")
            names.append(name)
        if not names:
            raise self.fail("products", "at least one product is needed")
        return names

    def resources(self, value: Any, products: list[str]) -> dict[str, Resource]:
        resources: dict[str, Resource] = {}
        for i, item in enumerate(self.sequence(value, "resources")):
            key = f"resources[{i}]"
            spec = self.mapping(item, key, _RESOURCE_KEYS, required=("id", "rates"))
            rid = self.ident(spec["id"], f"{key}.id")
            if rid in resources:
                raise self.fail(f"{key}.id", f"duplicate resource id '{rid}'")
            rates_in = self.mapping(spec["rates"], f"{key}.rates")
            rates: dict[str, float] = {}
            for product, rate in rates_in.items():
                name = self.product(product, f"{key}.rates.{product}", products)
                rates[name] = self.number(rate, f"{key}.rates.{product}", positive=True)
            initial = spec.get("initial_product")
            if initial is not None:
                initial = self.product(initial, f"{key}.initial_product", products)
            windows = []
            for j, window in enumerate(self.sequence(spec.get("downtime") or [], f"{key}.downtime")):
                wkey = f"{key}.downtime[{j}]"
                if not isinstance(window, list) or len(window) != 2:
                    raise self.fail(wkey, f"expected [start, end], got {window!r}")
                a = self.number(window[0], wkey, minimum=0.0, maximum=MAX_HOURS)
                b = self.number(window[1], wkey, maximum=MAX_HOURS)
                if b <= a:
                    raise self.fail(wkey, f"end {b:g} must be after start {a:g}")
                windows.append((a, b))
            kind = self.ident(spec.get("kind", "machine"), f"{key}.kind")
            resources[rid] = Resource(rid, kind, rates, initial, merge_windows(windows))
        if not resources:
            raise self.fail("resources", "at least one resource is needed")
        return resources

    def cleanout(self, value: Any, products: list[str]) -> dict[str, dict[str, float]]:
        table = self.mapping(value, "cleanout")
        result: dict[str, dict[str, float]] = {}
        for source, row in table.items():
            a = self.product(source, f"cleanout.{source}", products)
            cells = self.mapping(row, f"cleanout.{a}")
            result[a] = {}
            for target, hours in cells.items():
                b = self.product(target, f"cleanout.{a}.{target}", products)
                result[a][b] = self.number(hours, f"cleanout.{a}.{b}", minimum=0.0, maximum=MAX_HOURS)
        return result

    def orders(self, value: Any, plant: Plant) -> dict[str, Order]:
        orders: dict[str, Order] = {}
        index_of: dict[str, int] = {}
        products = list(plant.products)
        raw = self.sequence(value, "orders")
        for i, item in enumerate(raw):
            key = f"orders[{i}]"
            spec = self.mapping(item, key, _ORDER_KEYS, required=("id", "product", "size", "due"))
            oid = self.ident(spec["id"], f"{key}.id")
            if oid in orders:
                raise self.fail(f"{key}.id", f"duplicate order id '{oid}' (first at orders[{index_of[oid]}])")
            product = self.product(spec["product"], f"{key}.product", products)
            if not plant.eligible(product):
                raise self.fail(f"{key}.product", f"no resource can run product '{product}'")
            important = spec.get("important", False)
            if not isinstance(important, bool):
                raise self.fail(f"{key}.important", f"expected true or false, got {important!r}")
            after = [self.ident(a, f"{key}.after[{j}]") for j, a in enumerate(self.sequence(spec.get("after") or [], f"{key}.after"))]
            orders[oid] = Order(
                id=oid,
                product=product,
                size=self.number(spec["size"], f"{key}.size", positive=True),
                due=self.number(spec["due"], f"{key}.due", maximum=MAX_HOURS),
                release=self.number(spec.get("release", 0.0), f"{key}.release", minimum=0.0, maximum=MAX_HOURS),
                important=important,
                weight=self.number(spec.get("weight", 1.0), f"{key}.weight", positive=True, maximum=MAX_HOURS),
                after=tuple(after),
            )
            index_of[oid] = i
        self.horizon(orders, index_of, plant)
        for oid, order in orders.items():
            for j, before in enumerate(order.after):
                if before not in orders:
                    raise self.fail(f"orders[{index_of[oid]}].after[{j}]", f"'{before}' is not an order")
                if before == oid:
                    raise self.fail(f"orders[{index_of[oid]}].after[{j}]", "an order cannot come after itself")
        cycle = _after_cycle(orders)
        if cycle:
            raise self.fail(f"orders[{index_of[cycle[0]]}].after", f"precedence cycle {' -> '.join(cycle)}")
        return orders

    def horizon(self, orders: Mapping[str, Order], index_of: Mapping[str, int], plant: Plant) -> None:
        """Refuse processing times that rrl cannot time exactly: each one, and their sum
        over all orders (each order at its slowest eligible resource), at most
        ``MAX_HOURS`` (docs/security.md)."""
        total = 0.0
        for oid, order in orders.items():
            slowest = 0.0
            for resource in plant.resources.values():
                rate = resource.rates.get(order.product)
                if rate is None:
                    continue
                hours = order.size / rate
                if not hours <= MAX_HOURS:
                    raise self.fail(f"orders[{index_of[oid]}].size",
                                    f"takes {hours:g} h on {resource.id}, more than the {MAX_HOURS:g} h rrl times "
                                    "exactly (docs/security.md)")
                slowest = max(slowest, hours)
            total += slowest
        if total > MAX_HOURS:
            raise self.fail("orders", f"the orders take up to {total:g} h of processing in all, more than the "
                                      f"{MAX_HOURS:g} h rrl times exactly (docs/security.md)")

    def schedule(self, value: Any, problem: Problem) -> Schedule:
        resources = problem.plant.resources
        table = self.mapping(value, "schedule")
        placed: dict[str, str] = {}
        sequences: dict[str, list[str]] = {}
        for resource, seq in table.items():
            if resource not in resources:
                raise self.fail(f"schedule.{resource}", f"'{resource}' is not a resource")
            sequences[resource] = []
            for j, item in enumerate(self.sequence(seq or [], f"schedule.{resource}")):
                key = f"schedule.{resource}[{j}]"
                oid = self.ident(item, key)
                if oid not in problem.orders:
                    raise self.fail(key, f"'{oid}' is not an order")
                if oid in placed:
                    raise self.fail(key, f"order '{oid}' is scheduled twice (also on {placed[oid]})")
                product = problem.orders[oid].product
                if not resources[resource].can_run(product):
                    raise self.fail(key, f"order '{oid}' (product {product}) cannot run on {resource}")
                placed[oid] = resource
                sequences[resource].append(oid)
        for oid in problem.orders:
            if oid not in placed:
                raise self.fail("schedule", f"order '{oid}' is missing from the schedule")
        return Schedule({r: sequences.get(r, []) for r in resources})


def _after_cycle(orders: Mapping[str, Order]) -> list[str]:
    """A cycle of ``after`` constraints as a list of ids (empty when there is none)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in orders:
        if state.get(root):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            after = orders[node].after
            if i < len(after):
                stack.append((node, i + 1))
                nxt = after[i]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt):], nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return []


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
