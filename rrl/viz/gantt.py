"""Gantt charts of plans and strips of repair steps (like Fig. 7 of Palombarini & Martinez).

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, never through
``pyplot``: nothing is registered in pyplot's global figure list, so nothing leaks and no
window ever opens, whatever backend the caller has selected.

Reading a chart: one row per resource; a bar per order, coloured by product and labelled
``id · product`` when it is wide enough; orange hatched blocks are cleanouts; grey hatched
blocks are downtime; a red edge (and ``+x.x h`` above the bar) marks a tardy order; a thick
black outline marks the focal task(s); faded bars are frozen orders, left of the ``now`` line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from rrl._io import atomic_file
from rrl.domain.plan import Plan

# Product colours avoid orange, red and grey: those mean cleanout, tardiness and downtime.
PRODUCT_PALETTE = (
    "#4E79A7",  # blue
    "#59A14F",  # green
    "#B07AA1",  # purple
    "#76B7B2",  # teal
    "#EDC948",  # yellow
    "#9C755F",  # brown
    "#A0CBE8",  # light blue
    "#8CD17D",  # light green
    "#D4A6C8",  # light purple
    "#F1CE63",  # light yellow
    "#86BCB6",  # light teal
    "#D7B5A6",  # light brown
)
CLEANOUT_FACE = "#F28E2B"
CLEANOUT_EDGE = "#A85A12"
DOWNTIME_FACE = "#C8C8C8"
DOWNTIME_EDGE = "#7A7A7A"
TARDY = "#D62728"
FOCAL = "#111111"
NOW = "#1F3B73"
PAST = "#C9D3E3"  # drawn translucent over the row stripes
STRIPE = "#FAFAFA"

BAR_HEIGHT = 0.58  # fraction of a row taken by order bars; the rest keeps rows apart
DOWN_HEIGHT = 0.86  # downtime blocks are taller than bars, so they read as "behind"
FOCAL_PAD = 0.05  # rows between a focal bar and its outline
CARET_LIFT = FOCAL_PAD + 0.05  # below the bar and clear of a focal outline
FROZEN_ALPHA = 0.38
CHAR_WIDTH = 0.6  # average glyph width in em, to guess a label's width before drawing
MIN_FONT = 4.5  # below this a label is unreadable: leave it out
MAX_FONT = 8.5

FIG_WIDTH = 13.0  # inches
ROW_INCHES = 0.7
MIN_HEIGHT = 3.4
MAX_HEIGHT = 24.0  # 152 machines still fit on a (tall) page; more rows just get thinner
LEGEND_INCHES = 1.9  # room the outside legend takes, used to estimate the axes width
MARGIN_INCHES = 1.4  # room for row labels plus padding


@dataclass(frozen=True)
class _Scale:
    """How data units map to paper, estimated before layout so labels can be chosen.

    ``hour_in``: inches per hour on the x axis; ``row_pt``: points per resource row.
    """

    hour_in: float
    row_pt: float

    def fits(self, text: str, hours: float, fontsize: float) -> bool:
        """True when ``text`` at ``fontsize`` fits in a bar ``hours`` wide (with padding)."""
        text_in = len(text) * fontsize * CHAR_WIDTH / 72.0
        return text_in + 0.06 <= hours * self.hour_in

    @property
    def label_font(self) -> float:
        """Font size for text inside bars (0 when rows are too thin for any text)."""
        size = min(MAX_FONT, self.row_pt * BAR_HEIGHT * 0.6)
        return size if size >= MIN_FONT else 0.0

    @property
    def tardy_edge(self) -> float:
        """Line width of a tardy bar's red edge: thinner on thin rows, where it would swamp the bar."""
        return 1.8 if self.row_pt >= 24 else 1.0

    @property
    def gap_font(self) -> float:
        """Font size for text in the gap above a bar (0 when the gap is too thin)."""
        size = min(MAX_FONT - 1.0, self.row_pt * ((1.0 - BAR_HEIGHT) / 2.0 - FOCAL_PAD) * 1.1)
        return size if size >= MIN_FONT else 0.0


