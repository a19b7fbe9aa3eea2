"""Learning curves of repair-policy training (like Fig. 6 of Palombarini & Martinez).

The input is deliberately plain, so any trainer can feed it: per goal name, a list of
episode records, each a mapping with ``episode``, ``steps`` (repair steps the episode
took) and ``improvement`` (hours of tardiness removed, negative when the repair made
things worse). Raw values are drawn faintly, a trailing moving average boldly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rrl.viz.gantt import new_figure, save_figure

# Goals get fixed colours in the order given; tab10 without its red (tardiness elsewhere).
GOAL_COLORS = ("#1F77B4", "#2CA02C", "#9467BD", "#FF7F0E", "#17BECF", "#8C564B", "#E377C2")
PANELS = (
    ("steps", "repair steps"),
    ("improvement", "tardiness improvement (h)"),
)


def learning_curves(
    curves: Mapping[str, Sequence[Mapping[str, Any]]],
    path: str | os.PathLike[str] | None = None,
    *,
    window: int | None = None,
    title: str | None = None,
    dpi: float = 150,
) -> Figure:
    """Plot steps per episode and tardiness improvement per episode, one line per goal.

    Parameters
    ----------
    curves : mapping of goal name to list of episode records
        Each record has ``episode`` (number), ``steps`` (number) and ``improvement``
        (hours); records may come in any order, they are sorted by ``episode``.
    path : str or PathLike, optional
        When given, the figure is written there atomically (format from the suffix).
    window : int, optional
        Moving-average window in episodes; by default about a twentieth of the longest
        curve (at least 1, at most 50).
    title : str, optional
        Figure title.
    dpi : float
        Resolution when writing a raster file.

    Returns
    -------
    Figure
        The figure, with two axes (steps on top, improvement below) sharing the x axis.

    Raises
    ------
    ValueError
        When a record lacks one of the keys or holds a non-number.
    """
    series = {goal: _columns(goal, records) for goal, records in curves.items()}
    longest = max((len(cols["episode"]) for cols in series.values()), default=0)
    window = window if window is not None else default_window(longest)
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")

    fig = new_figure(9.0, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for index, (goal, cols) in enumerate(series.items()):
        color = GOAL_COLORS[index % len(GOAL_COLORS)]
        for ax, (key, _) in zip((top, bottom), PANELS, strict=True):
            _plot_series(ax, cols["episode"], cols[key], window, color, goal)
    _style(top, bottom, window, bool(series), longest)
    if title:
        fig.suptitle(title, fontweight="bold")
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` values; the first points average what exists so far.

    Partial windows at the start keep the smoothed curve as long as the raw one, so it
    starts at episode 1 rather than at episode ``window``.

    Parameters
    ----------
    values : sequence of float
        The raw series.
    window : int
        Number of values per mean (>= 1).

    Returns
    -------
    numpy.ndarray
        Smoothed series, same length as ``values``.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return data
    sums = np.cumsum(np.insert(data, 0, 0.0))
    index = np.arange(1, data.size + 1)
    lower = np.maximum(index - window, 0)
    return (sums[index] - sums[lower]) / (index - lower)


def default_window(episodes: int) -> int:
    """About 5 % of the episodes, clamped to 1..50."""
    return max(1, min(50, episodes // 20))


def _columns(goal: str, records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """The records of one goal as sorted numeric columns (checks every record)."""
    rows: list[tuple[float, float, float]] = []
    for index, record in enumerate(records):
        try:
            rows.append(
                (float(record["episode"]), float(record["steps"]), float(record["improvement"]))
            )
        except KeyError as error:
            raise ValueError(f"curves[{goal!r}][{index}]: missing key {error}") from None
        except (TypeError, ValueError):
            raise ValueError(f"curves[{goal!r}][{index}]: values must be numbers") from None
    rows.sort()
    table = np.array(rows, dtype=float).reshape(-1, 3)
    return {"episode": table[:, 0], "steps": table[:, 1], "improvement": table[:, 2]}


def _plot_series(
    ax: Axes, x: np.ndarray, y: np.ndarray, window: int, color: str, goal: str
) -> None:
    """Raw values as a thin faint line, the moving average as a bold line with the label."""
    if x.size == 0:
        return
    if window > 1:
        ax.plot(x, y, color=color, linewidth=0.7, alpha=0.25)
    ax.plot(x, moving_average(y, window), color=color, linewidth=2.0, label=goal)


def _style(top: Axes, bottom: Axes, window: int, has_data: bool, longest: int) -> None:
    """Labels, grid, zero line, legend (or a note when there is nothing to show)."""
    for ax, (_, label) in zip((top, bottom), PANELS, strict=True):
        ax.set_ylabel(label)
        ax.grid(color="#E5E5E5", linewidth=0.7)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    # Steps count from zero: a tenth of a step more must not look like a trend.
    top.set_ylim(bottom=0.0)
    bottom.axhline(0.0, color="#777777", linewidth=0.8, zorder=1)
    bottom.set_xlabel("episode")
    smoothing = f"moving average over {window} episodes" if window > 1 else "no smoothing"
    top.set_title(smoothing, loc="right", fontsize=8, color="#555555")
    if has_data and longest:
        top.legend(title="goal", frameon=False, fontsize=9, loc="best")
    else:
        top.text(0.5, 0.5, "no episodes yet", transform=top.transAxes, ha="center", color="#999999")
