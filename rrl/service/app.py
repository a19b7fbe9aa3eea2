"""The HTTP layer of ``rrl serve`` (FastAPI): JSON endpoints, the web page, OpenAPI at /docs.

Every call into :class:`~rrl.service.core.RepairService` runs in one worker process
(:mod:`rrl.service.worker`: the SWI-Prolog engine lives there); this process speaks HTTP
and writes the versions the worker computes (:mod:`rrl.service.writer`). The worker
takes calls one at a time in the order they were sent, so events are applied in arrival
order: versions are written one after the other, each in one transaction, never one
computed from a plan that was not stored, and the database's own guard (see
:mod:`rrl.storage.store`) refuses a version computed from an outdated plan when several
server processes share one database.

Errors are JSON ``{"error": "<one line>"}``: 422 for a body or an event that does not
fit, 404 for an unknown scenario or version, 409 when another writer kept winning,
500 when the validator refused a computed plan (nothing stored), 503 when the
database cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from rrl import __version__
from rrl.service import LATENCY_MS, MIN_BUDGET_MS
from rrl.service.metrics import Counters, percentiles
from rrl.service.models import EventBody, ScenarioBody
from rrl.service.worker import Refused, Worker, message_of, status_of
from rrl.service.writer import RETRIES, Writer
from rrl.storage import Store, StoreError, VersionConflict

STATIC = Path(__file__).resolve().parent / "static"


def json_response(data: Any, status: int = 200) -> Response:
    """JSON without FastAPI's encoder pass (the data is plain JSON types already)."""
    return Response(json.dumps(data, separators=(",", ":"), allow_nan=False), status_code=status,
                    media_type="application/json")