# ---------------------------------------------------------------------------------------
# Public API


def gantt(
    plan: Plan,
    *,
    focal: str | Iterable[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    show_due: bool | None = None,
    xlim: tuple[float, float] | None = None,
    legend: bool = True,
    colors: dict[str, str] | None = None,
) -> Figure:
    """Draw ``plan`` as a Gantt chart.

    Parameters
    ----------
    plan : Plan
        The timed schedule to draw.
    focal : str or iterable of str, optional
        Order id(s) to highlight with a thick outline (the deictic focal task); ids that
        are not in the plan are ignored.
    title : str, optional
        Shown on the left above the chart; the right side always shows total tardiness,
        tardy orders, cleanout and makespan.
    ax : Axes, optional
        Draw into these axes instead of a new figure (the figure size is then the
        caller's business).
    show_due : bool, optional
        Draw due dates as small carets above the bars; by default only when the plan has
        at most 80 orders (more would be noise).
    xlim : (float, float), optional
        Time range in hours; by default from 0 to just past the last event.
    legend : bool
        Add the legend (products, cleanout, downtime, tardy, focal, frozen) right of the axes.
    colors : dict of product to colour, optional
        Product colours; by default :func:`product_colors` of the plant's products.

    Returns
    -------
    Figure
        The figure holding the chart (``ax``'s figure when ``ax`` is given).
    """
    focal_ids = _as_ids(focal)
    plant = plan.problem.plant
    n_rows = len(plant.resources)
    if ax is None:
        fig = new_figure(FIG_WIDTH, figure_height(n_rows))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    colors = colors if colors is not None else product_colors(plant.products)
    lo, hi = xlim if xlim is not None else time_range([plan])
    scale = _estimate_scale(ax, hi - lo, n_rows, legend)
    if show_due is None:
        show_due = _due_by_default(plan)

    _draw_rows(ax, plan, lo, hi, scale)
    _draw_downtime(ax, plan, lo, hi, scale)
    _draw_now(ax, plan.problem.now, lo, scale)
    _draw_orders(ax, plan, colors, focal_ids, scale)
    if show_due:
        _draw_due(ax, plan, colors)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("time (h)")
    if title:
        ax.set_title(title, loc="left", fontweight="bold", fontsize=11)
    ax.set_title(summary(plan), loc="right", fontsize=9, color="#333333")
    if legend:
        handles = legend_handles(plan, colors, focal_ids, show_due)
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize=8,
            handlelength=1.6,
            handleheight=1.2,
        )
    return fig


def save_gantt(plan: Plan, path: str | os.PathLike[str], *, dpi: float = 150, **kw: Any) -> Path:
    """Draw ``plan`` with :func:`gantt` and write it to ``path`` atomically.

    Parameters
    ----------
    plan : Plan
        The timed schedule to draw.
    path : str or PathLike
        Target file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``, ...).
    dpi : float
        Resolution of raster formats.
    **kw
        Passed on to :func:`gantt` (``focal``, ``title``, ``show_due``, ...), except ``ax``.

    Returns
    -------
    Path
        The written file.
    """
    if "ax" in kw:
        raise TypeError(
            "save_gantt draws its own figure; call gantt(ax=...) and save_figure instead"
        )
    fig = gantt(plan, **kw)
    try:
        return save_figure(fig, path, dpi=dpi)
    finally:
        close_figure(fig)


