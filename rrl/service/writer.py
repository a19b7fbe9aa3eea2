"""The server's half of an event: storing the repair its worker computed.

The worker (:mod:`rrl.service.worker`) repairs event after event from the plan it
computed last, and hands each repair over as a :class:`Repaired`; the server process
writes it with :func:`store_repair` on its own connection and answers once it is
committed. Writing beside the next repair keeps both cores busy under a burst. The
database's guard still decides: a repair computed from a plan that did not make it to
the database raises :class:`~rrl.storage.VersionConflict`, and the event is repaired
again from the database's current version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rrl.domain.scenario import Scenario
from rrl.storage import Store, Version

#: How often an event is repaired again when its version lost to another writer.
RETRIES = 3


@dataclass
class Repaired:
    """A repair computed and not stored yet: what the store needs, and the answer."""

    scenario_id: int
    based_on: int
    scenario: Scenario
    out: dict[str, Any]
    repair: dict[str, Any]
    steps: list[dict[str, Any]]


def store_repair(store: Store, repaired: Repaired) -> tuple[dict[str, Any], Version]:
    """Store a repair as the version after the one it was computed from; return the
    answer (with ``version``) and the stored version.

    Raises
    ------
    VersionConflict
        When the scenario moved on since (nothing written).
    """
    stored = store.append(repaired.scenario_id, repaired.based_on, repaired.scenario, event=repaired.out["event"],
                          repair=repaired.repair, steps=repaired.steps)
    return {**repaired.out, "version": stored.version}, stored
