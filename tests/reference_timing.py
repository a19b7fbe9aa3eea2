"""An independent computation of DESIGN section 3, written without rrl's timing code.

``now`` plays no part: in a file, orders starting before it are frozen and the others
start after it anyway, so the literal rules must give the same times. It relaxes every order's start until nothing changes (Bellman-Ford style), which needs
no topological order, and reads the rules straight from the design text.
"""

from __future__ import annotations

from typing import Any


def reference_times(data: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """``{order: (start, end)}`` for a scenario given as a plain dict (file format)."""
    rates = {r["id"]: r["rates"] for r in data["resources"]}
    initial = {r["id"]: r.get("initial_product") for r in data["resources"]}
    downtime = {r["id"]: sorted(tuple(w) for w in r.get("downtime", [])) for r in data["resources"]}
    cleanout = data.get("cleanout", {})
    orders = {o["id"]: o for o in data["orders"]}

    def setup(a: str | None, b: str) -> float:
        if a is None or a == b:
            return 0.0
        return cleanout.get(a, {}).get(b, 0.0)

    placed = []
    for resource, seq in data["schedule"].items():
        for index, order in enumerate(seq):
            placed.append((resource, index, order, seq[index - 1] if index else None))
    start = {order: 0.0 for _, _, order, _ in placed}
    end = {order: 0.0 for _, _, order, _ in placed}
    for _ in range(len(placed) + 2):
        changed = False
        for resource, _, order, previous in placed:
            spec = orders[order]
            dur = spec["size"] / rates[resource][spec["product"]]
            if previous is None:
                gap = setup(initial[resource], spec["product"])
                t = 0.0 + gap
            else:
                gap = setup(orders[previous]["product"], spec["product"])
                t = end[previous] + gap
            t = max([t, spec.get("release", 0.0)] + [end[k] for k in spec.get("after", [])])
            moved = True
            while moved:
                moved = False
                for a, b in downtime[resource]:
                    if t - gap < b and a < t + dur:
                        t = b + gap
                        moved = True
            if abs(t - start[order]) > 1e-12 or abs(t + dur - end[order]) > 1e-12:
                start[order], end[order] = t, t + dur
                changed = True
        if not changed:
            break
    return {o: (start[o], end[o]) for o in start}