def repair_strip(
    plans: Sequence[Plan],
    *,
    steps: Sequence[str] | None = None,
    focal: str | Iterable[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    dpi: float = 150,
) -> Figure:
    """Stack one Gantt chart per repair step, on a common time axis (Fig. 7 of the paper).

    Parameters
    ----------
    plans : sequence of Plan
        The plans in order: the initial (disrupted) plan, then the plan after each step.
    steps : sequence of str, optional
        The operator of each transition (``len(plans) - 1`` of them); panel ``k + 1`` is
        titled with ``steps[k]``.
    focal : str or iterable of str, optional
        Order id(s) outlined in every panel.
    path : str or PathLike, optional
        When given, the strip is also written there (atomically).
    dpi : float
        Resolution when writing a raster file.

    Returns
    -------
    Figure
        The strip; panel ``k`` is ``fig.axes[k]`` and has ``TT = xx.xx h`` under it.
    """
    if not plans:
        raise ValueError("repair_strip needs at least one plan")
    if steps is not None and len(steps) != len(plans) - 1:
        raise ValueError(f"{len(plans)} plans need {len(plans) - 1} steps, got {len(steps)}")
    focal_ids = _as_ids(focal)
    products = _all_products(plans)
    colors = product_colors(products)
    xlim = time_range(plans)
    rows = max(len(p.problem.plant.resources) for p in plans)
    panel = min(figure_height(rows) - 0.6, 8.0)
    fig = new_figure(FIG_WIDTH, min(0.9 + panel * len(plans), 60.0))
    axes = fig.subplots(len(plans), 1, squeeze=False)[:, 0]
    for index, (plan, ax) in enumerate(zip(plans, axes, strict=True)):
        gantt(
            plan,
            focal=focal_ids,
            ax=ax,
            xlim=xlim,
            legend=False,
            colors=colors,
            title=_panel_title(index, steps),
        )
        ax.set_title("", loc="right")  # the TT goes under the panel instead
        ax.set_xlabel(f"TT = {plan.total_tardiness:.2f} h", fontweight="bold", fontsize=10)
    fig.supxlabel("time (h)", fontsize=9, color="#555555")
    handles = _merge_handles(
        legend_handles(p, colors, focal_ids, _due_by_default(p)) for p in plans
    )
    fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize=8)
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


# ---------------------------------------------------------------------------------------
# Figures and files (shared with rrl.viz.curves)


def new_figure(width: float, height: float) -> Figure:
    """A figure with an Agg canvas and constrained layout, unknown to pyplot.

    Parameters
    ----------
    width, height : float
        Size in inches.

    Returns
    -------
    Figure
        A new, empty figure.
    """
    fig = Figure(figsize=(width, height), layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def figure_height(n_rows: int) -> float:
    """Figure height (inches) for ``n_rows`` resources: grows per row, capped."""
    return max(MIN_HEIGHT, min(MAX_HEIGHT, 1.5 + ROW_INCHES * n_rows))


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: float = 150) -> Path:
    """Write ``fig`` to ``path`` through a temporary file in the same directory.

    The file appears complete or not at all: a crash while rendering leaves neither a
    half-written target nor a stray temporary file.

    Parameters
    ----------
    fig : Figure
        The figure to write.
    path : str or PathLike
        Target file; matplotlib infers the format from the suffix (PNG when none).
    dpi : float
        Resolution of raster formats.

    Returns
    -------
    Path
        The written file.
    """
    target = Path(path)
    fmt = target.suffix[1:].lower() or "png"
    with atomic_file(target, "wb") as stream:
        fig.savefig(stream, format=fmt, dpi=dpi, facecolor=fig.get_facecolor())
    return target


def close_figure(fig: Figure) -> None:
    """Release a figure: drop its artists and, if pyplot manages it, close it there."""
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt  # only when the caller already uses pyplot

        plt.close(fig)
    fig.clear()


# ---------------------------------------------------------------------------------------
# Colours, ranges, text


def product_colors(products: Iterable[str]) -> dict[str, str]:
    """A stable colour per product (in the given order), from a palette without orange/red.

    Parameters
    ----------
    products : iterable of str
        Product names, e.g. ``plant.products``.

    Returns
    -------
    dict of str to str
        Hex colour per product.
    """
    names = list(dict.fromkeys(products))
    if len(names) <= len(PRODUCT_PALETTE):
        return {p: PRODUCT_PALETTE[i] for i, p in enumerate(names)}
    # Many products: spread them over a perceptually ordered map instead of repeating colours.
    cmap = colormaps["viridis"]
    return {p: _hex(cmap(i / max(1, len(names) - 1))) for i, p in enumerate(names)}


