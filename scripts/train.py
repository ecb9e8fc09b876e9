"""`hrm train`: train HRM-ACT-v1 on a puzzle dataset with Accelerate.

    hrm train --preset cpu-demo
    hrm train --preset sudoku-extreme-1k --data-path outputs/data/sudoku-extreme-1k-aug-1000
    hrm train --config runs/sudoku/model/train_config.yaml --resume-from-checkpoint latest
    accelerate launch --multi_gpu --num_processes 8 -m hrm_hf.scripts train --preset arc-1
    accelerate launch --cpu --num_processes 2 -m hrm_hf.scripts train --preset cpu-demo   # two CPU (gloo) ranks

`--preset` or `--config` gives the values, any other option overrides them; `--help` lists every field.
An `--output-dir` that holds another run's model or checkpoints is refused unless resuming or given
`--overwrite-output-dir`.

Exit codes: 0 trained (and pushed, with `--push-to-hub`); 1 failed at run time (e.g. the weights became NaN/inf:
nothing is saved as the model, the checkpoints are kept); 2 bad usage or configuration; 3 trained and saved, but the
push failed (the error line gives the model folder and the `hf upload` command that pushes it later).
"""

import logging
import shlex
import sys


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    from ..training.config import parse_config  # after `hrm`'s dispatch, so that `hrm --help` stays light

    config = parse_config(argv)  # every value checked before anything heavy is imported or read
    from accelerate import PartialState

    from ..training.loop import train

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    result = train(config, command=shlex.join(["hrm", "train", *argv]))
    if PartialState().is_main_process:
        print(f"Model folder: {result.model_dir}  metrics: {result.metrics}")


if __name__ == "__main__":
    main()
