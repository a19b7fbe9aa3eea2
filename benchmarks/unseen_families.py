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
import shutil
import tempfile
from pathlib import Path

#: family folder -> (the repository's folder, file stems, instances.json names)
FAMILIES = {
    **{family: (f"hurink/{family}", [f"la{k:02d}" for k in range(1, 21)],
                [f"{family[0]}-la{k:02d}" for k in range(1, 21)]) for family in ("edata", "rdata", "vdata")},
    "dpp": ("dauzere", [f"{k:02d}a" for k in range(1, 19)], [f"dpp{k:02d}" for k in range(1, 19)]),
}


def standard_fjs(text: str, source: str) -> str:
    """The repository's instance ``text`` in the standard ``.fjs`` form (machines from 1,
    the average number of machines per operation on the first line). A malformed file
    stops the script with one line naming the file, the line and the problem."""
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise SystemExit(f"{source}: the file is empty")
    number, head = lines[0]
    try:
        jobs, machines = int(head[0]), int(head[1])
    except (IndexError, ValueError):
        raise SystemExit(f"{source}:{number}: expected a first line 'jobs machines'") from None
    if len(lines) != jobs + 1:
        raise SystemExit(f"{source}: {len(lines) - 1} job lines, the first line announces {jobs}")
    out, operations, alternatives = [], 0, 0
    for number, tokens in lines[1:]:
        try:
            values = [int(t) for t in tokens]
            row, at = [values[0]], 1
            for _ in range(values[0]):
                count = values[at]
                row.append(count)
                for k in range(count):
                    machine, time = values[at + 1 + 2 * k], values[at + 2 + 2 * k]
                    if not 0 <= machine < machines or time < 1:
                        raise SystemExit(f"{source}:{number}: machine {machine} (numbered from 0 below "
                                         f"{machines}) or time {time} (at least 1) out of range")
                    row += [machine + 1, time]
                at += 1 + 2 * count
                operations += 1
                alternatives += count
        except (IndexError, ValueError):
            raise SystemExit(f"{source}:{number}: not a job line of whole numbers 'operations, then per "
                             "operation: machines and machine-time pairs'") from None
        extra = len(values) - at
        if extra:
            raise SystemExit(f"{source}:{number}: {extra} number{'s' if extra > 1 else ''} after the job's last "
                             "operation")
        out.append(" ".join(map(str, row)))
    return f"{jobs} {machines} {alternatives / max(operations, 1):.2f}\n" + "\n".join(out) + "\n"


def reference(entry: dict) -> dict[str, int]:
    """``best_known`` (and ``lower_bound`` where no optimum is known) of an instances.json entry."""
    if entry.get("optimum") is not None:
        return {"best_known": entry["optimum"]}
    bounds = entry.get("bounds") or {}
    if "upper" not in bounds or "lower" not in bounds:
        raise SystemExit(f"instances.json: entry '{entry.get('name')}' has neither an optimum nor both bounds")
    return {"best_known": bounds["upper"], "lower_bound": bounds["lower"]}


def family_files(repo: Path, folder: str, stems: list[str], names: list[str],
                 entries: dict[str, dict]) -> dict[str, str]:
    """One family's files (name -> text): the standard ``.fjs`` files and ``references.json``."""
    files, references = {}, {}
    for stem, name in zip(stems, names, strict=True):
        source = repo / folder / f"{stem}.txt"
        if not source.is_file():
            raise SystemExit(f"{source}: no such file in the clone")
        if name not in entries:
            raise SystemExit(f"{repo / 'instances.json'}: no entry '{name}' for {source}")
        files[f"{stem}.fjs"] = standard_fjs(source.read_text(), str(source))
        references[stem] = reference(entries[name])
    files["references.json"] = json.dumps(references, indent=2) + "\n"
    return files


def build(repo: Path, out: Path) -> None:
    """Write every family's folder under ``out``: all converted in memory first, each
    folder written beside its place and moved there whole, so that a failure leaves no
    half-written family behind."""
    entries = {e["name"]: e for e in json.loads((repo / "instances.json").read_text())}
    made = {family: family_files(repo, *spec, entries) for family, spec in FAMILIES.items()}
    out.mkdir(parents=True, exist_ok=True)
    for family, files in made.items():
        target = out / family
        fresh = Path(tempfile.mkdtemp(prefix=f".{family}-", dir=out))
        fresh.chmod(0o755)  # (mkdtemp's folders are the owner's alone)
        for name, text in files.items():
            (fresh / name).write_text(text)
        if target.exists():
            shutil.rmtree(target)
        fresh.rename(target)
        print(f"{target}: {len(files) - 1} instances")


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
