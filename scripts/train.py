"""Train HRM-ACT-v1 on a puzzle dataset with Accelerate.

    hrm train --preset cpu-demo
    accelerate launch -m hrm_hf.scripts train --preset sudoku-extreme-1k --data-path outputs/data/sudoku-extreme-1k-aug-1000
    accelerate launch --cpu --num_processes 2 -m hrm_hf.scripts train --preset cpu-demo   # two CPU (gloo) ranks
    hrm train --preset cpu-demo --resume-from-checkpoint latest

`--help` lists every field; any option overrides the preset.
"""

import shlex
import sys

from accelerate import PartialState

from ..training.config import parse_config
from ..training.loop import train


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    config = parse_config(argv)
    result = train(config, command=shlex.join(["hrm", "train", *argv]))
    if PartialState().is_main_process:
        print(f"Model folder: {result.model_dir}  metrics: {result.metrics}")


if __name__ == "__main__":
    main()