def time_range(plans: Iterable[Plan]) -> tuple[float, float]:
    """The x range (hours) that shows every order, cleanout and ``now`` of ``plans``.

    Downtime far past the last order is not worth stretching the axis for; it is cut off.
    """
    hi = 0.0
    for plan in plans:
        ends = plan.times.end.values()
        hi = max(hi, max(ends, default=0.0), plan.problem.now)
    hi = hi if hi > 0 else 1.0
    return 0.0, hi * 1.03 + 0.2


def summary(plan: Plan) -> str:
    """One line of key figures: total tardiness, tardy orders, cleanout, makespan."""
    m = plan.metrics
    return (
        f"TT = {m.total_tardiness:.2f} h  ·  {m.tardy_orders} tardy  ·  "
        f"cleanout {m.total_cleanout:.1f} h  ·  makespan {m.makespan:.1f} h"
    )


def legend_handles(
    plan: Plan, colors: dict[str, str], focal: frozenset[str], show_due: bool = False
) -> list[Any]:
    """Legend entries for what ``plan`` actually shows: products first, then the marks."""
    times = plan.times
    orders = plan.problem.orders
    used = {orders[o].product for o in plan.schedule.orders()}
    handles: list[Any] = [
        Patch(facecolor=colors[p], edgecolor=_darker(colors[p]), label=f"product {p}")
        for p in plan.problem.plant.products
        if p in used
    ]
    if any(s > 0 for s in times.setup.values()):
        handles.append(_cleanout_patch(label="cleanout"))
    if any(r.downtime for r in plan.problem.plant.resources.values()):
        handles.append(_downtime_patch(label="downtime"))
    if show_due:
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                marker="^",
                linestyle="none",
                markersize=5,
                label="due date",
            )
        )
    if plan.metrics.tardy_orders:
        handles.append(
            Patch(facecolor="white", edgecolor=TARDY, linewidth=1.8, label="tardy (+h late)")
        )
    if focal & set(times.start):
        handles.append(Patch(facecolor="white", edgecolor=FOCAL, linewidth=2.6, label="focal task"))
    if plan.problem.frozen:
        handles.append(
            Patch(
                facecolor="#8A8A8A",
                edgecolor="#555555",
                alpha=FROZEN_ALPHA,
                label="frozen (started)",
            )
        )
    if plan.problem.now > 0:
        handles.append(Line2D([], [], color=NOW, linestyle="--", label="now"))
    return handles


# ---------------------------------------------------------------------------------------
# Drawing


def _draw_rows(ax: Axes, plan: Plan, lo: float, hi: float, scale: _Scale) -> None:
    """Row labels (id and kind), light stripes on every other row, a vertical grid."""
    resources = list(plan.problem.plant.resources.values())
    n = len(resources)
    two_lines = scale.row_pt >= 22
    font = max(4.0, min(9.0, scale.row_pt * (0.38 if two_lines else 0.75)))
    ax.set_yticks(range(n))
    ax.set_yticklabels(
        [f"{r.id}\n{r.kind}" if two_lines else f"{r.id} ({r.kind})" for r in resources],
        fontsize=font,
    )
    for i in range(1, n, 2):
        ax.axhspan(i - 0.5, i + 0.5, color=STRIPE, zorder=0, linewidth=0)
    ax.set_ylim(max(n, 1) - 0.5, -0.5)  # first resource on top
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#E3E3E3", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if n and scale.label_font:
        for i, r in enumerate(resources):
            if not plan.schedule.sequence(r.id):
                ax.text(
                    lo + 0.01 * (hi - lo),
                    i,
                    "no orders",
                    va="center",
                    fontsize=scale.label_font,
                    color="#999999",
                    style="italic",
                )


