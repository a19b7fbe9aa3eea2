"""Pictures of an evaluation: how repair methods compare on the same held-out cases.

The spread of repaired tardiness per method, and the stability front: total tardiness
against moved orders (resource or immediate predecessor changed), where a repair that is
lower and further left than another dominates it. Each case is a faint dot, each
method's mean a large marker.
"""

from __future__ import annotations

import os
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rrl.viz.gantt import new_figure, save_figure


def repair_comparison(report: Any, path: str | os.PathLike[str] | None = None) -> Figure:
    """Two panels for an :class:`~rrl.learning.evaluate.Evaluation`: the spread of
    repaired tardiness per method, and the stability front."""
    fig = new_figure(13.0, 4.8)
    spread, front = fig.subplots(1, 2)
    names = list(report.methods)
    spread.boxplot([report.methods[n].per_case for n in names], showmeans=True)
    spread.set_xticks(range(1, len(names) + 1), names, rotation=25, ha="right")
    spread.axhline(report.disrupted_tardiness, color="tab:red", linestyle="--", label="disrupted (mean)")
    spread.axhline(report.before_tardiness, color="tab:green", linestyle=":", label="before the event (mean)")
    spread.set_ylabel("total tardiness after repair (h)")
    spread.set_title(f"Repairs of the same {report.cases} held-out cases (mean: triangle)")
    spread.legend(loc="upper right")
    _front(front, report)
    if path is not None:
        save_figure(fig, path)
    return fig


def stability_front(report: Any, path: str | os.PathLike[str] | None = None) -> Figure:
    """The stability front alone: total tardiness against moved orders per method."""
    fig = new_figure(7.0, 4.8)
    _front(fig.subplots(1, 1), report)
    if path is not None:
        save_figure(fig, path)
    return fig


def _front(ax: Axes, report: Any) -> None:
    for k, (name, summary) in enumerate(report.methods.items()):
        color = f"C{k % 10}"
        ax.scatter(summary.per_case_moved, summary.per_case, s=8, alpha=0.25, color=color)
        ax.scatter([summary.moved_orders], [summary.total_tardiness], s=90, color=color, edgecolor="black",
                   label=name, zorder=3)
    ax.set_xlabel("moved orders (resource or predecessor changed)")
    ax.set_ylabel("total tardiness after repair (h)")
    ax.set_title("Tardiness against stability (each case, and the mean)")
    ax.grid(color="#E5E5E5", linewidth=0.7)
    ax.legend(loc="upper right", fontsize="small", frameon=False)
