"""HRM and TRM side by side on the CPU: the same 4x4 Sudoku as `hrm demo` builds, the same run settings (the
`cpu-demo` preset's at a learning rate of 1e-3) and the same training-time budget each; held-out exact accuracy
against training wall-clock.

    hrm bench families                                   # 3 minutes of training per model, evaluated every minute
    hrm bench families --seconds 60 --eval-every 20 --models hrm trm-mlp

Models: `hrm` is the `cpu-demo` preset's HRM (hidden 128, one H and one L block, 2 x 2 cycles); `trm` the TRM of
the same width and two blocks with attention and learned positions, 2 x 2 recursions; `trm-mlp` the same with the
MLP across the sequence instead of attention and no positions (the TRM authors' Sudoku block). Training time is the
optimizer steps' alone; the evaluations (all held-out puzzles, every row run `halt_max_steps` segments, as the
trainer evaluates) are not counted.
"""

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .cli import HelpFormatter


# The TRM block layouts compared with the preset's HRM, at its width, cycles and halting.
TRM_ARCH = {
    "hidden_size": 128, "num_heads": 4, "expansion": 2.0, "L_layers": 2, "H_cycles": 2, "L_cycles": 2,
    "puzzle_emb_ndim": 0, "puzzle_emb_len": 0, "halt_max_steps": 4, "halt_exploration_prob": 0.1,
    "forward_dtype": "float32", "loss_type": "softmax_cross_entropy",
}  # fmt: skip
# The preset's rate, 3e-3, makes TRM collapse to one guess per cell within two minutes (25% token accuracy); 1e-3 trains
# every model here.
RUN = {"lr": 1e-3}
MODELS = {
    "hrm": None,  # the preset's own architecture
    "trm": {"name": "trm", **TRM_ARCH, "pos_encodings": "learned", "mlp_t": False},
    "trm-mlp": {"name": "trm", **TRM_ARCH, "pos_encodings": "none", "mlp_t": True},
}


def batches(sampler) -> Iterator[dict]:
    """The sampler's batches, data iteration after data iteration, without end."""
    while True:
        yield from sampler


def budget_run(preset: str, name: str, work_dir: Path, threads: int, seed: int) -> dict:
    """`preset`'s training config for run `name` of a comparison: its own output folder (replaced), on the CPU, with
    `threads` torch threads and `seed`."""
    from ..training.config import load_preset

    return load_preset(preset) | {"output_dir": str(work_dir / name), "overwrite_output_dir": True,
                                  "num_threads": threads, "cpu": True, "seed": seed}  # fmt: skip


def family_run(name: str, work_dir: Path, threads: int, seed: int) -> dict:
    """The training config of model `name`: the `cpu-demo` preset at `RUN`'s rate, with the model's architecture."""
    values = budget_run("cpu-demo", name, work_dir, threads, seed) | RUN
    if MODELS[name] is not None:
        values["arch"] = MODELS[name]
    return values


def bench_model(name: str, values: dict, dataset, seconds: float, eval_every: float) -> list[dict]:
    """Train the run `values` for `seconds` of optimizer steps (or its `max_steps`, whichever comes first),
    evaluating every `eval_every` seconds and at the end; one row of results, named `name`, per evaluation."""
    from accelerate.state import AcceleratorState

    from ..training.config import TrainConfig
    from ..training.loop import Trainer

    # Accelerate keeps one state per process: without a reset, a run would inherit the previous run's
    # torch.compile backend (a float32 eager recipe after a compiled one would be compiled too).
    AcceleratorState._reset_state(reset_partial_state=True)
    trainer = Trainer(TrainConfig.from_dict(values), dataset=dataset)
    parameters = trainer.unwrapped.num_parameters()
    stream, trained, due, rows = batches(trainer.sampler), 0.0, eval_every, []
    while trained < seconds and trainer.step < trainer.max_steps:
        start = time.perf_counter()
        trainer.train_step(next(stream))
        trained += time.perf_counter() - start
        trainer.step += 1
        if trained >= due or trained >= seconds or trainer.step == trainer.max_steps:
            metrics = trainer.evaluate()
            rows.append({"model": name, "parameters": parameters, "steps": trainer.step, "seconds": trained,
                         "exact": metrics["exact_accuracy"], "token": metrics["token_accuracy"],
                         "segments": metrics["mean_steps"]})  # fmt: skip
            print(format_row(rows[-1]), flush=True)
            due += eval_every
    return rows


def add_budget_arguments(parser: argparse.ArgumentParser, seconds: float, eval_every: float, threads: int) -> None:
    """The options every run of a budgeted comparison shares, with these defaults."""
    parser.add_argument("--seconds", type=float, default=seconds, help="training wall-clock budget of each run")
    parser.add_argument("--eval-every", type=float, default=eval_every, help="training seconds between evaluations")
    parser.add_argument("--threads", type=int, default=threads, help="torch threads (the same for every run)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the puzzles and every run's training")
    parser.add_argument("--work-dir", default=None, help="where the puzzles and runs go (default: a temporary folder)")


def bench_all(names: list[str], run_of, dataset, seconds: float, eval_every: float) -> list[dict]:
    """`bench_model` for each name (its training config `run_of(name)`), as one table, then each run's last row."""
    print(HEADER)
    print("|" + "|".join("-" * len(cell) for cell in HEADER.split("|")[1:-1]) + "|")
    rows = [row for name in names for row in bench_model(name, run_of(name), dataset, seconds, eval_every)]
    print("\nAt the end of each budget:")
    for name in names:
        print(format_row([row for row in rows if row["model"] == name][-1]))
    return rows


HEADER = f"| {'model':<8} | {'parameters':>10} | {'steps':>5} | {'train s':>7} | {'exact acc':>9} | {'token acc':>9} |"


def format_row(row: dict) -> str:
    return (
        f"| {row['model']:<8} | {row['parameters']:>10,} | {row['steps']:>5} | {row['seconds']:>7.0f} | "
        f"{row['exact']:>9.1%} | {row['token']:>9.1%} |"
    )


def cpu_name() -> str:
    """The processor's model name as Linux reports it (the machine type elsewhere)."""
    import platform

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS), help="models to compare")
    add_budget_arguments(parser, seconds=180.0, eval_every=60.0, threads=1)
    args = parser.parse_args(argv)
    import torch

    from .demo import DEMOS, build_data

    with tempfile.TemporaryDirectory() as temporary:
        work_dir = Path(args.work_dir or temporary)
        dataset = build_data(work_dir / "data", args.seed, DEMOS["sudoku4"])
        print(f"{cpu_name()}, torch {torch.__version__}, {args.threads} thread(s); "
              f"{len(dataset[0]['train'])} training and {len(dataset[0]['test'])} held-out 4x4 Sudoku")  # fmt: skip
        bench_all(
            args.models, lambda name: family_run(name, work_dir, args.threads, args.seed), dataset, args.seconds,
            args.eval_every,
        )  # fmt: skip


if __name__ == "__main__":
    main()
