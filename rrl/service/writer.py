"""The server's half of an event: storing the repair its worker computed.

The worker (:mod:`rrl.service.worker`) repairs event after event from the plan it
computed last, and hands each repair over as a :class:`Repaired`; the server process
writes it with a :class:`Writer` on its own connection and answers once it is
committed. Writing beside the next repair keeps both cores busy under a burst. A repair
computed from a plan that did not make it to the database is refused (a
:class:`~rrl.storage.VersionConflict`), and the event is repaired again from the
database's current version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from rrl.domain.scenario import Scenario
from rrl.storage import Store, StoreError, Version, VersionConflict

#: How often an event is repaired again when its version lost to another writer.
RETRIES = 3


@dataclass
class Repaired:
    """A repair computed and not stored yet: what the store needs, and the answer.

    ``key`` names this repair; ``parent`` the repair whose plan it started from, None when
    it started from a version read from the database.
    """

    scenario_id: int
    based_on: int
    scenario: Scenario
    out: dict[str, Any]
    repair: dict[str, Any]
    steps: list[dict[str, Any]]
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    parent: str | None = None


class Unstored(VersionConflict):
    """The repair started from a plan that was never stored; nothing was written."""

    def __init__(self, scenario_id: int, based_on: int) -> None:
        StoreError.__init__(self, f"scenario {scenario_id}: the plan this repair started from was not stored")
        self.scenario_id, self.expected, self.found = scenario_id, based_on, -1


class Writer:
    """Stores repairs, one at a time, each as the version after the one it started from.

    A repair that started from another repair's plan (not yet stored when it was
    computed) is stored only if that repair was the last this writer stored on the
    scenario. The database's guard compares version numbers alone, and a plan that
    never reached the database may carry the number of one that did (another server's,
    or this one's own retry): what was built on it must not be stored.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last: dict[int, str] = {}  # scenario -> key of the last repair stored

    def __call__(self, repaired: Repaired) -> tuple[dict[str, Any], Version]:
        """Store ``repaired``; return the answer (with ``version``) and the stored version.

        Raises
        ------
        VersionConflict
            When the scenario moved on since, or (:class:`Unstored`) the plan the repair
            started from was not stored (nothing written either way).
        """
        sid = repaired.scenario_id
        if repaired.parent is not None and self._last.get(sid) != repaired.parent:
            raise Unstored(sid, repaired.based_on)
        try:
            stored = self.store.append(sid, repaired.based_on, repaired.scenario, event=repaired.out["event"],
                                       repair=repaired.repair, steps=repaired.steps)
        except BaseException:
            self._last.pop(sid, None)
            raise
        self._last[sid] = repaired.key
        return {**repaired.out, "version": stored.version}, stored
