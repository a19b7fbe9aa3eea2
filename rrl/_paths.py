"""Where the Prolog code, background knowledge and scenarios shipped with rrl live.

In a wheel they sit in ``rrl/_data/<name>`` (hatchling force-include); in a source
checkout or editable install they sit next to the package at the repository's top.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the directory ``name`` (``prolog``, ``background_knowledge``, ``scenarios`` or ``models``)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"rrl data directory '{name}' is missing from the installation")


def scenario_path(name: str) -> Path:
    """Path of a shipped scenario, e.g. ``scenario_path("extruders")``."""
    base = data_dir("scenarios")
    path = base / name
    return path if path.suffix else path.with_suffix(".yaml")