def _draw_downtime(ax: Axes, plan: Plan, lo: float, hi: float, scale: _Scale) -> None:
    """Grey hatched blocks over each resource's downtime windows (clipped to the x range)."""
    for row, resource in enumerate(plan.problem.plant.resources.values()):
        for a, b in resource.downtime:
            a, b = max(a, lo), min(b, hi)
            if b <= a:
                continue
            patch = _downtime_patch()
            patch.set_bounds(a, row - DOWN_HEIGHT / 2, b - a, DOWN_HEIGHT)
            patch.set_gid(f"downtime:{resource.id}")
            ax.add_patch(patch)
            font = scale.label_font
            if font and scale.fits("down", b - a, font):
                ax.text(
                    (a + b) / 2,
                    row,
                    "down",
                    ha="center",
                    va="center",
                    fontsize=font - 1,
                    color="#444444",
                    zorder=2,
                    # a white pad keeps the word legible on top of the hatching
                    bbox={
                        "boxstyle": "round,pad=0.2",
                        "facecolor": "white",
                        "edgecolor": "none",
                        "alpha": 0.85,
                    },
                )


def _draw_now(ax: Axes, now: float, lo: float, scale: _Scale) -> None:
    """Shade the past and draw a dashed line at ``now`` (only when the clock has moved)."""
    if now <= 0:
        return
    ax.axvspan(lo, now, color=PAST, alpha=0.3, zorder=0.5, linewidth=0)
    ax.axvline(now, color=NOW, linestyle="--", linewidth=1.3, zorder=6)
    ax.annotate(
        f"now {now:g} h",
        xy=(now, 1.0),
        xycoords=("data", "axes fraction"),
        # Left of the line: the past holds frozen orders, whose marks matter less than the
        # lateness labels of the orders still to come.
        xytext=(-3, -2),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize=8,
        color=NOW,
        fontweight="bold",
        zorder=7,
        bbox={
            "boxstyle": "round,pad=0.15",
            "facecolor": "white",
            "edgecolor": "none",
            "alpha": 0.8,
        },
    )


@dataclass(frozen=True)
class _Bar:
    """What the drawing helpers need to know about one scheduled order."""

    order: str
    product: str
    row: int
    start: float
    end: float
    setup: float
    late: float
    color: str
    frozen: bool
    focal: bool

    @property
    def hours(self) -> float:
        """Processing time, the bar's width."""
        return self.end - self.start

    @property
    def tardy(self) -> bool:
        """True when the order ends after its due date (beyond float noise)."""
        return self.late > 1e-9


def _bars(plan: Plan, colors: dict[str, str], focal: frozenset[str]) -> Iterator[_Bar]:
    """Every scheduled order as a :class:`_Bar`, resource by resource."""
    times = plan.times
    orders = plan.problem.orders
    frozen = plan.problem.frozen
    for row, resource in enumerate(plan.problem.plant.resources):
        for order in plan.schedule.sequence(resource):
            product = orders[order].product
            yield _Bar(
                order=order,
                product=product,
                row=row,
                start=times.start[order],
                end=times.end[order],
                setup=times.setup[order],
                late=plan.tardiness(order),
                color=colors[product],
                frozen=order in frozen,
                focal=order in focal,
            )


def _draw_orders(
    ax: Axes, plan: Plan, colors: dict[str, str], focal: frozenset[str], scale: _Scale
) -> None:
    """Cleanout block, bar, label, tardiness and focal outline of every scheduled order."""
    for bar in _bars(plan, colors, focal):
        if bar.setup > 0:
            _draw_cleanout(ax, bar)
        _draw_bar(ax, bar, scale)
        _draw_label(ax, bar, scale)
        if bar.tardy:
            _draw_lateness(ax, bar, scale)
        if bar.focal:
            _draw_focal(ax, bar, scale)


def _draw_cleanout(ax: Axes, bar: _Bar) -> None:
    """Orange hatched block for the cleanout just before the order."""
    patch = _cleanout_patch()
    patch.set_bounds(bar.start - bar.setup, bar.row - BAR_HEIGHT / 2, bar.setup, BAR_HEIGHT)
    patch.set_gid(f"cleanout:{bar.order}")
    if bar.frozen:
        patch.set_alpha(FROZEN_ALPHA)
    ax.add_patch(patch)


