"""Pictures: Gantt charts, repair strips, learning curves (real matplotlib, Agg, no mocks)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from rrl.domain import Order, Plan, Plant, Problem, Resource, Schedule, load_scenario
from rrl.domain.timing import frozen_orders
from rrl.viz import gantt, learning_curves, moving_average, repair_strip, save_gantt
from rrl.viz.gantt import MAX_HEIGHT, TARDY, new_figure

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "extruders.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXTRUDERS_SCHEDULE = {
    "ext1": ["o1", "o11", "o5", "o10"],
    "ext2": ["o6", "o4", "o3", "o14", "o8"],
    "ext3": ["o9", "o2", "o12", "o7", "o13", "o15"],
}


# --- plans -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extruders_plan() -> Plan:
    """The shipped scenario with a fixed schedule: cleanouts and tardy orders, no downtime."""
    problem = load_scenario(SCENARIO).problem
    return Plan.build(problem, Schedule(EXTRUDERS_SCHEDULE))


@pytest.fixture(scope="module")
def disrupted_plan(extruders_plan: Plan) -> Plan:
    """The same plan after a breakdown of ext2 and with the clock at 5 h (frozen orders)."""
    problem = extruders_plan.problem
    plant = problem.plant
    broken = plant.with_resource(plant.resources["ext2"].with_downtime(9.0, 12.5))
    problem = problem.with_plant(broken).with_clock(5.0, frozenset())
    problem = problem.with_clock(5.0, frozen_orders(problem, extruders_plan.schedule))
    return Plan.build(problem, extruders_plan.schedule)


def single_product_plan(idle: bool = False) -> Plan:
    """One product, so no cleanouts at all; optionally a third resource that runs nothing."""
    resources = {
        f"r{i}": Resource(f"r{i}", "mixer", {"P": 50.0}) for i in range(1, 4 if idle else 3)
    }
    plant = Plant(("P",), resources, {})
    orders = {f"j{k}": Order(f"j{k}", "P", 100.0 + 10 * k, due=3.0 + k) for k in range(6)}
    schedule = Schedule({"r1": ["j0", "j2", "j4"], "r2": ["j1", "j3", "j5"]})
    return Plan.build(Problem(plant, orders), schedule)


def big_plan(machines: int = 152, n_orders: int = 500) -> Plan:
    """500 orders on 152 machines: orders dealt round-robin to the next eligible machine."""
    rng = random.Random(7)
    products = tuple("ABCDEFGH")
    resources = {}
    for i in range(machines):
        rid = f"m{i + 1:03d}"
        rates = {p: 100.0 + 10 * j for j, p in enumerate(products) if (i + j) % 3}
        down = ((20.0, 24.0),) if i % 17 == 0 else ()
        resources[rid] = Resource(rid, "press" if i % 2 else "extruder", rates, downtime=down)
    cleanout = {a: {b: 0.5 for b in products if b != a} for a in products}
    plant = Plant(products, resources, cleanout)
    orders = {
        f"o{k}": Order(
            f"o{k}", products[k % len(products)], rng.uniform(200, 1500), rng.uniform(5, 40)
        )
        for k in range(n_orders)
    }
    ids = list(resources)
    sequences: dict[str, list[str]] = {rid: [] for rid in ids}
    cursor = 0
    for order in orders.values():
        while not resources[ids[cursor % machines]].can_run(order.product):
            cursor += 1
        sequences[ids[cursor % machines]].append(order.id)
        cursor += 1
    return Plan.build(Problem(plant, orders), Schedule(sequences))


# --- helpers -----------------------------------------------------------------------------


def patches_with(fig: Figure, prefix: str) -> list[Rectangle]:
    """Rectangles of the first axes whose gid starts with ``prefix`` (``cleanout:`` ...)."""
    return [
        p
        for p in fig.axes[0].patches
        if isinstance(p, Rectangle) and (p.get_gid() or "").startswith(prefix)
    ]


def order_of(patch: Rectangle) -> str:
    """The order id in a patch's gid (``cleanout:o3`` -> ``o3``)."""
    return str(patch.get_gid()).split(":", 1)[1]


def labelled_lines(ax: Axes) -> list[str]:
    """Labels of the lines that appear in a legend (matplotlib hides ``_``-labels)."""
    return [
        str(line.get_label())
        for line in ax.get_lines()
        if not str(line.get_label()).startswith("_")
    ]


