"""Shared data for the relational-learner tests: the synthetic "earlier task due later"
problem (see rrl.relational.synthetic), written to files once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rrl.relational import synthetic, write_kb


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("syn")
    paths = {"settings": base / "syn.s", "bg": base / "syn.pl", "train": base / "train.kb",
             "test": base / "test.kb"}
    paths["settings"].write_text(synthetic.SETTINGS)
    paths["bg"].write_text(synthetic.BACKGROUND)
    write_kb(synthetic.make_examples(400, seed=11), paths["train"])
    write_kb(synthetic.make_examples(60, seed=12, prefix="q"), paths["test"])
    return paths


@pytest.fixture(scope="session")
def train() -> list:
    return synthetic.make_examples(1500, seed=1)


@pytest.fixture(scope="session")
def held_out() -> list:
    return synthetic.make_examples(500, seed=2, prefix="h")
