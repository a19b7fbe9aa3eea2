"""``rrl db`` and ``rrl serve``: plans in a database and the repair service (DESIGN section 11).

Both need the ``service`` extra (SQLAlchemy, PyMySQL, FastAPI, uvicorn); without it they
say so in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rrl.bounds import MAX_BUDGET_MS
from rrl.cli.common import FiniteFloat, checked, json_option, print_json, scenario_path
from rrl.cli.schedule import PLAN_RULES
from rrl.errors import RRLError
from rrl.service import LATENCY_MS, MIN_BUDGET_MS

DEFAULT_DB = "sqlite:///rrl.db"

db_option = click.option("--db", "url", default=DEFAULT_DB, show_default=True,
                         help="Database URL: sqlite:///FILE, or mysql+pymysql://USER:PASSWORD@HOST/DB "
                              "(MariaDB or MySQL).")


def _store(url: str, create: bool = False) -> Any:
    """The database of ``--db``; unless ``create``, an SQLite file must exist already
    (SQLite would create an empty one, so a mistyped path would leave a file behind)."""
    try:
        from rrl.storage import Store
    except ImportError as error:
        raise RRLError(f"the database needs the service extra: pip install 'rrl-repair[service]' ({error})") from None
    store = Store(url)  # (names a bad URL; SQLite opens no file before the first query)
    path = store.engine.url.database
    if not create and store.sqlite and path and path != ":memory:" and not path.startswith("file:") \
            and not Path(path).exists():
        raise RRLError(f"--db {url}: no such database file (create it with: rrl db init --db {url})")
    return store


@click.group()
def db() -> None:
    """Keep scenarios and every version of their plans in a database."""


@db.command("init")
@db_option
def db_init(url: str) -> None:
    """Create the tables (existing ones and their data are kept)."""
    store = _store(url, create=True)
    store.init()
    click.echo(f"tables ready in {store.label}")


@db.command("import")
@db_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rule", type=click.Choice(PLAN_RULES), default=None,
              help="Build the plan with this rule (default: the file's schedule, or edd when it has none).")
@json_option
def db_import(url: str, file: Path, rule: str | None, as_json: bool) -> None:
    """Store a scenario file as a new scenario (its plan is version 1); print its id."""
    from rrl.domain.scenario import load_scenario
    from rrl.learning.consult import plan_of

    scenario = load_scenario(file)
    store = _store(url)
    store.init()
    plan = checked(plan_of(scenario, rule, warn=lambda m: click.echo(f"rrl: warning: {m}", err=True)),
                   rule or "scenario")
    source = rule or ("scenario" if scenario.schedule is not None else "edd")
    stored = store.create(scenario.with_schedule(plan.schedule), source=source)
    if as_json:
        print_json({"id": stored.scenario_id, "version": stored.version, "metrics": stored.metrics})
        return
    click.echo(stored.scenario_id)


@db.command("export")
@db_option
@click.argument("scenario_id", type=click.IntRange(1))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Scenario file to write (.yaml, or .json).")
@click.option("--version", "number", type=click.IntRange(1), default=None,
              help="Which version (default: the current one).")
def db_export(url: str, scenario_id: int, out: Path, number: int | None) -> None:
    """Write a scenario with one version's plan as its schedule (a file rrl reads back)."""
    scenario_path(out)
    stored = _store(url).version(scenario_id, number)
    stored.scenario.save(out)
    click.echo(f"scenario {scenario_id} version {stored.version} written to {out}")


@db.command("list")
@db_option
@json_option
def db_list(url: str, as_json: bool) -> None:
    """List the stored scenarios with their current version."""
    rows = _store(url).scenarios()
    if as_json:
        print_json({"scenarios": rows})
        return
    for row in rows:
        click.echo(f"{row['id']}\t{row['name']}\tversion {row['version']}\t{row['created']}")


@click.command(short_help="Serve repairs over HTTP, with a live Gantt page.")
@db_option
@click.option("--policy", "policy_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Policy directory (rrl train). Without it, repairs are a policy-free search: the "
                   "applicable operator of lowest total tardiness, step by step.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port.")
@click.option("--latency-ms", type=FiniteFloat(0.0, upper=MAX_BUDGET_MS), default=LATENCY_MS, show_default=True,
              help="Answer time aimed at when events queue: their repair searches get an equal share of it "
                   "(at least --min-budget-ms each), shrinking as the queue grows; 0: every repair gets the "
                   "library's default budget.")
@click.option("--min-budget-ms", type=FiniteFloat(0.0, upper=MAX_BUDGET_MS), default=MIN_BUDGET_MS, show_default=True,
              help="The least search a queued event gets (the event's own task is examined first, however "
                   "small the budget); 0: an event whose share of --latency-ms is spent is stored unrepaired "
                   "(its plan as the event left it).")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
def serve(url: str, policy_dir: Path | None, host: str, port: int, latency_ms: float, min_budget_ms: float,
          access_log: bool) -> None:
    """Serve the repair service: JSON API under /api, the page at /, OpenAPI at /docs.

    The tables are created when missing. The repairs run in a worker process (two
    processes in all), one event at a time in arrival order; each new plan version is
    validated and written in one transaction before the answer is sent.
    """
    store = _store(url, create=True)
    store.init()
    try:
        import uvicorn

        from rrl.service.app import create_app
    except ImportError as error:
        raise RRLError(f"rrl serve needs the service extra: pip install 'rrl-repair[service]' ({error})") from None
    store.close()  # the worker process opens its own connections
    app = create_app(url, policy_dir, latency_ms, min_budget_ms)
    click.echo(f"rrl serve: http://{host}:{port}/ (API /api, OpenAPI /docs), database {store.label}, "
               f"repairs by {policy_dir or 'the policy-free search'}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=access_log)