def is_png(path: Path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


# --- gantt -------------------------------------------------------------------------------


def test_gantt_draws_one_bar_per_order_and_one_row_per_resource(extruders_plan: Plan) -> None:
    fig = gantt(extruders_plan, title="extruders")
    ax = fig.axes[0]
    assert len(patches_with(fig, "order:")) == len(extruders_plan.schedule)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["ext1\nextruder", "ext2\nextruder", "ext3\nextruder"]
    # Orders are wide enough in a 3-row chart to carry their id and product.
    texts = {t.get_text() for t in ax.texts}
    assert "o3 · C" in texts
    assert "TT = " in ax.get_title(loc="right")
    assert ax.get_xlabel() == "time (h)"


def test_gantt_uses_agg_and_stays_out_of_pyplot(extruders_plan: Plan) -> None:
    fig = gantt(extruders_plan)
    assert isinstance(fig.canvas, FigureCanvasAgg)
    assert fig.canvas.manager is None  # never registered with pyplot, so it cannot leak


def test_cleanout_blocks_sit_just_before_orders_with_a_setup(extruders_plan: Plan) -> None:
    fig = gantt(extruders_plan)
    blocks = patches_with(fig, "cleanout:")
    with_setup = {o for o, s in extruders_plan.times.setup.items() if s > 0}
    assert with_setup  # the scenario's initial products and sequence force cleanouts
    assert {order_of(p) for p in blocks} == with_setup
    for block in blocks:
        order = order_of(block)
        assert block.get_x() + block.get_width() == pytest.approx(extruders_plan.times.start[order])
        assert block.get_width() == pytest.approx(extruders_plan.times.setup[order])
        assert block.get_hatch()


def test_no_cleanout_blocks_without_setups() -> None:
    plan = single_product_plan()
    assert all(s == 0 for s in plan.times.setup.values())
    fig = gantt(plan)
    assert patches_with(fig, "cleanout:") == []
    assert len(patches_with(fig, "order:")) == 6


def test_focal_order_gets_a_thick_outline(extruders_plan: Plan) -> None:
    fig = gantt(extruders_plan, focal="o8")
    (outline,) = patches_with(fig, "focal:")
    assert outline.get_gid() == "focal:o8"
    assert not outline.get_fill()
    assert outline.get_linewidth() >= 2.0
    assert outline.get_x() < extruders_plan.times.start["o8"]
    several = gantt(extruders_plan, focal=["o3", "o8"])
    assert {p.get_gid() for p in patches_with(several, "focal:")} == {"focal:o3", "focal:o8"}
    assert patches_with(gantt(extruders_plan), "focal:") == []


def test_tardy_orders_have_a_red_edge_and_their_lateness(extruders_plan: Plan) -> None:
    fig = gantt(extruders_plan)
    tardy = {o for o in extruders_plan.schedule.orders() if extruders_plan.tardiness(o) > 1e-9}
    assert tardy
    for bar in patches_with(fig, "order:"):
        order = order_of(bar)
        red = to_hex(bar.get_edgecolor()) == TARDY.lower()
        assert red == (order in tardy), order
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert any(t.startswith("+") and t.endswith(" h") for t in texts)


def test_downtime_now_line_and_frozen_orders(disrupted_plan: Plan) -> None:
    fig = gantt(disrupted_plan, focal="o8")
    ax = fig.axes[0]
    (down,) = patches_with(fig, "downtime:")
    assert down.get_gid() == "downtime:ext2"
    assert (down.get_x(), down.get_width()) == pytest.approx((9.0, 3.5))
    assert any(np.asarray(line.get_xdata()).tolist() == [5.0, 5.0] for line in ax.get_lines())
    frozen = disrupted_plan.problem.frozen
    assert frozen
    for bar in patches_with(fig, "order:"):
        faded = (bar.get_alpha() or 1.0) < 1.0
        assert faded == (order_of(bar) in frozen)
    legend_box = ax.get_legend()
    assert legend_box is not None
    legend = [t.get_text() for t in legend_box.get_texts()]
    assert {"downtime", "now", "frozen (started)", "focal task", "cleanout"} <= set(legend)


def test_gantt_handles_an_idle_resource_and_an_empty_schedule() -> None:
    plan = single_product_plan(idle=True)
    fig = gantt(plan)
    assert len(fig.axes[0].get_yticks()) == 3
    assert "no orders" in {t.get_text() for t in fig.axes[0].texts}
    empty = Plan.build(plan.problem, Schedule({}))
    fig = gantt(empty, title="nothing planned")
    assert patches_with(fig, "order:") == []
    assert fig.axes[0].get_xlim()[1] > 0


def test_gantt_draws_into_given_axes(extruders_plan: Plan) -> None:
    fig = new_figure(8, 4)
    ax = fig.add_subplot()
    assert gantt(extruders_plan, ax=ax, legend=False) is fig
    assert ax.get_legend() is None


def test_large_plan_stays_readable(tmp_path: Path) -> None:
    plan = big_plan()
    fig = gantt(plan, focal="o42")
    assert len(fig.axes[0].get_yticks()) == 152
    assert fig.get_size_inches()[1] <= MAX_HEIGHT
    assert len(patches_with(fig, "order:")) == 500
    # Rows are too thin for text inside 500 bars: none is drawn, instead of an ink blot.
    assert not [t for t in fig.axes[0].texts if t.get_text().startswith("o")]
    target = save_gantt(plan, tmp_path / "big.png", dpi=40, focal="o42")
    assert is_png(target)


# --- files -------------------------------------------------------------------------------


def test_save_gantt_writes_a_png_and_nothing_else(tmp_path: Path, extruders_plan: Plan) -> None:
    target = save_gantt(extruders_plan, tmp_path / "out" / "plan.png", dpi=60, title="t")
    assert target == tmp_path / "out" / "plan.png"
    assert is_png(target)
    assert [p.name for p in target.parent.iterdir()] == ["plan.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_gantt_infers_format_from_suffix(tmp_path: Path, extruders_plan: Plan) -> None:
    target = save_gantt(extruders_plan, tmp_path / "plan.svg")
    assert target.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_failed_save_leaves_old_file_and_no_temp(tmp_path: Path, extruders_plan: Plan) -> None:
    target = tmp_path / "plan.nosuchformat"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(ValueError):
        save_gantt(extruders_plan, target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.nosuchformat"]


def test_save_gantt_refuses_axes(tmp_path: Path, extruders_plan: Plan) -> None:
    with pytest.raises(TypeError):
        save_gantt(extruders_plan, tmp_path / "x.png", ax=new_figure(2, 2).add_subplot())


# --- repair strip ------------------------------------------------------------------------


def repair_sequence(plan: Plan) -> list[Plan]:
    """Three hand-made steps moving o8 around (stand-ins for repair operators)."""
    s0 = plan.schedule
    s1 = s0.replace({"ext2": ["o6", "o4", "o8", "o3", "o14"]})
    s2 = s1.replace({"ext2": ["o6", "o8", "o4", "o3", "o14"]})
    return [plan, *(Plan.build(plan.problem, s) for s in (s1, s2))]


def test_repair_strip_has_one_panel_per_plan(tmp_path: Path, extruders_plan: Plan) -> None:
    plans = repair_sequence(extruders_plan)
    target = tmp_path / "strip.png"
    fig = repair_strip(plans, steps=["LeftJump", "LeftMove"], focal="o8", path=target)
    assert len(fig.axes) == len(plans)
    assert len({ax.get_xlim() for ax in fig.axes}) == 1  # one time axis for every panel
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles[0].startswith("(a)")
    assert "LeftJump" in titles[1] and titles[2].startswith("(c)") and "LeftMove" in titles[2]
    for ax, plan in zip(fig.axes, plans, strict=True):
        assert ax.get_xlabel() == f"TT = {plan.total_tardiness:.2f} h"
        assert any(p.get_gid() == "focal:o8" for p in ax.patches)
    assert is_png(target)
    assert [p.name for p in tmp_path.iterdir()] == ["strip.png"]


def test_repair_strip_checks_its_arguments(extruders_plan: Plan) -> None:
    with pytest.raises(ValueError):
        repair_strip([])
    with pytest.raises(ValueError):
        repair_strip([extruders_plan, extruders_plan], steps=["a", "b"])
    fig = repair_strip([extruders_plan])
    assert len(fig.axes) == 1


# --- learning curves ---------------------------------------------------------------------


def synthetic_curves(episodes: int = 120) -> dict[str, list[dict[str, float]]]:
    rng = random.Random(3)
    return {
        goal: [
            {
                "episode": e,
                "steps": 30 * np.exp(-e / tau) + 3 + rng.random(),
                "improvement": 10 * (1 - np.exp(-e / tau)) + rng.gauss(0, 1),
            }
            for e in range(episodes, 0, -1)  # out of order on purpose
        ]
        for goal, tau in (("tardiness", 30.0), ("stability", 15.0))
    }


def test_learning_curves_two_panels_one_line_per_goal(tmp_path: Path) -> None:
    target = tmp_path / "curves.png"
    fig = learning_curves(synthetic_curves(), target, window=10)
    assert is_png(target)
    top, bottom = fig.axes
    for ax in (top, bottom):
        assert labelled_lines(ax) == ["tardiness", "stability"]
        smooth = next(line for line in ax.get_lines() if line.get_label() == "tardiness")
        assert np.asarray(smooth.get_xdata()).tolist() == list(range(1, 121))  # sorted by episode
    assert "steps" in top.get_ylabel() and "improvement" in bottom.get_ylabel()


def test_learning_curves_count_steps_from_zero() -> None:
    # A validation curve that moves by tenths of a step must not fill the panel.
    level = [{"episode": e, "steps": 7.2 + 0.1 * (e % 3), "improvement": 27.0} for e in range(0, 451, 50)]
    top, _ = learning_curves({"tardiness": level}, None, window=1).axes
    low, high = top.get_ylim()
    assert low == 0.0 and high >= 7.4


def test_learning_curves_without_path_and_with_empty_goal() -> None:
    fig = learning_curves({"tardiness": []}, None)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="missing key"):
        learning_curves({"g": [{"episode": 1, "steps": 3}]}, None)


def test_moving_average_is_trailing_and_keeps_length() -> None:
    smoothed = moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 2)
    assert smoothed.tolist() == [1.0, 1.5, 2.5, 3.5, 4.5]
    assert moving_average([4.0, 8.0], 1).tolist() == [4.0, 8.0]
    assert moving_average([], 3).size == 0