def error(status: int, message: str) -> Response:
    """The one error shape of the API."""
    line = " ".join(str(message).split())
    return json_response({"error": line}, status)


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "body" and not out:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def create_app(url: str, policy: str | Path | None = None, latency_ms: float = LATENCY_MS,
               min_budget_ms: float = MIN_BUDGET_MS) -> FastAPI:
    """The application: a service over the database at ``url``, repairing with ``policy``
    (or the search), in a worker process (:class:`~rrl.service.worker.Worker`).

    ``latency_ms`` is the answer time the service aims at when events queue on a scenario
    (their search budgets shrink to fit it, down to ``min_budget_ms``); 0 gives every
    repair the library's default.

    Raises
    ------
    RRLError
        When the worker cannot start (a bad policy, an unreachable database).
    """
    # This process writes the versions the worker computes, on its own connection and
    # thread, while the worker goes on with the next event.
    store = Store(url)
    try:
        worker = Worker(url, policy, latency_ms, min_budget_ms)
    except BaseException:
        store.close()
        raise
    writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rrl-store")
    writer = Writer(store)  # used on that one thread only
    answered = Counters()  # events as the client sees them: served, conflicts, latencies

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        close()

    def close() -> None:
        worker.close()
        writes.shutdown(wait=True)
        store.close()

    async def event(scenario_id: int, body: EventBody, deadline: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for attempt in range(RETRIES):
            repaired = await worker.call("repair_event", scenario_id, body.event, body.options(), seed=body.seed,
                                         max_steps=body.max_steps, budget_ms=body.budget_ms,
                                         node_limit=body.node_limit, name_foci=body.name_foci,
                                         deadline=deadline, fresh=attempt > 0)
            try:
                out, _ = await loop.run_in_executor(writes, writer, repaired)
            except StoreError as exc:
                await worker.call("forget", scenario_id)  # the next event must not start from it
                if isinstance(exc, VersionConflict):
                    answered.version_conflicts += 1
                    if attempt < RETRIES - 1:
                        continue
                raise Refused(status_of(exc) or 503, message_of(exc)) from None
            except Exception:
                await worker.call("forget", scenario_id)
                raise
            answered.repairs_served += 1
            return out
        raise AssertionError("unreachable")

    app = FastAPI(
        lifespan=lifespan,
        title="rrl repair service",
        version=__version__,
        description="Plans of batch plants in a database; events repaired by a learned relational policy "
                    "(DESIGN section 11). Errors are `{\"error\": \"<one line>\"}`.",
    )
    app.state.worker = worker
    app.state.close = close  # what the lifespan's end does, for a caller that runs no lifespan

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        first: dict[str, Any] = dict(exc.errors()[0]) if exc.errors() else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            return error(422, f"body: not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})")
        where = _location(tuple(first.get("loc", ())))
        return error(422, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> Response:
        return error(exc.status, str(exc))

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> Response:
        # (the server still logs the traceback)
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/scenarios", summary="Every stored scenario")
    async def list_scenarios() -> Response:
        return json_response(await worker.call("scenario_list"))

    @app.post("/api/scenarios", status_code=201, summary="Store a scenario as version 1")
    async def create_scenario(body: ScenarioBody, rule: str | None = None) -> Response:
        """Body: a scenario (DESIGN section 2). ``?rule=R`` builds its plan with a dispatching rule or
        ``ppo`` (safety wrapper: an invalid PPO schedule falls back to a rule, counted in /api/metrics);
        without it the scenario's own schedule, or EDD. Returns ``{"id", "version", "metrics"}``."""
        from rrl.cli.schedule import PLAN_RULES

        if rule is not None and rule not in PLAN_RULES:
            return error(422, f"rule: unknown rule '{rule}' (expected one of {', '.join(PLAN_RULES)})")
        data = body.model_dump(mode="json", exclude_none=True)
        return json_response(await worker.call("post_scenario", data, rule), 201)

    @app.get("/api/scenarios/{scenario_id}", summary="The scenario with its current plan")
    async def get_scenario(scenario_id: int) -> Response:
        """The scenario (file format) with the current plan as ``schedule``, plus ``metrics``,
        ``version`` and ``plan`` (times of every order, for charts)."""
        return json_response(await worker.call("scenario_view", scenario_id))

    @app.post("/api/scenarios/{scenario_id}/events", summary="Repair the current plan after an event")
    async def post_event(scenario_id: int, body: EventBody) -> Response:
        """Returns the object of ``rrl consult --json`` for the current plan and this event, plus the
        stored ``version``. Events are applied one at a time, in arrival order."""
        arrived = time.perf_counter()
        worker.arrive()
        try:
            # Sent at once, not after the previous answer: the worker takes its calls in the
            # order they were sent and one at a time, each from the plan it computed before,
            # and never waits for this process to store one (writer.py).
            # (time.perf_counter is one clock in both processes: CLOCK_MONOTONIC.)
            out = await event(scenario_id, body, arrived + worker.latency_ms / 1000.0)
        finally:
            worker.leave()
        answered.record(answered.event_ms, (time.perf_counter() - arrived) * 1000)
        return json_response(out)

    @app.get("/api/scenarios/{scenario_id}/versions", summary="The version history")
    async def list_versions(scenario_id: int) -> Response:
        """``[{"version", "event", "metrics", "created", "source"}]``, oldest first."""
        return json_response(await worker.call("version_list", scenario_id))

    @app.get("/api/scenarios/{scenario_id}/versions/{version}", summary="One version in full")
    async def get_version(scenario_id: int, version: int) -> Response:
        """The version's scenario and plan, its metrics, the event, and the repair: its steps with
        the rule that proposed each one's focus and the policy's rule that values it."""
        return json_response(await worker.call("version_detail", scenario_id, version))

    @app.get("/api/metrics", summary="Service figures")
    async def metrics() -> Response:
        """Repairs served and failed, validator rejections, version conflicts, the fallback rate of
        PPO schedules, latency percentiles (ms) of events and of the repairs themselves, and the
        repair worker (its pid, and how often it was restarted after it died)."""
        data = await worker.call("metrics")
        with answered.lock:
            events = list(answered.event_ms)
        data["latency_ms"]["event"] = percentiles(events)
        data["repairs_served"], data["version_conflicts"] = answered.repairs_served, answered.version_conflicts
        data["worker"] = {"pid": data.pop("pid"), "restarts": worker.restarts}
        return json_response(data)

    return app
