"""Consult mode as one function: a scenario, an event and a policy give a repair.

``rrl consult`` and the repair service (``rrl serve``) both call :func:`consult` and
print or store :func:`consult_json`, so a repair served over HTTP is the one the command
line prints for the same input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rrl.bounds import MAX_HOURS
from rrl.domain.plan import Plan
from rrl.domain.scenario import Scenario, scenario_of
from rrl.errors import RRLError
from rrl.learning.agent import DEFAULT_MAX_STEPS, RepairAgent, RepairResult

#: Which events each event option belongs to (``now`` belongs to every event).
EVENT_OPTIONS: dict[str, tuple[str, ...]] = {
    "product": ("new_order", "rush_order"), "size": ("new_order", "rush_order"), "due": ("new_order", "rush_order"),
    "resource": ("breakdown",), "at": ("breakdown",), "duration": ("breakdown",),
    "order": ("material_delay",), "release": ("material_delay",),
}


def check_event_options(event: str, given: dict[str, Any], prefix: str = "--") -> None:
    """Refuse an option given for an event it does not belong to (``prefix`` names options)."""
    for name, value in given.items():
        if value is None or name == "now":
            continue
        if name not in EVENT_OPTIONS:
            raise RRLError(f"{prefix}{name} is not an event option")
        if event not in EVENT_OPTIONS[name]:
            raise RRLError(f"{prefix}{name} does not apply to {event} (it is for {', '.join(EVENT_OPTIONS[name])})")


def check_size(scenario: Scenario, product: str | None, size: float, prefix: str = "--") -> None:
    """Refuse a new order that no resource could process within :data:`rrl.bounds.MAX_HOURS`."""
    rates = [rate for r in scenario.plant.resources.values() for p, rate in r.rates.items()
             if product is None or p == product]
    if rates and size / min(rates) > MAX_HOURS:
        raise RRLError(f"{prefix}size {size:g}: takes {size / min(rates):g} h on the slowest resource, more than "
                       f"the {MAX_HOURS:g} h rrl times exactly (docs/security.md)")


def plan_of(scenario: Scenario, rule: str | None = None, model: Path | None = None,
            warn: Callable[[str], None] | None = None) -> Plan:
    """The plan to disrupt: the scenario's schedule, or the one ``rule`` builds.

    Without ``rule`` and without a schedule in the scenario, the EDD plan. With ``ppo``, a
    rejected PPO schedule is replaced by the safety wrapper's fallback, and ``warn`` hears why.
    """
    if rule is None and scenario.schedule is not None:
        return scenario.plan()
    if rule == "ppo":
        from rrl.generative.safety import ppo_schedule

        result = ppo_schedule(scenario.problem, model, keep=scenario.schedule)
        if result.fallback and warn is not None:
            warn(f"PPO schedule rejected ({result.reason}); repairing the {result.source} plan")
        return result.plan
    from rrl.dispatching import dispatch

    return Plan.build(scenario.problem, dispatch(scenario.problem, rule or "edd", keep=scenario.schedule))


def consult(agent: RepairAgent, scenario: Scenario, event: str, *, seed: int = 0, max_steps: int | None = None,
            budget_ms: float | None = None, node_limit: int | None = None, focus_width: int | None = None,
            rule: str | None = None, model: Path | None = None, warn: Callable[[str], None] | None = None,
            prefix: str = "--", stop: Callable[[], bool] | None = None, name_foci: bool | Callable[[], bool] = False,
            **given: Any) -> RepairResult:
    """Repair the scenario's plan after ``event`` with ``agent`` (what ``rrl consult`` does).

    ``given`` holds the event's options (None: drawn from ``seed``); an option that does
    not belong to the event, or an order too large to time exactly, raises
    :class:`RRLError` naming the option with ``prefix`` (``--`` for the command line).
    ``budget_ms`` bounds the repair's search (None: the agent's default); ``node_limit``
    bounds it by a count instead, the same on any machine (:meth:`RepairAgent.repair`);
    ``focus_width`` replaces the foci per reason the agent would take on this plan;
    ``stop`` may end it sooner (see :func:`~rrl.learning.search.beam_search`); ``name_foci``
    names the focus rule each walk, block or exchange step meets (:meth:`RepairAgent.repair`).
    The result is not validated here: callers check ``result.plan`` against
    ``result.before`` before they output it.
    """
    check_event_options(event, given, prefix)
    if given.get("size") is not None:
        check_size(scenario, given.get("product"), float(given["size"]), prefix)
    plan = plan_of(scenario, rule, model, warn)
    return agent.repair(plan, event, seed=seed, max_steps=max_steps, budget_ms=budget_ms, node_limit=node_limit,
                        focus_width=focus_width, stop=stop, name_foci=name_foci, **given)


def search_agent(goal: str = "tardiness", max_steps: int = DEFAULT_MAX_STEPS) -> RepairAgent:
    """A repair agent without a learned policy, for when there is none to consult.

    Every action gets the same value (an untrained agent's Q = 0), so the tie-break by the
    goal's cost decides: :meth:`RepairAgent.repair`'s search (moving focus, beam, budget)
    ranks candidate steps by the goal's cost alone, keeps the best plan seen, and never
    returns one worse than the disrupted plan. Foci still come from the background
    knowledge's rules; steps carry no Q-tree rule.
    """
    from rrl.domain.plant import Plant

    return RepairAgent(Plant(products=(), resources={}), goal, learner="propositional", tie_break="cost",
                       max_steps=max_steps)


def consult_json(result: RepairResult, name: str, scenario: Scenario | None = None) -> dict[str, Any]:
    """The JSON object of DESIGN section 7 for a repair (``scenario``: the repaired plan's
    :func:`~rrl.domain.scenario.scenario_of`, when the caller has it already)."""
    printed = scenario if scenario is not None else scenario_of(result.plan, name)
    return {
        "event": result.event,
        "initial": result.before.metrics.to_dict(),
        "disrupted": result.disrupted.metrics.to_dict(),
        "repaired": result.plan.metrics.to_dict(),
        "steps": [s.to_dict() for s in result.steps],
        "scenario": printed.to_dict(),
        "seconds": result.seconds,
    }