def _draw_bar(ax: Axes, bar: _Bar, scale: _Scale) -> None:
    """The order's bar: product colour, red edge when tardy, faded when frozen."""
    patch = Rectangle(
        (bar.start, bar.row - BAR_HEIGHT / 2),
        bar.hours,
        BAR_HEIGHT,
        facecolor=bar.color,
        edgecolor=TARDY if bar.tardy else _darker(bar.color),
        linewidth=scale.tardy_edge if bar.tardy else 0.6,
        alpha=FROZEN_ALPHA if bar.frozen else 1.0,
        zorder=3,
        gid=f"order:{bar.order}",
    )
    ax.add_patch(patch)


def _draw_label(ax: Axes, bar: _Bar, scale: _Scale) -> None:
    """``id · product`` inside the bar, or just ``id``, or nothing when the bar is too narrow."""
    font = scale.label_font
    if not font:
        return
    text = f"{bar.order} · {bar.product}"
    if not scale.fits(text, bar.hours, font):
        text = bar.order
        if not scale.fits(text, bar.hours, font):
            return
    ink = "#1A1A1A" if _luminance(bar.color) > 0.5 or bar.frozen else "white"
    ax.text(
        (bar.start + bar.end) / 2,
        bar.row,
        text,
        ha="center",
        va="center",
        fontsize=font,
        color=ink,
        alpha=0.55 if bar.frozen else 1.0,
        zorder=4,
        clip_on=True,
    )


def _draw_lateness(ax: Axes, bar: _Bar, scale: _Scale) -> None:
    """``+x.x h`` in red just above the right end of a tardy bar, when there is room.

    Above a focal bar the text sits higher, clear of the outline.
    """
    lift = FOCAL_PAD + 0.03 if bar.focal else 0.03
    font = scale.gap_font
    text = f"+{bar.late:.1f} h"
    if font and scale.fits(text, bar.hours, font):
        ax.text(
            bar.end,
            bar.row - BAR_HEIGHT / 2 - lift,
            text,
            ha="right",
            va="bottom",
            fontsize=font,
            color=TARDY,
            fontweight="bold",
            zorder=4,
            clip_on=True,
        )


def _draw_focal(ax: Axes, bar: _Bar, scale: _Scale) -> None:
    """A thick outline slightly larger than the bar, so a red tardy edge stays visible."""
    pad_x = 0.03 / scale.hour_in  # 0.03 inch either side
    outline = Rectangle(
        (bar.start - pad_x, bar.row - BAR_HEIGHT / 2 - FOCAL_PAD),
        bar.hours + 2 * pad_x,
        BAR_HEIGHT + 2 * FOCAL_PAD,
        fill=False,
        edgecolor=FOCAL,
        linewidth=2.6,
        zorder=5,
        gid=f"focal:{bar.order}",
    )
    ax.add_patch(outline)


def _draw_due(ax: Axes, plan: Plan, colors: dict[str, str]) -> None:
    """A small caret under each bar at the order's due date (red for tardy orders).

    Under, not above: the gap above a bar holds the ``+x.x h`` lateness text.
    """
    orders = plan.problem.orders
    bars = list(_bars(plan, colors, frozenset()))
    if not bars:
        return
    ax.scatter(
        [orders[b.order].due for b in bars],
        [b.row + BAR_HEIGHT / 2 + CARET_LIFT for b in bars],
        marker="^",
        s=14,
        c=[TARDY if b.tardy else _darker(b.color) for b in bars],
        linewidths=0,
        zorder=4.5,
        clip_on=True,
        label="_due",
    )


# ---------------------------------------------------------------------------------------
# Small helpers


