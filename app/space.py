"""A Hugging Face Space that runs the web app: `hrm app --export DIR` writes its folder, `--push-to-hub` pushes it.

The Space's `app.py` calls `serve` of this package, installed from its `requirements.txt`. Its model is either a Hub
repo, named at the commit the export resolved (the Space downloads it when it starts), or a local model folder, whose
files are copied into the Space's `model/` folder (a Space can only reach the Hub, not the exporter's disk). Likewise
a `--dataset` for held-out puzzles must be a Hub dataset repo.
"""

from __future__ import annotations

import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from ..evaluation.loading import MODEL_FILES, PACKAGED_PUZZLES
from ..folders import claim_folder, copy_file, write_file
from ..hub import hub_repo_id, push_folder
from .page import import_gradio
from .solving import PuzzleSolver, is_packaged


SPACE_SDK = "gradio"
SPACE_MODEL_FOLDER = "model"  # where a local model's files go in the Space
PACKAGE = "hrm-hf"
LICENSE = "apache-2.0"


def space_model_name(solver: PuzzleSolver) -> str:
    """How the Space's files name its model: the repo id, or a local folder's name (its path on the exporter's disk
    is no business of a public Space)."""
    return solver.source.repo_id or Path(solver.source.path).name


def app_file(solver: PuzzleSolver, dataset: str | None) -> str:
    """The Space's `app.py`: serve the page on the model (its repo at the exported commit, the copied folder, or the
    model packaged with the installed package) and the held-out puzzles (a Hub dataset, or the packaged ones)."""
    source, imports = solver.source, ["from hrm_hf.app.page import serve"]
    if source.repo_id is not None:
        model = f"{source.repo_id!r}, revision={source.commit!r}"
    elif solver.packaged:
        imports.append("from hrm_hf.evaluation.loading import PACKAGED_MODEL")
        model = "str(PACKAGED_MODEL)"
    else:
        imports.insert(0, "from pathlib import Path\n")
        model = f'str(Path(__file__).parent / "{SPACE_MODEL_FOLDER}")'
    puzzles = repr(dataset)
    if is_packaged(dataset, PACKAGED_PUZZLES):
        imports.append("from hrm_hf.evaluation.loading import PACKAGED_PUZZLES")
        puzzles = "str(PACKAGED_PUZZLES)"
    remote = "trust_remote_code=True, " if solver.trust_remote_code else ""  # the model's own code, as exported
    return (
        f'"""A Hugging Face Space: the HRM puzzle solver of {PACKAGE} (`hrm app`) on the model '
        f'{space_model_name(solver)}."""\n\n' + "\n".join(imports) + "\n\n\n"
        "# Host and port are the Space's (Gradio reads them from its environment).\n"
        f"serve({model}, {remote}dataset={puzzles}, host=None, port=None)\n"
    )


def requirements_file() -> str:
    """The Space's `requirements.txt`: this package at the installed version, with its `app` extra."""
    return (
        "# torch from the CPU wheels is enough for a free CPU Space: add the line\n"
        "#   --extra-index-url https://download.pytorch.org/whl/cpu\n"
        f"{PACKAGE}[app]=={version(PACKAGE)}\n"
    )


def readme_file(solver: PuzzleSolver) -> str:
    """The Space's `README.md`: the YAML header the Hub reads (SDK and its version, app file) and a line on what it
    is."""
    header = {
        "title": "HRM puzzle solver",
        "emoji": "🧩",
        "colorFrom": "blue",
        "colorTo": "green",
        "sdk": SPACE_SDK,
        "sdk_version": import_gradio().__version__,
        "app_file": "app.py",
        # A Space runs Python 3.10 unless told, below this package's requires-python: the exporter's works. Quoted,
        # or YAML reads 3.10 as 3.1.
        "python_version": f'"{sys.version_info.major}.{sys.version_info.minor}"',
        "pinned": "false",
        "license": LICENSE,
    }
    lines = [f"{key}: {value}" for key, value in header.items()]
    if solver.source.repo_id is not None:  # the Hub links the Space from the model's page
        lines.append(f"models:\n- {solver.source.repo_id}")
    what = solver.kind.description if solver.kind else "puzzles"
    return (
        "---\n" + "\n".join(lines) + "\n---\n\n"
        f"# HRM puzzle solver\n\nThe Hierarchical Reasoning Model `{space_model_name(solver)}` solving {what}, made "
        f"with `hrm app --export` of {PACKAGE}: type a puzzle, press Solve, and see the answer form segment by "
        "segment.\n"
    )


def check_space_dataset(dataset: str | None) -> None:
    """A one-line `ValueError` when the held-out dataset is a local folder, which a Space cannot read (but for the
    puzzles packaged with hrm-hf, which the Space's install of it carries)."""
    if (
        dataset is not None
        and not is_packaged(dataset, PACKAGED_PUZZLES)
        and hub_repo_id(dataset, "--dataset") is None
    ):
        raise ValueError(
            f"--dataset {dataset}: a Space reads held-out puzzles from a Hub dataset repo, not a local folder; push "
            "it (hrm build-dataset --push-to-hub) and give its repo id."
        )


def export_space(solver: PuzzleSolver, folder: str | Path, dataset: str | None = None) -> Path:
    """Write the Space of `solver`'s model into `folder` (absent or empty; claimed while written, and left as it was
    when writing fails)."""
    check_space_dataset(dataset)
    with claim_folder(folder, "--export", empty=True, undo_on_error=True):
        write_file(folder, "app.py", app_file(solver, dataset))
        write_file(folder, "requirements.txt", requirements_file())
        write_file(folder, "README.md", readme_file(solver))
        if solver.source.repo_id is None and not solver.packaged:
            for pattern in MODEL_FILES:
                for path in sorted(Path(solver.source.path).glob(pattern)):
                    copy_file(path, folder, Path(SPACE_MODEL_FOLDER) / path.name)
    return Path(folder)


def push_space(
    solver: PuzzleSolver, repo_id: str, folder: str | Path | None = None, dataset: str | None = None, private=False
) -> str:
    """Push the Space of `solver`'s model to the Hub Space repo `repo_id` (created with its SDK): the folder
    `export_space` wrote, or, when None, one it writes (with `dataset`) into a temporary folder; returns the commit
    URL."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="hrm-space-") as temporary:
            return push_space(
                solver, repo_id, export_space(solver, Path(temporary) / "space", dataset), private=private
            )
    return push_folder(
        Path(folder), repo_id, private=private, repo_type="space", space_sdk=SPACE_SDK,
        commit_message="Upload the HRM puzzle solver",
    )  # fmt: skip
