"""`hrm`, the one command of hrm-hf: `hrm <sub-command> [options]`, each sub-command's `--help` lists its options.

The sub-command's module is imported only once it is chosen, so `hrm --help` starts without torch.
`python -m hrm_hf.scripts <sub-command>` is the same command, the form `accelerate launch -m` needs.
"""

import argparse
import importlib
import sys

from ..errors import debug, error_line


# sub-command: (module under hrm_hf.scripts, one-line description)
SUB_COMMANDS = {
    "build-dataset": ("build_dataset", "build a Sudoku, Maze or ARC puzzle dataset (generated, CSV, Kaggle JSON)"),
    "train": ("train", "train HRM-ACT-v1 with Accelerate (Adam-atan2 + sparse SignSGD) from a preset or YAML"),
    "evaluate": ("evaluate_model", "score a model on a puzzle dataset (exact/token accuracy, ARC pass@k, card)"),
    "solve": ("solve", "solve one Sudoku, maze or ARC grid given as text (--png draws it, --segments each step)"),
    "show": ("show", "print or draw rows of a puzzle dataset, decoded (--png)"),
    "convert": ("convert_official_checkpoint", "convert the authors' checkpoint into a Hub-ready model folder"),
    "app": ("app", "serve a web page that solves puzzles with a model, or write it as a Hugging Face Space"),
    "demo": ("demo", "build 9x9 Sudoku, train a small model on the CPU, evaluate, reload it, watch it solve one"),
    "bench": ("bench", "benchmarks: `hrm bench step|train|segment|data|sampler|cli|families|demo` (timings, memory)"),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Every sub-command's `--help`: the module docstring as written, and each option's default unless its help
    already states it or it has none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        silent = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if "default" in text.lower() or silent or not action.option_strings:
            return text
        return super()._get_help_string(action)


def usage() -> str:
    width = max(map(len, SUB_COMMANDS))
    lines = [f"  {name:<{width}}  {description}" for name, (_, description) in SUB_COMMANDS.items()]
    return (
        "usage: hrm <sub-command> [options]\n\n"
        "The Hierarchical Reasoning Model (HRM-ACT-v1) with transformers, datasets and accelerate.\n\n"
        "sub-commands:\n" + "\n".join(lines) + "\n\n"
        "`hrm <sub-command> --help` lists its options with their defaults. Errors are one line with exit code 2 for\n"
        "bad usage or configuration, 1 for failures at run time, 3 when training finished but its push did not;\n"
        "HRM_DEBUG=1 shows their traceback.\n"
        "Several processes: accelerate launch [accelerate options] -m hrm_hf.scripts train [options]\n"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the sub-command named by the first argument with the rest of the arguments.

    Every failure ends as one `error: ...` line on stderr with the sub-command's exit code (its `exit_code`, else 1),
    whatever raised it; `HRM_DEBUG=1` re-raises it with its traceback. Ctrl-C is left to Python."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="")
        return
    name, rest = argv[0], argv[1:]
    if name not in SUB_COMMANDS:
        sys.stderr.write(
            usage() + f"\nerror: unknown sub-command {name!r}; choose one of {', '.join(SUB_COMMANDS)}.\n"
        )
        sys.exit(2)
    sys.argv = [f"hrm {name}", *rest]  # argparse takes its `prog` (usage line, errors) from here
    try:
        importlib.import_module(f"hrm_hf.scripts.{SUB_COMMANDS[name][0]}").main(rest)
    except Exception as error:  # noqa: BLE001 - the one place where any failure becomes one line
        if debug():
            raise
        sys.stderr.write(error_line(error))
        code = getattr(error, "exit_code", 1)
        sys.exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    main()
