"""Pictures of plans and learning: Gantt charts, repair strips, learning curves.

Everything here draws on Agg figures that pyplot does not know about, so it is safe in
tests, on servers and inside notebooks, and it never opens a window.
"""

from rrl.viz.comparison import repair_comparison, stability_front
from rrl.viz.curves import learning_curves, moving_average
from rrl.viz.gantt import (
    close_figure,
    gantt,
    product_colors,
    repair_strip,
    save_figure,
    save_gantt,
)

__all__ = [
    "close_figure",
    "gantt",
    "learning_curves",
    "moving_average",
    "product_colors",
    "repair_comparison",
    "repair_strip",
    "save_figure",
    "save_gantt",
    "stability_front",
]
