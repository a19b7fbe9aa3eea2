"""Request bodies of the repair service (pydantic): what OpenAPI at ``/docs`` shows.

The scenario body mirrors the scenario file (DESIGN section 2); after pydantic checked
its shape, :func:`rrl.domain.scenario.scenario_from_dict` checks its meaning (products,
eligibility, precedence cycles, the schedule) exactly as for a file. Unknown keys are
refused everywhere, numbers must be finite, strings are never taken for numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rrl.bounds import MAX_BUDGET_MS, MAX_HOURS, MAX_NODE_LIMIT, MAX_STEPS

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ResourceBody(BaseModel):
    """A resource: rates per product (kg/h), optional initial product and downtime windows."""

    model_config = _STRICT
    id: str = Field(min_length=1)
    kind: str = "machine"
    rates: dict[str, float]
    initial_product: str | None = None
    downtime: list[tuple[float, float]] | None = None


class OrderBody(BaseModel):
    """An order (sizes in kg, times in hours)."""

    model_config = _STRICT
    id: str = Field(min_length=1)
    product: str
    size: float
    due: float
    release: float | None = None
    important: bool | None = None
    weight: float | None = None
    after: list[str] | None = None


class ScenarioBody(BaseModel):
    """A scenario as in a scenario file; ``schedule`` is optional (``?rule=`` builds one)."""

    model_config = _STRICT
    name: str | None = None
    products: list[str]
    resources: list[ResourceBody]
    cleanout: dict[str, dict[str, float]] | None = None
    orders: list[OrderBody]
    schedule: dict[str, list[str]] | None = None
    now: float | None = None


EventName = Literal["new_order", "rush_order", "breakdown", "material_delay"]


class EventBody(BaseModel):
    """An event and its options; options not given are drawn from ``seed`` (as ``rrl consult``).

    ``product``, ``size``, ``due``: new_order and rush_order. ``resource``, ``at``,
    ``duration``: breakdown. ``order``, ``release``: material_delay. ``now``: any event.
    ``max_steps``, ``budget_ms`` and ``node_limit`` bound the repair as ``rrl consult``'s flags
    do; without ``budget_ms`` or ``node_limit`` the service picks the budget (the library's
    default, less when events queue). ``name_foci``: whether the stored steps of a walk, a
    block or an exchange name the focus rule their order meets (as ``rrl consult`` prints
    them); by default they do unless a queue shortened the search's budget or spent the
    event's share meanwhile (naming costs a millisecond or two).
    """

    model_config = _STRICT
    event: EventName
    product: str | None = None
    size: float | None = Field(default=None, gt=0, le=MAX_HOURS)
    due: float | None = Field(default=None, ge=-MAX_HOURS, le=MAX_HOURS)
    resource: str | None = None
    at: float | None = Field(default=None, ge=0, le=MAX_HOURS)
    duration: float | None = Field(default=None, gt=0, le=MAX_HOURS)
    order: str | None = None
    release: float | None = Field(default=None, ge=0, le=MAX_HOURS)
    now: float | None = Field(default=None, ge=0, le=MAX_HOURS)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)  # (as the command line takes seeds)
    max_steps: int | None = Field(default=None, ge=1, le=MAX_STEPS)
    budget_ms: float | None = Field(default=None, ge=1, le=MAX_BUDGET_MS)
    node_limit: int | None = Field(default=None, ge=1, le=MAX_NODE_LIMIT)
    name_foci: bool | None = Field(default=None, description="name the focus rule each walk step's order meets "
                                   "(default: unless a queue shortened the search)")

    def options(self) -> dict[str, object]:
        """The event options given (None for the ones to draw), as ``rrl consult`` takes them."""
        return {name: getattr(self, name) for name in
                ("product", "size", "due", "resource", "at", "duration", "order", "release", "now")}