def _estimate_scale(ax: Axes, hours: float, n_rows: int, legend: bool) -> _Scale:
    """Guess inches per hour and points per row before constrained layout has run.

    The subplot's position in figure fractions is known; the layout will later take off
    room for row labels and (when drawn here) the legend, which the margins account for.
    """
    fig = _root_figure(ax)
    width_in, height_in = fig.get_size_inches()
    box = ax.get_position()
    axes_w = box.width / 0.775 * width_in - MARGIN_INCHES - (LEGEND_INCHES if legend else 0.3)
    axes_h = box.height / 0.77 * height_in - 1.0
    axes_w = max(axes_w, 1.0)
    axes_h = max(axes_h, 0.5)
    return _Scale(hour_in=axes_w / max(hours, 1e-9), row_pt=axes_h * 72.0 / max(n_rows, 1))


def _due_by_default(plan: Plan) -> bool:
    """Due carets help on small plans and are noise on large ones."""
    return len(plan.schedule) <= 80


def _root_figure(ax: Axes) -> Figure:
    """The top-level figure of ``ax`` (through sub-figures)."""
    fig = ax.figure
    while isinstance(fig, SubFigure):
        fig = fig.figure
    assert isinstance(fig, Figure)
    return fig


def _as_ids(focal: str | Iterable[str] | None) -> frozenset[str]:
    """Normalise the ``focal`` argument to a set of order ids."""
    if focal is None:
        return frozenset()
    if isinstance(focal, str):
        return frozenset((focal,))
    return frozenset(focal)


def _all_products(plans: Iterable[Plan]) -> list[str]:
    """Products of every plan's plant, first-seen order (keeps colours stable across panels)."""
    seen: dict[str, None] = {}
    for plan in plans:
        seen.update(dict.fromkeys(plan.problem.plant.products))
    return list(seen)


def _merge_handles(groups: Iterable[list[Any]]) -> list[Any]:
    """Legend entries of several panels without duplicates, products first."""
    merged: dict[str, Any] = {}
    for group in groups:
        for handle in group:
            merged.setdefault(handle.get_label(), handle)
    products = [h for k, h in merged.items() if k.startswith("product ")]
    others = [h for k, h in merged.items() if not k.startswith("product ")]
    return sorted(products, key=lambda h: h.get_label()) + others


def _panel_title(index: int, steps: Sequence[str] | None) -> str:
    """``(a) initial``, ``(b) <operator>``, ... for panel ``index`` of a strip."""
    tag = f"({chr(ord('a') + index)})" if index < 26 else f"({index + 1})"
    if index == 0:
        return f"{tag} initial"
    if steps is None:
        return f"{tag} step {index}"
    return f"{tag} step {index}: {steps[index - 1]}"


def _cleanout_patch(label: str = "_nolegend_") -> Rectangle:
    """An (unplaced) cleanout rectangle in the house style."""
    return Rectangle(
        (0, 0),
        1,
        1,
        facecolor=CLEANOUT_FACE,
        edgecolor=CLEANOUT_EDGE,
        hatch="////",
        linewidth=0.5,
        zorder=3,
        label=label,
    )


def _downtime_patch(label: str = "_nolegend_") -> Rectangle:
    """An (unplaced) downtime rectangle in the house style."""
    return Rectangle(
        (0, 0),
        1,
        1,
        facecolor=DOWNTIME_FACE,
        edgecolor=DOWNTIME_EDGE,
        hatch="xx",
        linewidth=0.5,
        alpha=0.75,
        zorder=1,
        label=label,
    )


def _luminance(color: str) -> float:
    """Relative luminance (0 dark .. 1 light), to pick black or white text on a bar."""
    r, g, b = to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _darker(color: str, factor: float = 0.65) -> str:
    """``color`` scaled towards black, for bar edges and carets."""
    r, g, b = to_rgb(color)
    return _hex((r * factor, g * factor, b * factor))


def _hex(rgb: Sequence[float]) -> str:
    """``#rrggbb`` of an RGB(A) tuple in 0..1."""
    r, g, b = (max(0, min(255, round(c * 255))) for c in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
