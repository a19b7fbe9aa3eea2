"""Build the ``--unseen`` folders of ``bench_schedule.py`` from a clone of the public
SchedulingLab/fjsp-instances repository (never copied into this project).

That repository numbers machines from 0 and writes a two-number first line (``jobs
machines``); rrl's ``.fjs`` reader wants the standard form (machines from 1, an optional
average of machines per operation). For each family measured in docs/benchmarks.md
("Families it never saw") this writes one folder of standard ``.fjs`` files and a
``references.json`` (``{"la01": {"best_known": 609}, ...}``) from the repository's
``instances.json``: the optimum where one is known, else the upper bound as
``best_known`` and the lower bound as ``lower_bound``.

- ``edata``, ``rdata``, ``vdata``: Hurink's la01-la20 (``hurink/<family>/laNN.txt``,
  entries ``e-laNN``, ``r-laNN``, ``v-laNN``);
- ``dpp``: Dauzere-Peres & Paulli 01a-18a (``dauzere/NNa.txt``, entries ``dppNN``,
  matched by name: one entry's ``path`` names another file).

Run: python benchmarks/unseen_families.py REPO OUT
     then: python benchmarks/bench_schedule.py --sections standard --time-limit 0 --unseen OUT/edata
The figures of docs/benchmarks.md used ``instances.json`` at commit d3b2dee (where
e-la11, r-la02 and r-la19 have optima; older versions give bounds for them).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: family folder -> (the repository's folder, file stems, instances.json names)
FAMILIES = {
    **{family: (f"hurink/{family}", [f"la{k:02d}" for k in range(1, 21)],
                [f"{family[0]}-la{k:02d}" for k in range(1, 21)]) for family in ("edata", "rdata", "vdata")},
    "dpp": ("dauzere", [f"{k:02d}a" for k in range(1, 19)], [f"dpp{k:02d}" for k in range(1, 19)]),
}


def standard_fjs(text: str, source: str) -> str:
    """The repository's instance ``text`` in the standard ``.fjs`` form (machines from 1,
    the average number of machines per operation on the first line)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or len(lines[0]) < 2:
        raise SystemExit(f"{source}:1: expected a first line 'jobs machines'")
    jobs, machines = int(lines[0][0]), int(lines[0][1])
    out, operations, alternatives = [], 0, 0
    for number, tokens in enumerate(lines[1:jobs + 1], start=2):
        values = [int(t) for t in tokens]
        row, at = [values[0]], 1
        for _ in range(values[0]):
            count = values[at]
            row.append(count)
            for k in range(count):
                machine, time = values[at + 1 + 2 * k], values[at + 2 + 2 * k]
                if not 0 <= machine < machines:
                    raise SystemExit(f"{source}:{number}: machine {machine} is not numbered from 0 below {machines}")
                row += [machine + 1, time]
            at += 1 + 2 * count
            operations += 1
            alternatives += count
        out.append(" ".join(map(str, row)))
    if len(out) != jobs:
        raise SystemExit(f"{source}: {len(out)} job lines, the first line announces {jobs}")
    return f"{jobs} {machines} {alternatives / max(operations, 1):.2f}\n" + "\n".join(out) + "\n"


def reference(entry: dict) -> dict[str, int]:
    """``best_known`` (and ``lower_bound`` where no optimum is known) of an instances.json entry."""
    if entry.get("optimum") is not None:
        return {"best_known": entry["optimum"]}
    bounds = entry["bounds"]
    return {"best_known": bounds["upper"], "lower_bound": bounds["lower"]}


def build(repo: Path, out: Path) -> None:
    """Write every family's folder under ``out``."""
    entries = {e["name"]: e for e in json.loads((repo / "instances.json").read_text())}
    for family, (folder, stems, names) in FAMILIES.items():
        target = out / family
        target.mkdir(parents=True, exist_ok=True)
        references = {}
        for stem, name in zip(stems, names, strict=True):
            source = repo / folder / f"{stem}.txt"
            (target / f"{stem}.fjs").write_text(standard_fjs(source.read_text(), str(source)))
            if name not in entries:
                raise SystemExit(f"{repo / 'instances.json'}: no entry '{name}' for {source}")
            references[stem] = reference(entries[name])
        (target / "references.json").write_text(json.dumps(references, indent=2) + "\n")
        print(f"{target}: {len(stems)} instances")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path, help="a clone of github.com/SchedulingLab/fjsp-instances")
    parser.add_argument("out", type=Path, help="where the family folders go (outside the project)")
    args = parser.parse_args()
    if not (args.repo / "instances.json").is_file():
        raise SystemExit(f"{args.repo}: no instances.json there (expected a clone of SchedulingLab/fjsp-instances)")
    build(args.repo, args.out)


if __name__ == "__main__":
    main()
