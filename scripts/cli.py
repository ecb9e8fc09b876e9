"""`hrm`, the one command of hrm-hf: `hrm <sub-command> [options]`, each sub-command's `--help` lists its options.

The sub-command's module is imported only once it is chosen, so `hrm --help` starts without torch.
`python -m hrm_hf.scripts <sub-command>` is the same command, the form `accelerate launch -m` needs.
"""

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path


# sub-command: (module under hrm_hf.scripts, one-line description)
SUB_COMMANDS = {
    "build-dataset": ("build_dataset", "build a Sudoku, Maze or ARC puzzle dataset (generated, CSV, Kaggle JSON)"),
    "train": ("train", "train HRM-ACT-v1 with Accelerate (Adam-atan2 + sparse SignSGD) from a preset or YAML"),
    "evaluate": ("evaluate_model", "score a model on a puzzle dataset (exact/token accuracy, ARC pass@k, card)"),
    "solve": ("solve", "solve one Sudoku, maze or ARC grid given as text (--png draws it, --segments each step)"),
    "show": ("show", "print or draw rows of a puzzle dataset, decoded (--png)"),
    "convert": ("convert_official_checkpoint", "convert the authors' checkpoint into a Hub-ready model folder"),
    "demo": ("demo", "build 4x4 Sudoku, train a small HRM on the CPU, evaluate, save and reload it"),
    "bench": ("bench", "developer benchmarks: `hrm bench step|train|segment|data|sampler|cli` (timings, memory)"),
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


@dataclass(frozen=True)
class Source:
    """Where a command's input is: a local file or folder, and for a Hub repo the repo and commit it came from."""

    path: Path
    repo_id: str | None = None
    commit: str | None = None


def resolve_source(
    value: str,
    option: str,
    *,
    repo_type: str = "model",
    revision: str | None = None,
    allow_patterns: list[str] | None = None,
) -> Source:
    """A local path, or a Hub repo id downloaded with `snapshot_download` (only `allow_patterns` of it).

    An existing local path wins. A value that starts with `.` or `/` or has more than one `/` is always a path, so a
    missing one is "no such file or folder" rather than a Hub look-up; otherwise `owner/name` is a Hub repo id
    (`revision`: a branch, tag or commit), and one line says which commit it resolved to.
    """
    from ..evaluation.loading import hub_repo_id, hub_revision

    if hub_repo_id(value, option) is None:
        return Source(Path(value).expanduser())
    commit = hub_revision(value, repo_type, revision, option)
    from huggingface_hub import snapshot_download  # only here: `--help` and local paths stay light

    folder = Path(snapshot_download(value, repo_type=repo_type, revision=commit, allow_patterns=allow_patterns))
    return Source(folder, value, commit)


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


def refusals() -> tuple[type[Exception], ...]:
    """What `hrm` reports as one error line: bad input or a file problem, and a config field of the wrong type
    (transformers' configs check field types through huggingface_hub's strict dataclasses). Called only once an
    exception is raised, so that `hrm --help` does not import huggingface_hub."""
    from huggingface_hub.errors import StrictDataclassError

    return (ValueError, OSError, StrictDataclassError)


def on_one_line(error: BaseException) -> str:
    """An error's message on one line: messages of other libraries may span several."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> None:
    """Run the sub-command named by the first argument with the rest of the arguments."""
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
    module = importlib.import_module(f"hrm_hf.scripts.{SUB_COMMANDS[name][0]}")
    try:
        module.main(rest)
    except refusals() as error:  # bad input or a file problem: one line, the traceback on request
        if os.environ.get("HRM_DEBUG"):
            raise
        sys.stderr.write(f"error: {on_one_line(error)}\n")
        sys.exit(getattr(error, "exit_code", 1))


if __name__ == "__main__":
    main()
