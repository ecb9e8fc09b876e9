"""The calibration of `hrm demo`'s showcase: recipes trained on the demo's 9x9 Sudoku (45 of 81 cells blank) for the
same wall-clock budget each; held-out exact accuracy against training seconds, as a table and a curve (PNG).

    hrm bench demo                                       # every recipe, 10 minutes each, evaluated every 2 minutes
    hrm bench demo --recipes preset fp32 --seconds 300 --png docs/demo-calibration.png

Recipes are the `cpu-demo-sudoku9` preset (`preset`) and one change of it each (see RECIPES). Training time is the
optimizer steps' alone, compilation included; the evaluations (all held-out puzzles, every row run 4 segments) are not
counted. A run also ends at its `max_steps`, where its learning-rate schedule ends.
"""

import argparse
import tempfile
from pathlib import Path

from .bench_families import add_budget_arguments, bench_all, budget_run, cpu_name
from .cli import HelpFormatter


PRESET = "cpu-demo-sudoku9"
# recipe: its change of the preset (training-config fields; `arch` fields replace the preset's one by one)
RECIPES = {
    "preset": {},
    "fp32": {"compile": False, "arch": {"forward_dtype": "float32"}},  # the same model in float32, eager
    "lr1e-3": {"lr": 1e-3},
    "hrm": {"arch": {"name": "hrm", "hidden_size": 128, "num_heads": 4, "expansion": 2.0, "H_layers": 1, "L_layers": 1,
                     "H_cycles": 2, "L_cycles": 2, "pos_encodings": "learned", "mlp_t": None, "puzzle_emb_len": None}},
}  # fmt: skip


def recipe_run(name: str, work_dir: Path, threads: int, seed: int) -> dict:
    """The training config of recipe `name`: the preset with the recipe's change (an `arch` value of None drops the
    field, for a family without it)."""
    values = budget_run(PRESET, name, work_dir, threads, seed)
    change = dict(RECIPES[name])
    arch = {**values["arch"], **change.pop("arch", {})}
    return values | change | {"arch": {key: value for key, value in arch.items() if value is not None}}


def draw_curves(rows: list[dict], path: str, title: str) -> Path:
    """Held-out exact accuracy against training seconds, a line per recipe, its last point labelled with its steps."""
    from ..data.render import render_curve

    series = {}
    for row in rows:
        series.setdefault(row["model"], []).append((row["seconds"], row["exact"], ""))
    for name, points in series.items():
        last = [row for row in rows if row["model"] == name][-1]
        points[-1] = (*points[-1][:2], f"{last['steps']} steps")
    return render_curve(series, path, title, "training seconds", "held-out exact accuracy")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES), help="recipes to run")
    add_budget_arguments(parser, seconds=600.0, eval_every=120.0, threads=2)
    parser.add_argument("--png", default=None, help="also draw the curves (exact accuracy against seconds) here")
    args = parser.parse_args(argv)
    import torch

    from .demo import DEMOS, build_data

    puzzles = DEMOS["sudoku9"]
    with tempfile.TemporaryDirectory() as temporary:
        work_dir = Path(args.work_dir or temporary)
        dataset = build_data(work_dir / "data", args.seed, puzzles)
        print(f"{cpu_name()}, torch {torch.__version__}, {args.threads} thread(s); {puzzles.train} training and "
              f"{puzzles.test} held-out {puzzles.describe()}")  # fmt: skip
        rows = bench_all(
            args.recipes, lambda name: recipe_run(name, work_dir, args.threads, args.seed), dataset, args.seconds,
            args.eval_every,
        )  # fmt: skip
    if args.png:
        title = f"hrm demo's {puzzles.describe()}, {args.threads} thread(s)"
        print(f"Wrote {draw_curves(rows, args.png, title)}")


if __name__ == "__main__":
    main()
