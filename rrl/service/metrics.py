"""What ``GET /api/metrics`` reports: counts and latency percentiles of the service."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Counters:
    """What ``GET /api/metrics`` reports; latencies keep the last ``window`` requests."""

    window: int = 2000
    repairs_served: int = 0
    repairs_failed: int = 0
    validator_rejections: int = 0
    version_conflicts: int = 0
    ppo_schedules: int = 0
    ppo_fallbacks: int = 0
    scenarios_created: int = 0
    started: float = field(default_factory=time.time)
    event_ms: deque[float] = field(default_factory=deque)
    repair_ms: deque[float] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, series: deque[float], ms: float) -> None:
        with self.lock:
            series.append(ms)
            while len(series) > self.window:
                series.popleft()

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            events, repairs = list(self.event_ms), list(self.repair_ms)
        return {
            "repairs_served": self.repairs_served,
            "repairs_failed": self.repairs_failed,
            "validator_rejections": self.validator_rejections,
            "version_conflicts": self.version_conflicts,
            "scenarios_created": self.scenarios_created,
            "ppo": {"schedules": self.ppo_schedules, "fallbacks": self.ppo_fallbacks,
                    "fallback_rate": self.ppo_fallbacks / self.ppo_schedules if self.ppo_schedules else 0.0},
            "latency_ms": {"event": percentiles(events), "repair": percentiles(repairs)},
            "uptime_s": round(time.time() - self.started, 3),
        }


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """Count, p50, p95, p99 and max (nearest rank) of ``values`` in ms."""
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))], 3)

    return {"count": len(ordered), "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99),
            "max": round(ordered[-1], 3)}
