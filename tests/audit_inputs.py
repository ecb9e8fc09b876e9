"""Audit of bad inputs: feeds malformed inputs to every `hrm` sub-command (in-process, through `cli.main`) and to the
library entry points a user calls directly, and classifies what each does.

    python -m tests.audit_inputs

Each case says what it expects: refused with a message holding a given substring (the field, file or value), or
accepted. The verdicts:
  clear         refused in one line that holds the expected substring, no traceback
  unclear       refused, but the message lacks the substring or spans several lines
  crash         an uncaught exception or a traceback (from `hrm`), or an exception of a type no caller expects
  silent-wrong  accepted although it must be refused, or a security payload that ran
  accepted      a valid input accepted (the controls), and `wrong-refusal` when one is refused
Prints one line per case, then the table per group; `tests/test_audit.py` asserts 0 crash and 0 silent-wrong.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub.errors import StrictDataclassError

from tests.test_train_safety import RunsCode


FIXTURES = Path(__file__).parent / "fixtures"
OFFICIAL = FIXTURES / "official" / "rope_puzzle" / "official_checkpoint"
ARC_FIXTURES = FIXTURES / "data" / "arc"
NOT_UTF8 = b'{"a": "\xff\xfe"}'
EITHER = "<refused or accepted>"  # a security case where only the payload not running matters
VERDICTS = ("clear", "unclear", "crash", "silent-wrong", "accepted", "wrong-refusal")
# Exceptions a library caller is told to expect for bad input (transformers' configs check field types through
# huggingface_hub's strict dataclasses); any other type is a crash.
LIBRARY_ERRORS = (ValueError, TypeError, OSError, StrictDataclassError)
SUDOKU_SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
SUDOKU_QUESTION = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
# The reference run keeps a checkpoint at every step; resuming a copy from `step-2` has one step left to do.
RESUMABLE = ["--max-steps=3", "--checkpoint-every=1", "--keep-last=0"]
TINY_ARCH = [
    "--hidden-size=32", "--num-heads=2", "--expansion=2.0", "--H-layers=1", "--L-layers=1", "--H-cycles=1",
    "--L-cycles=1", "--halt-max-steps=2", "--forward-dtype=float32", "--puzzle-emb-ndim=32",
]  # fmt: skip


@dataclass
class Case:
    """One input: `action` is `hrm`'s argv or a library call; `expect` the substring its refusal must hold (None: it
    must be accepted); `marker` a file that exists only if a security payload ran."""

    group: str
    name: str
    action: list[str] | Callable[[], Any]
    expect: str | None
    marker: Path | None = None
    trusted: bool = False  # a control: the user asked for the folder's code, so the payload must run


@dataclass
class Outcome:
    case: Case
    verdict: str
    message: str
    seconds: float


def run_cli(argv: list[str]) -> tuple[int, str, bool]:
    """(exit code, stderr, crashed) of `hrm argv` run in this process."""
    from hrm_hf.scripts import cli

    err, saved_argv = io.StringIO(), sys.argv[:]
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            cli.main(argv)
        return 0, err.getvalue(), False
    except SystemExit as stop:
        if isinstance(stop.code, str):  # `sys.exit("message")`: Python prints it to stderr, exit code 1
            return 1, err.getvalue() + stop.code + "\n", False
        return stop.code or 0, err.getvalue(), False
    except Exception:  # noqa: BLE001 - anything else escaping `hrm` is the crash this audit counts
        return 1, err.getvalue() + traceback.format_exc(), True
    finally:
        sys.argv = saved_argv


def error_message(stderr: str) -> str:
    """The refusal: from the last line holding `error:` to the end (argparse's usage lines before it are not part of
    it), or all of stderr when no line does."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if "error:" in line]
    return "\n".join(lines[starts[-1] :] if starts else lines)


def classify(case: Case) -> Outcome:
    start = time.perf_counter()
    if isinstance(case.action, list):
        code, stderr, crashed = run_cli(case.action)
        refused, message = code != 0, error_message(stderr)
        crashed = crashed or "Traceback (most recent call last)" in stderr
    else:
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                case.action()
            refused, message, crashed = False, "", False
        except LIBRARY_ERRORS as error:
            refused, message, crashed = True, f"{type(error).__name__}: {error}", False
        except Exception:  # noqa: BLE001
            refused, message, crashed = True, traceback.format_exc(), True
    seconds = time.perf_counter() - start
    payload_ran = case.marker is not None and case.marker.exists()
    if case.trusted:
        verdict = "accepted" if payload_ran and not refused else "wrong-refusal"
    elif crashed:
        verdict = "crash"
    elif payload_ran or (case.expect not in (None, EITHER) and not refused):
        verdict = "silent-wrong"
    elif case.expect == EITHER:
        verdict = "accepted"
    elif case.expect is None:
        verdict = "wrong-refusal" if refused else "accepted"
    elif "\n" in message.strip() or case.expect not in message:
        verdict = "unclear"
    else:
        verdict = "clear"
    return Outcome(case, verdict, message, seconds)


# ---------------------------------------------------------------------------------------------------------------
# Fixtures: tiny datasets, a tiny trained run with checkpoints, broken files, all in one temporary folder.


class Workspace:
    """Everything the cases read, built once under `root`."""

    def __init__(self, root: Path):
        from hrm_hf.data.sudoku import build_sudoku_dataset
        from hrm_hf.data.sudoku_generator import generate_puzzles

        self.root = root
        rows = generate_puzzles(80, seed=1, size=4, clues=(10, 10), progress=False)
        self.sudoku4 = root / "sudoku4"
        build_sudoku_dataset(rows[:64], rows[64:], size=4, output_dir=self.sudoku4)
        self.sudoku4_rows = rows
        self.run = root / "run"
        self.run_outcome = run_cli(self.train_argv(self.sudoku4, self.run, *RESUMABLE))
        if self.run_outcome[0] != 0:
            raise RuntimeError(f"the tiny reference run failed:\n{self.run_outcome[1][-3000:]}")
        self.model = self.run / "model"

    def path(self, name: str) -> Path:
        """A fresh path under the workspace (nothing there yet)."""
        return self.root / f"{name}-{uuid.uuid4().hex[:8]}"

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.path("f") / name
        path.parent.mkdir(parents=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        return path

    def train_argv(self, data: Path, output: Path, *extra: str, preset: bool = True) -> list[str]:
        return [
            "train", *(["--preset=cpu-demo"] if preset else []), f"--data-path={data}", f"--output-dir={output}", *TINY_ARCH,
            "--global-batch-size=16", "--epochs=1000", "--eval-interval=1000", "--lr-warmup-steps=1",
            "--log-every=1", "--num-threads=1", *extra,
        ]  # fmt: skip

    def train(self, *extra: str, data: Path | None = None, preset: bool = True) -> list[str]:
        return self.train_argv(data or self.sudoku4, self.path("out"), "--max-steps=2", *extra, preset=preset)

    def yaml_config(self, text: str) -> Path:
        return self.file("config.yaml", text)

    def dataset_copy(self) -> Path:
        folder = self.path("data")
        shutil.copytree(self.sudoku4, folder)
        return folder

    def checkpoint_copy(self) -> Path:
        """A copy of the reference run's output folder as a kill after step 2 leaves it: only `step-2` (and earlier)."""
        folder = self.path("run")
        shutil.copytree(self.run, folder)
        shutil.rmtree(folder / "model")
        shutil.rmtree(folder / "checkpoints" / "step-3")
        return folder

    def resume(self, output: Path, *extra: str, data: Path | None = None) -> list[str]:
        return self.train_argv(data or self.sudoku4, output, *RESUMABLE, "--resume-from-checkpoint=latest", *extra)

    def model_copy(self) -> Path:
        folder = self.path("model")
        shutil.copytree(self.model, folder)
        return folder

    def csv(self, *lines: str, header: str = "source,question,answer,rating") -> Path:
        return self.file("puzzles.csv", "\n".join([header, *lines]) + "\n")

    def good_sudoku_csv(self) -> Path:
        return self.csv(f"s,{SUDOKU_QUESTION},{SUDOKU_SOLUTION},0")

    def release_folder(self) -> Path:
        folder = self.path("release")
        shutil.copytree(OFFICIAL, folder)
        return folder

    def kaggle_dir(self, challenges: str | bytes | None = None) -> Path:
        """The ARC fixture's Kaggle files, with the training challenges replaced by `challenges` when given."""
        folder = self.path("kaggle")
        shutil.copytree(ARC_FIXTURES, folder)
        if challenges is not None:
            target = folder / "arc-agi_training_challenges.json"
            (target.write_bytes if isinstance(challenges, bytes) else target.write_text)(challenges)
        return folder


def maze_text(side: int = 30) -> tuple[str, str]:
    """A walled maze with one open corridor on row 1, S at column 1 and G at column 3, and its answer."""
    grid = [["#"] * side for _ in range(side)]
    for column in range(1, side - 1):
        grid[1][column] = " "
    grid[1][1], grid[1][3] = "S", "G"
    question = "".join(map("".join, grid))
    answer = question[: side + 2] + "o" + question[side + 3 :]
    return question, answer


# ---------------------------------------------------------------------------------------------------------------
# The cases, one function per group.


def train_cases(w: Workspace) -> list[Case]:
    import torch
    import yaml

    def case(name: str, argv: list[str], expect: str | None, marker: Path | None = None) -> Case:
        return Case("train", name, argv, expect, marker)

    def config(text: str) -> list[str]:
        return w.train(f"--config={w.yaml_config(text)}", preset=False)

    cases = [
        case("batch size not a number", w.train("--global-batch-size=abc"), "global_batch_size"),
        case("batch size 0", w.train("--global-batch-size=0"), "global_batch_size"),
        case("batch size negative", w.train("--global-batch-size=-16"), "global_batch_size"),
        case("batch size a float", w.train("--global-batch-size=1.5"), "global_batch_size"),
        case("lr nan", w.train("--lr=nan"), "lr"),
        case("lr inf", w.train("--lr=inf"), "lr"),
        case("lr negative", w.train("--lr=-0.1"), "lr"),
        case("puzzle_emb_lr inf", w.train("--puzzle-emb-lr=inf"), "puzzle_emb_lr"),
        case("weight decay nan", w.train("--weight-decay=nan"), "weight_decay"),
        case("beta2 above 1", w.train("--beta2=1.5"), "beta2"),
        case("lr_min_ratio 2", w.train("--lr-min-ratio=2"), "lr_min_ratio"),
        case("epochs 0", w.train("--epochs=0"), "epochs"),
        case("max_steps 0", w.train("--max-steps=0"), "max_steps"),
        case("max_steps negative", w.train("--max-steps=-3"), "max_steps"),
        case("eval_interval not dividing epochs", w.train("--epochs=10", "--eval-interval=3"), "eval_interval"),
        case("warmup negative", w.train("--lr-warmup-steps=-1"), "lr_warmup_steps"),
        case("ema_rate 1.5", w.train("--ema", "--ema-rate=1.5"), "ema_rate"),
        case("halt exploration prob 2", w.train("--halt-exploration-prob=2"), "halt_exploration_prob"),
        case("halt_max_steps 0", w.train("--halt-max-steps=0"), "halt_max_steps"),
        case("hidden size not divisible by heads", w.train("--hidden-size=30", "--num-heads=4"), "hidden_size"),
        case("num_heads 0", w.train("--num-heads=0"), "num_heads"),
        case("rope_theta 0", w.train("--rope-theta=0"), "rope_theta"),
        case("expansion nan", w.train("--expansion=nan"), "expansion"),
        case("pos_encodings not a choice", w.train("--pos-encodings=sine"), "pos_encodings"),
        case("forward_dtype not a choice", w.train("--forward-dtype=float64"), "forward_dtype"),
        case("loss type not a choice", w.train("--loss-type=mse"), "loss_type"),
        case("unknown preset", w.train("--preset=sudoku-huge"), "sudoku-huge"),
        case("unknown option", w.train("--hiden-size=32"), "--hiden-size"),
        case("keep_last negative", w.train("--keep-last=-1"), "keep_last"),
        case("checkpoint_every negative", w.train("--checkpoint-every=-1"), "checkpoint_every"),
        case("num_threads negative", w.train("--num-threads=-1"), "num_threads"),
        case("log_every 0", w.train("--log-every=0"), "log_every"),
        case("report_to unknown tracker", w.train("--report-to", "myspace"), "myspace"),
        case("push_to_hub not a repo id", w.train("--push-to-hub=not a repo!"), "push_to_hub"),
        case("early stopping metric unknown", w.train("--early-stopping-metric=happiness"), "early_stopping_metric"),
        case("stop_when unparsable", w.train("--stop-when=soon"), "stop_when"),
        case("max_nonfinite_steps negative", w.train("--max-nonfinite-steps=-1"), "max_nonfinite_steps"),
        case("init_from missing", w.train("--init-from=/nowhere/model"), "/nowhere/model"),
        case("config file missing", w.train("--config=/nowhere/run.yaml", preset=False), "/nowhere/run.yaml"),
        case("config YAML unknown key", config("lr: 0.001\nlearning_rate: 1\n"), "learning_rate"),  # fmt: skip
        case("config YAML unknown arch key", config("arch:\n  hiden_size: 64\n"), "hiden_size"),  # fmt: skip
        case("config YAML a list", config("- 1\n- 2\n"), "config.yaml"),
        case("config YAML syntax error", config("lr: [1, 2\n"), "config.yaml"),
        case("config YAML wrong type", config("global_batch_size: many\n"), "global_batch_size"),  # fmt: skip
        case("config YAML arch a list", config("arch: [1, 2]\n"), "arch"),
        case("config YAML bool for int", config("epochs: true\n"), "epochs"),
        case("data path missing", w.train(data=Path("/nowhere/data")), "/nowhere/data"),
        case("data path a file", w.train(data=w.file("data.txt", "hello")), "data.txt"),
    ]
    (w.root / "empty-data-dir").mkdir()
    cases.append(case("data path an existing empty folder", w.train(data=w.root / "empty-data-dir"), "empty-data-dir"))

    corrupt = w.dataset_copy()
    for meta in corrupt.rglob("*.json"):
        if meta.name != "dataset_dict.json":
            meta.write_text("{not json")
    cases.append(case("dataset metadata corrupt", w.train(data=corrupt), str(corrupt)))
    no_split = w.dataset_copy()
    shutil.rmtree(no_split / "test")
    cases.append(case("dataset missing its test split", w.train(data=no_split), "test"))
    arrow = w.dataset_copy()
    for shard in arrow.rglob("*.arrow"):
        shard.write_bytes(shard.read_bytes()[:100])
    cases.append(case("dataset arrow shard truncated", w.train(data=arrow), str(arrow)))

    beyond = w.path("beyond-vocab")
    from datasets import load_from_disk

    shutil.copytree(w.sudoku4, beyond, ignore=shutil.ignore_patterns("*.arrow", "state.json", "dataset_info.json"))
    dataset = load_from_disk(str(w.sudoku4))
    dataset = dataset.map(lambda row: {"input_ids": [t + 50 for t in row["input_ids"]]})
    dataset.save_to_disk(str(beyond / "tmp"))
    for split in ("train", "test"):
        for item in (beyond / "tmp" / split).iterdir():
            shutil.copy(item, beyond / split / item.name)
    shutil.rmtree(beyond / "tmp")
    cases.append(case("tokens beyond the vocabulary", w.train(data=beyond), "input_ids"))

    cases.append(
        case(
            "global batch larger than an epoch",
            w.train("--global-batch-size=4096", "--epochs=1", "--eval-interval=1"),
            "global_batch_size",
        )  # fmt: skip
    )
    output_file = w.file("output.txt", "mine")
    cases.append(case("output dir is a file", w.train_argv(w.sudoku4, output_file, "--max-steps=2"), "output.txt"))
    cases.append(case("output dir holds another run", w.train_argv(w.sudoku4, w.run, "--max-steps=2"), str(w.run)))
    cases.append(
        case(
            "resume latest without checkpoints", w.train("--resume-from-checkpoint=latest"), "--resume-from-checkpoint"
        )
    )
    cases.append(
        case(
            "resume from a folder that is no checkpoint",
            w.train(f"--resume-from-checkpoint={w.root}"),
            "resume-from-checkpoint",
        )  # fmt: skip
    )

    rebuilt_data = w.path("rebuilt")
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.data.sudoku_generator import generate_puzzles

    nine = generate_puzzles(20, seed=2, size=9, progress=False)
    build_sudoku_dataset(nine[:16], nine[16:], size=9, output_dir=rebuilt_data)
    # The checkpoint was written on `rebuilt_data` when it held the 4x4 dataset; it has been rebuilt as 9x9 since.
    run = w.checkpoint_copy()
    saved = run / "checkpoints" / "step-2" / "train_config.yaml"
    saved.write_text(saved.read_text().replace(str(w.sudoku4), str(rebuilt_data)))
    cases.append(case("dataset rebuilt under a checkpoint", w.resume(run, data=rebuilt_data), "rebuilt"))

    def damaged(name: str, damage: Callable[[Path], None], expect: str, marker: Path | None = None) -> Case:
        run = w.checkpoint_copy()
        (latest,) = sorted((run / "checkpoints").glob("step-2"))
        damage(latest)
        return case(name, w.resume(run), expect, marker)

    def truncate(path: Path) -> None:
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])

    cases += [
        damaged("checkpoint model.safetensors truncated", lambda c: truncate(c / "model.safetensors"), "step-2"),
        damaged("checkpoint optimizer.bin truncated", lambda c: truncate(c / "optimizer.bin"), "step-2"),
        damaged(
            "checkpoint trainer_objects.pt truncated",
            lambda c: truncate(c / "trainer_objects.pt"),
            "trainer_objects.pt",
        ),  # fmt: skip
        damaged(
            "checkpoint trainer_state.json corrupt",
            lambda c: (c / "trainer_state.json").write_text("{"),
            "trainer_state.json",
        ),  # fmt: skip
        damaged("checkpoint carry missing", lambda c: (c / "carry_0.safetensors").unlink(), "carry_0"),
        damaged("checkpoint carry truncated", lambda c: truncate(c / "carry_0.safetensors"), "carry_0"),
        damaged(
            "checkpoint train_config.yaml corrupt",
            lambda c: (c / "train_config.yaml").write_text("lr: [\n"),
            "train_config.yaml",
        ),  # fmt: skip
        damaged(
            "checkpoint trainer_objects.pt a list",
            lambda c: torch.save([1, 2], c / "trainer_objects.pt"),
            "trainer_objects.pt",
        ),  # fmt: skip
    ]
    marker = w.root / "ran-trainer-objects"
    cases.append(
        Case(
            "security",
            "crafted trainer_objects.pt pickle on resume",
            damaged("", lambda c: torch.save({"x": RunsCode(marker)}, c / "trainer_objects.pt"), "").action,
            "trainer_objects.pt",
            marker,
        )  # fmt: skip
    )
    marker = w.root / "ran-yaml"
    payload = f"lr: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path [{str(marker)!r}]]\n"
    cases.append(Case("security", "YAML !!python/object payload in --config", config(payload),
                      "config.yaml", marker))  # fmt: skip
    assert yaml.safe_dump  # the payload must be refused by safe loading, never constructed
    return cases


def build_dataset_cases(w: Workspace) -> list[Case]:
    def case(name: str, args: list[str], expect: str | None) -> Case:
        return Case("build-dataset", name, ["build-dataset", *args], expect)

    good = w.good_sudoku_csv()
    out = lambda: f"--output-dir={w.path('built')}"  # noqa: E731
    question, answer = maze_text()
    maze_csv = lambda q, a: w.csv(f"m,{q},{a},0")  # noqa: E731
    empty = w.file("empty.csv", "")
    nonempty = w.path("nonempty")
    nonempty.mkdir()
    (nonempty / "keep.txt").write_text("mine")
    bad_utf8 = w.file("latin1.csv", "source,question,answer,rating\ns,\xe9\n".encode("latin-1"))
    cases = [
        case("sudoku CSV empty", ["sudoku", f"--csv={empty}", f"--test-csv={good}", out()], "empty.csv"),
        case("sudoku CSV header only", ["sudoku", f"--csv={w.csv()}", f"--test-csv={good}", out()], "puzzles.csv"),
        case(
            "sudoku CSV missing columns",
            [
                "sudoku",
                f"--csv={w.csv(f'{SUDOKU_QUESTION},{SUDOKU_SOLUTION}', header='question,answer')}",
                f"--test-csv={good}",
                out(),
            ],
            "puzzles.csv",
        ),  # fmt: skip
        case(
            "sudoku CSV question too short",
            ["sudoku", f"--csv={w.csv(f's,{SUDOKU_QUESTION[:-1]},{SUDOKU_SOLUTION},0')}", f"--test-csv={good}", out()],
            "question",
        ),  # fmt: skip
        case(
            "sudoku CSV bad characters",
            [
                "sudoku",
                f"--csv={w.csv('s,x' + SUDOKU_QUESTION[1:] + ',' + SUDOKU_SOLUTION + ',0')}",
                f"--test-csv={good}",
                out(),
            ],
            "question",
        ),  # fmt: skip
        case(
            "sudoku CSV answer breaks a clue",
            [
                "sudoku",
                f"--csv={w.csv('s,' + SUDOKU_QUESTION.replace('5', '4', 1) + ',' + SUDOKU_SOLUTION + ',0')}",
                f"--test-csv={good}",
                out(),
            ],
            "clue",
        ),  # fmt: skip
        case(
            "sudoku CSV rating not a number",
            ["sudoku", f"--csv={w.csv(f's,{SUDOKU_QUESTION},{SUDOKU_SOLUTION},hard')}", f"--test-csv={good}", out()],
            "rating",
        ),  # fmt: skip
        case("sudoku CSV not UTF-8", ["sudoku", f"--csv={bad_utf8}", f"--test-csv={good}", out()], "latin1.csv"),
        case(
            "sudoku CSV missing file",
            ["sudoku", "--csv=/nowhere/train.csv", f"--test-csv={good}", out()],
            "/nowhere/train.csv",
        ),  # fmt: skip
        case("sudoku --csv without --test-csv", ["sudoku", f"--csv={good}", out()], "--test-csv"),
        case(
            "sudoku CSV wrong size for --size 4",
            ["sudoku", f"--csv={good}", f"--test-csv={good}", "--size=4", out()],
            "question",
        ),  # fmt: skip
        case("sudoku --size 5", ["sudoku", "--generate=4", "--size=5", out()], "--size"),
        case("sudoku no source", ["sudoku", out()], "--generate"),
        case("sudoku two sources", ["sudoku", "--generate=4", f"--csv={good}", out()], "--csv"),
        case("sudoku --generate negative", ["sudoku", "--generate=-5", out()], "-5"),
        case("sudoku --generate 0", ["sudoku", "--generate=0", out()], "generate"),
        case("sudoku --generate not a number", ["sudoku", "--generate=many", out()], "many"),
        case("sudoku --test-generate negative", ["sudoku", "--generate=4", "--test-generate=-1", out()], "-1"),
        case(
            "sudoku impossible --generate count",
            ["sudoku", "--generate=200", "--size=4", "--min-clues=16", "--max-clues=16", out()],
            "200",
        ),
        case("sudoku --min-clues above the cells", ["sudoku", "--generate=4", "--min-clues=100", out()], "clues"),
        case(
            "sudoku --max-clues below --min-clues",
            ["sudoku", "--generate=4", "--min-clues=30", "--max-clues=20", out()],
            "clues",
        ),  # fmt: skip
        case(
            "sudoku --max-clues without --min-clues",
            ["sudoku", "--generate=4", "--max-clues=20", out()],
            "--min-clues",
        ),  # fmt: skip
        case(
            "sudoku impossible --min-rating",
            ["sudoku", "--generate=2", "--size=4", "--min-rating=1000", out()],
            "rating >= 1000",
        ),  # fmt: skip
        case("sudoku --num-aug negative", ["sudoku", "--generate=4", "--num-aug=-1", out()], "num-aug"),
        case("sudoku --subsample-size 0", ["sudoku", "--generate=4", "--subsample-size=0", out()], "subsample"),
        # The authors keep every row when the subsample is larger than the source: a valid input.
        case(
            "sudoku --subsample-size above the rows (control)",
            ["sudoku", "--generate=4", "--subsample-size=50", out()],
            None,
        ),  # fmt: skip
        case("sudoku output folder not empty", ["sudoku", "--generate=4", f"--output-dir={nonempty}"], str(nonempty)),
        case("sudoku output folder is a file", ["sudoku", "--generate=4", f"--output-dir={good}"], str(good)),
        case(
            "sudoku --push-to-hub not a repo id", ["sudoku", "--generate=4", "--push-to-hub=bad id!", out()], "bad id!"
        ),  # fmt: skip
        case(
            "sudoku --from-release-dir missing", ["sudoku", "--from-release-dir=/nowhere/rel", out()], "/nowhere/rel"
        ),  # fmt: skip
        case("sudoku --from-release-dir empty", ["sudoku", f"--from-release-dir={nonempty}", out()], str(nonempty)),
        case("sudoku --source local folder without CSVs", ["sudoku", f"--source={nonempty}", out()], str(nonempty)),
        case(
            "maze CSV broken path",
            ["maze", f"--csv={maze_csv(question, question)}", f"--test-csv={maze_csv(question, answer)}", out()],
            "path",
        ),  # fmt: skip
        case(
            "maze CSV wrong length",
            [
                "maze",
                f"--csv={maze_csv(question[:-1], answer[:-1])}",
                f"--test-csv={maze_csv(question, answer)}",
                out(),
            ],
            "question",
        ),  # fmt: skip
        case(
            "maze CSV without S",
            [
                "maze",
                f"--csv={maze_csv(question.replace('S', ' '), answer.replace('S', ' '))}",
                f"--test-csv={maze_csv(question, answer)}",
                out(),
            ],
            "S",
        ),  # fmt: skip
        case(
            "maze CSV bad characters",
            [
                "maze",
                f"--csv={maze_csv(question.replace('#', 'X', 1), answer.replace('#', 'X', 1))}",
                f"--test-csv={maze_csv(question, answer)}",
                out(),
            ],
            "question",
        ),  # fmt: skip
        case("maze --size 2", ["maze", "--generate=4", "--size=2", out()], "--size"),
        case("maze --size 3 (no path of the default length)", ["maze", "--generate=4", "--size=3", out()], "3x3"),
        case(
            "maze --loop-fraction 2", ["maze", "--generate=4", "--size=10", "--loop-fraction=2", out()], "loop"
        ),  # fmt: skip
        case(
            "maze impossible --min-path-length",
            ["maze", "--generate=4", "--size=10", "--min-path-length=10000", out()],
            "10000",
        ),  # fmt: skip
        case("maze --generate negative", ["maze", "--generate=-2", out()], "-2"),
        case(
            "arc challenges JSON is a list",
            ["arc", f"--kaggle-dir={w.kaggle_dir('[1, 2]')}", out()],
            "arc-agi_training_challenges.json",
        ),  # fmt: skip
        case(
            "arc challenges not UTF-8",
            ["arc", f"--kaggle-dir={w.kaggle_dir(NOT_UTF8)}", out()],
            "arc-agi_training_challenges.json",
        ),  # fmt: skip
        case(
            "arc challenges not JSON",
            ["arc", f"--kaggle-dir={w.kaggle_dir('{oops')}", out()],
            "arc-agi_training_challenges.json",
        ),  # fmt: skip
    ]
    task = json.loads((ARC_FIXTURES / "arc-agi_training_challenges.json").read_text())
    first = next(iter(task))

    def with_grid(grid: Any) -> str:
        broken = json.loads(json.dumps(task))
        broken[first]["train"][0]["input"] = grid
        return json.dumps(broken)

    cases += [
        case(
            "arc grid of booleans", ["arc", f"--kaggle-dir={w.kaggle_dir(with_grid([[True, False]]))}", out()], first
        ),  # fmt: skip
        case("arc grid a number", ["arc", f"--kaggle-dir={w.kaggle_dir(with_grid(5))}", out()], first),
        case("arc grid colour 12", ["arc", f"--kaggle-dir={w.kaggle_dir(with_grid([[12]]))}", out()], first),
        case("arc grid 31 wide", ["arc", f"--kaggle-dir={w.kaggle_dir(with_grid([[0] * 31]))}", out()], first),
        case("arc grid empty", ["arc", f"--kaggle-dir={w.kaggle_dir(with_grid([]))}", out()], first),
        case("arc --kaggle-dir missing", ["arc", "--kaggle-dir=/nowhere/kaggle", out()], "/nowhere/kaggle"),
        case(
            "arc unknown subset as the test set",
            ["arc", f"--kaggle-dir={w.kaggle_dir()}", "--subsets", "secret", "--test-set=secret", out()],
            "arc-agi_secret_challenges.json",
        ),  # fmt: skip
        case("arc unknown subset", ["arc", f"--kaggle-dir={w.kaggle_dir()}", "--subsets", "secret", out()], "secret"),
        case(
            "arc --test-set not among subsets",
            ["arc", f"--kaggle-dir={w.kaggle_dir()}", "--subsets", "training", "--test-set=evaluation", out()],
            "evaluation",
        ),  # fmt: skip
        case("arc --num-aug negative", ["arc", f"--kaggle-dir={w.kaggle_dir()}", "--num-aug=-1", out()], "num-aug"),
        case("arc --workers 0", ["arc", f"--kaggle-dir={w.kaggle_dir()}", "--workers=0", out()], "workers"),
        case("unknown puzzle type", ["chess", "--generate=4", out()], "chess"),
    ]
    return cases


def convert_cases(w: Workspace) -> list[Case]:
    import torch

    def case(name: str, checkpoint: Path | str, expect: str | None, *extra: str, marker: Path | None = None) -> Case:
        argv = ["convert", str(checkpoint), f"--output-dir={w.path('converted')}", *extra]
        return Case("convert" if marker is None else "security", name, argv, expect, marker)

    def release(change: Callable[[Path], None]) -> Path:
        folder = w.release_folder()
        change(folder)
        return folder

    def truncate(folder: Path) -> None:
        data = (folder / "step_100").read_bytes()
        (folder / "step_100").write_bytes(data[: len(data) // 2])

    def drop_key(folder: Path) -> None:
        state = torch.load(folder / "step_100", weights_only=True)
        state.pop(next(iter(state)))
        torch.save(state, folder / "step_100")

    def edit_config(change: Callable[[str], str]) -> Callable[[Path], None]:
        return lambda folder: (folder / "all_config.yaml").write_text(change((folder / "all_config.yaml").read_text()))

    marker = w.root / "ran-convert-pickle"
    yaml_marker = w.root / "ran-convert-yaml"
    nonempty = w.path("nonempty-out")
    nonempty.mkdir()
    (nonempty / "keep.txt").write_text("mine")
    return [
        case("checkpoint missing", "/nowhere/step_100", "/nowhere/step_100"),
        case("folder without a checkpoint", release(lambda f: (f / "step_100").unlink()), "checkpoint"),
        case("checkpoint is a list", release(lambda f: torch.save([1, 2], f / "step_100")), "step_100"),
        case("checkpoint is a dict of strings", release(lambda f: torch.save({"a": "b"}, f / "step_100")), "step_100"),
        case("checkpoint truncated", release(truncate), "step_100"),
        case("checkpoint not a torch file", release(lambda f: (f / "step_100").write_text("hello")), "step_100"),
        case("checkpoint missing a tensor", release(drop_key), "step_100"),
        case("all_config.yaml without arch", release(edit_config(lambda t: t.replace("arch:", "arch_x:"))), "arch"),
        case(
            "all_config.yaml unknown arch key",
            release(edit_config(lambda t: t.replace("arch:\n", "arch:\n  colour: 3\n"))),
            "colour",
        ),  # fmt: skip
        case(
            "all_config.yaml arch field of the wrong type",
            release(edit_config(lambda t: t.replace("hidden_size: 64", "hidden_size: big"))),
            "hidden_size",
        ),
        case(
            "all_config.yaml syntax error",
            release(lambda f: (f / "all_config.yaml").write_text("arch: [\n")),
            "all_config.yaml",
        ),  # fmt: skip
        case("all_config.yaml missing", release(lambda f: (f / "all_config.yaml").unlink()), "all_config.yaml"),
        case("dataset.json a list", release(lambda f: (f / "dataset.json").write_text("[16, 11]")), "dataset.json"),
        case(
            "checkpoint of another model's tensors",
            release(lambda f: torch.save({"encoder.weight": torch.zeros(2)}, f / "step_100")),
            "step_100",
        ),
        case("dataset.json corrupt", release(lambda f: (f / "dataset.json").write_text("{")), "dataset.json"),
        case("shape mismatch: --vocab-size", w.release_folder(), "vocab_size=99", "--vocab-size=99"),
        case("shape mismatch: --num-puzzle-identifiers", w.release_folder(), "puzzle", "--num-puzzle-identifiers=2"),
        case("--seq-len 0", w.release_folder(), "seq_len", "--seq-len=0"),
        case("--task not a choice", w.release_folder(), "--task", "--task=chess"),
        case("output folder not empty", w.release_folder(), str(nonempty), f"--output-dir={nonempty}"),
        case(
            "crafted pickle checkpoint",
            release(lambda f: torch.save({"x": RunsCode(marker)}, f / "step_100")),
            "step_100",
            marker=marker,
        ),  # fmt: skip
        case(
            "YAML payload in all_config.yaml",
            release(
                lambda f: (f / "all_config.yaml").write_text(
                    f"arch: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path "
                    f"[{str(yaml_marker)!r}]]\n"
                )
            ),
            "all_config.yaml",
            marker=yaml_marker,
        ),  # fmt: skip
    ]


def evaluate_cases(w: Workspace) -> list[Case]:
    from hrm_hf.data.maze import build_maze_dataset
    from hrm_hf.data.maze_generator import generate_mazes

    def case(name: str, args: list[str], expect: str | None, command: str = "evaluate") -> Case:
        out = [] if command == "solve" or any(a.startswith("--output-dir") for a in args) else [
            f"--output-dir={w.path('eval')}"]  # fmt: skip
        return Case(command, name, [command, *args, *out], expect)

    model, data = f"--model={w.model}", f"--dataset={w.sudoku4}"
    mazes = generate_mazes(4, seed=0, side=30, min_path_length=10, progress=False)
    maze_data = w.path("maze")
    build_maze_dataset(mazes[:2], mazes[2:], output_dir=maze_data)
    bad_config = w.model_copy()
    (bad_config / "config.json").write_text("{oops")
    negative = w.model_copy()
    config = json.loads((negative / "config.json").read_text())
    (negative / "config.json").write_text(json.dumps({**config, "hidden_size": -32}))
    string_size = w.model_copy()
    (string_size / "config.json").write_text(json.dumps({**config, "num_heads": "two"}))
    no_weights = w.model_copy()
    (no_weights / "model.safetensors").unlink()
    truncated = w.model_copy()
    weights = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    output_file = w.file("eval.txt", "mine")
    question, _ = maze_text()
    maze_file = w.file("maze.txt", "\n".join(question[i : i + 30] for i in range(0, 900, 30)))
    return [
        case("model folder missing", ["--model=./nowhere/model", data], "./nowhere/model"),
        case(
            "model path shaped like a repo id, offline",
            ["--model=someone/no-such-model", data],
            "someone/no-such-model",
        ),  # fmt: skip
        case("model path with two slashes", ["--model=runs/x/model", data], "runs/x/model"),
        case("dataset folder missing", [model, "--dataset=/nowhere/data"], "/nowhere/data"),
        case(
            "dataset path shaped like a repo id, offline",
            [model, "--dataset=someone/no-such-data"],
            "someone/no-such-data",
        ),  # fmt: skip
        case("--split unknown", [model, data, "--split=validation"], "validation"),
        case("--limit 0", [model, data, "--limit=0"], "--limit"),
        case("--limit negative", [model, data, "--limit=-3"], "--limit"),
        case("--batch-size 0", [model, data, "--batch-size=0"], "--batch-size"),
        case("--max-steps 0", [model, data, "--max-steps=0"], "--max-steps"),
        case("--halting not a choice", [model, data, "--halting", "sometimes"], "sometimes"),
        case("--save-examples negative", [model, data, "--save-examples=-1"], "--save-examples"),
        case("--output-dir is a file", [model, data, f"--output-dir={output_file}"], "eval.txt"),
        case("wrong puzzle type for the model", [model, f"--dataset={maze_data}"], "seq_len"),
        case("model config.json not JSON", [f"--model={bad_config}", data], "config.json"),
        case("model config.json negative size", [f"--model={negative}", data], "hidden_size"),
        case("model config.json size a string", [f"--model={string_size}", data], "num_heads"),
        case("model folder without weights", [f"--model={no_weights}", data], str(no_weights)),
        case("model weights truncated", [f"--model={truncated}", data], f"{truncated}: its safetensors weights"),
        case("valid evaluation (control)", [model, data, "--limit=4", "--halting", "fixed"], None),
        case("model folder missing", ["--model=./nowhere/model", "--sudoku=1..."], "./nowhere/model", "solve"),
        case("sudoku of the wrong length", [model, "--sudoku=12.."], "16", "solve"),
        case("sudoku with clashing clues", [model, "--sudoku=11.............."], "clash", "solve"),
        case("sudoku with bad characters", [model, "--sudoku=ab.............."], "'ab'", "solve"),
        case("sudoku empty", [model, "--sudoku="], "sudoku", "solve"),
        case("sudoku 9x9 for a 4x4 model", [model, f"--sudoku={SUDOKU_QUESTION}"], "81", "solve"),
        case("maze for a sudoku model", [model, f"--maze={maze_file}"], "maze", "solve"),
        case("arc for a sudoku model", [model, "--arc=[[0, 1], [1, 0]]"], "arc", "solve"),
        case("arc not JSON", [model, "--arc=[[0, 1"], "arc", "solve"),
        case("maze one-line non-file", [model, "--maze=maze.txt"], "maze.txt", "solve"),
        case(
            "--puzzle-identifier out of range",
            [model, "--sudoku=1...............", "--puzzle-identifier=99"],
            "99",
            "solve",
        ),  # fmt: skip
        case(
            "--puzzle-identifier negative",
            [model, "--sudoku=1...............", "--puzzle-identifier=-1"],
            "-1",
            "solve",
        ),  # fmt: skip
        case("--max-steps 0", [model, "--sudoku=1...............", "--max-steps=0"], "--max-steps", "solve"),
        case("no puzzle given", [model], "--sudoku", "solve"),
        case(
            "model config.json not JSON",
            [f"--model={bad_config}", "--sudoku=1..............."],
            "config.json",
            "solve",
        ),  # fmt: skip
    ]


def folder_with_own_code(folder: Path, marker: Path) -> Path:
    """A copy of the reference model whose `auto_map` points at a `modeling_hrm.py` that creates `marker`."""
    from hrm_hf import modeling_hrm

    package = Path(modeling_hrm.__file__).parent
    shutil.copy(package / "configuration_hrm.py", folder / "configuration_hrm.py")
    code = (package / "modeling_hrm.py").read_text()
    (folder / "modeling_hrm.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n" + code)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_hrm.HrmActConfig", "AutoModel": "modeling_hrm.HrmActModel"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def security_cases(w: Workspace) -> list[Case]:
    from transformers import AutoModel

    cases = []
    for command, puzzle in (("evaluate", [f"--dataset={w.sudoku4}", "--limit=2", f"--output-dir={w.path('e')}"]),
                            ("solve", ["--sudoku=1..............."])):  # fmt: skip
        marker = w.root / f"ran-{command}-{uuid.uuid4().hex[:6]}"
        folder = w.path(f"stranger{uuid.uuid4().hex[:8]}")
        shutil.copytree(w.model, folder)
        folder_with_own_code(folder, marker)
        cases.append(
            Case(
                "security",
                f"{command}: folder code without --trust-remote-code",
                [command, f"--model={folder}", *puzzle],
                EITHER,
                marker,
            )  # fmt: skip
        )
    marker = w.root / f"ran-trusted-{uuid.uuid4().hex[:6]}"
    folder = w.path(f"stranger{uuid.uuid4().hex[:8]}")
    shutil.copytree(w.model, folder)
    folder_with_own_code(folder, marker)
    cases.append(
        Case("security", "evaluate --trust-remote-code runs the folder's code (control)",
             ["evaluate", f"--model={folder}", "--trust-remote-code", f"--dataset={w.sudoku4}", "--limit=2",
              f"--output-dir={w.path('e')}"], None, marker, trusted=True)
    )  # fmt: skip
    marker = w.root / f"ran-automodel-{uuid.uuid4().hex[:6]}"
    folder = w.path(f"stranger{uuid.uuid4().hex[:8]}")
    shutil.copytree(w.model, folder)
    folder_with_own_code(folder, marker)
    cases.append(
        Case("security", "AutoModel.from_pretrained of folder code without trust_remote_code",
             lambda: AutoModel.from_pretrained(folder, trust_remote_code=False), "trust_remote_code", marker)
    )  # fmt: skip
    return cases


def library_cases(w: Workspace) -> list[Case]:
    import torch
    from transformers import AutoConfig

    from hrm_hf.configuration_hrm import HrmActConfig
    from hrm_hf.data.storage import load_puzzle_dataset
    from hrm_hf.modeling_hrm import HrmActModel
    from hrm_hf.training.config import TrainConfig

    def case(name: str, action: Callable[[], Any], expect: str | None) -> Case:
        return Case("library", name, action, expect)

    small = dict(seq_len=16, vocab_size=6, num_puzzle_identifiers=3, hidden_size=32, num_heads=2, H_layers=1,
                 L_layers=1, H_cycles=1, L_cycles=1, halt_max_steps=2, forward_dtype="float32")  # fmt: skip
    model = HrmActModel(HrmActConfig(**small)).eval()

    def batch(**change: Any) -> dict[str, Any]:
        good = {"input_ids": torch.ones(2, 16, dtype=torch.long), "puzzle_identifiers": torch.zeros(2, dtype=torch.long),
                "labels": torch.ones(2, 16, dtype=torch.long)}  # fmt: skip
        return {**good, **change}

    def config_folder(change: Callable[[dict], Any]) -> Path:
        folder = w.path("cfg")
        HrmActConfig(**small).save_pretrained(folder)
        content = json.loads((folder / "config.json").read_text())
        result = change(content)
        (folder / "config.json").write_text(result if isinstance(result, str) else json.dumps(result))
        return folder

    def broken_dataset(change: Callable[[Path], None]) -> Path:
        folder = w.dataset_copy()
        change(folder)
        return folder

    bad_json = config_folder(lambda c: "{oops")
    negative = config_folder(lambda c: {**c, "hidden_size": -32})
    other_type = config_folder(lambda c: c)
    string_size = config_folder(lambda c: {**c, "num_heads": "two"})
    cases = [
        case(
            "HrmActConfig hidden_size negative", lambda: HrmActConfig(**{**small, "hidden_size": -32}), "hidden_size"
        ),
        case("HrmActConfig num_heads 0", lambda: HrmActConfig(**{**small, "num_heads": 0}), "num_heads"),
        case("HrmActConfig misspelt key", lambda: HrmActConfig(**small, hiden_size=64), "hiden_size"),
        case(
            "HrmActConfig pos_encodings unknown",
            lambda: HrmActConfig(**{**small, "pos_encodings": "sine"}),
            "pos_encodings",
        ),  # fmt: skip
        case(
            "HrmActConfig forward_dtype unknown",
            lambda: HrmActConfig(**{**small, "forward_dtype": "float64"}),
            "forward_dtype",
        ),  # fmt: skip
        case(
            "HrmActConfig halt_max_steps 0", lambda: HrmActConfig(**{**small, "halt_max_steps": 0}), "halt_max_steps"
        ),  # fmt: skip
        case("HrmActConfig seq_len 0", lambda: HrmActConfig(**{**small, "seq_len": 0}), "seq_len"),
        case("HrmActConfig expansion nan", lambda: HrmActConfig(**{**small, "expansion": float("nan")}), "expansion"),
        case(
            "HrmActConfig hidden_size a string", lambda: HrmActConfig(**{**small, "hidden_size": "64"}), "hidden_size"
        ),  # fmt: skip
        case(
            "HrmActConfig hidden_size a float", lambda: HrmActConfig(**{**small, "hidden_size": 32.5}), "hidden_size"
        ),  # fmt: skip
        case(
            "HrmActConfig tie_word_embeddings",
            lambda: HrmActConfig(**small, tie_word_embeddings=True),
            "tie_word_embeddings",
        ),  # fmt: skip
        case(
            "HrmActConfig rms_norm_eps negative",
            lambda: HrmActConfig(**{**small, "rms_norm_eps": -1.0}),
            "rms_norm_eps",
        ),  # fmt: skip
        case(
            "HrmActConfig halt_exploration_prob 2",
            lambda: HrmActConfig(**{**small, "halt_exploration_prob": 2.0}),
            "halt_exploration_prob",
        ),  # fmt: skip
        case("AutoConfig of config.json not JSON", lambda: AutoConfig.from_pretrained(bad_json), "config.json"),
        case(
            "from_pretrained config.json negative size", lambda: HrmActModel.from_pretrained(negative), "hidden_size"
        ),  # fmt: skip
        case(
            "from_pretrained folder without weights",
            lambda: HrmActModel.from_pretrained(other_type),
            "model.safetensors",
        ),  # fmt: skip
        case(
            "from_pretrained config.json num_heads a string",
            lambda: HrmActConfig.from_pretrained(string_size),
            "num_heads",
        ),  # fmt: skip
        case("from_pretrained missing folder", lambda: HrmActModel.from_pretrained(w.root / "nowhere"), "nowhere"),
        case(
            "model: token beyond the vocabulary", lambda: model(**batch(input_ids=torch.full((2, 16), 9))), "input_ids"
        ),  # fmt: skip
        case("model: negative token", lambda: model(**batch(input_ids=torch.full((2, 16), -1))), "input_ids"),
        case(
            "model: wrong sequence length",
            lambda: model(**batch(input_ids=torch.ones(2, 9, dtype=torch.long))),
            "input_ids",
        ),  # fmt: skip
        case("model: float input_ids", lambda: model(**batch(input_ids=torch.ones(2, 16))), "input_ids"),
        case("model: 1-D input_ids", lambda: model(**batch(input_ids=torch.ones(16, dtype=torch.long))), "input_ids"),
        case(
            "model: puzzle id out of range",
            lambda: model(**batch(puzzle_identifiers=torch.tensor([0, 7]))),
            "puzzle_identifiers",
        ),  # fmt: skip
        case(
            "model: puzzle ids of another batch size",
            lambda: model(**batch(puzzle_identifiers=torch.zeros(3, dtype=torch.long))),
            "puzzle_identifiers",
        ),  # fmt: skip
        case(
            "model: labels of the wrong shape",
            lambda: model(**batch(labels=torch.ones(2, 15, dtype=torch.long))),
            "labels",
        ),  # fmt: skip
        case("model: labels beyond the vocabulary", lambda: model(**batch(labels=torch.full((2, 16), 9))), "labels"),
        case(
            "model: attention_mask given", lambda: model(**batch(), attention_mask=torch.ones(2, 16)), "attention_mask"
        ),  # fmt: skip
        case("model: unknown argument", lambda: model(**batch(), colour=1), "colour"),
        case(
            "model: empty batch",
            lambda: model(
                **batch(
                    input_ids=torch.ones(0, 16, dtype=torch.long),
                    puzzle_identifiers=torch.zeros(0, dtype=torch.long),
                    labels=torch.ones(0, 16, dtype=torch.long),
                )
            ),
            "input_ids",
        ),  # fmt: skip
        case("model: input_ids a list", lambda: model(**batch(input_ids=[[1] * 16] * 2)), "input_ids"),
        case("model: input_ids a list, no puzzle ids", lambda: model(input_ids=[[1] * 16] * 2), "input_ids"),
        case("model: input_ids None", lambda: model(input_ids=None), "input_ids"),
        case("model: labels a numpy array", lambda: model(**batch(labels=batch()["labels"].numpy())), "labels"),
        case(
            "model: output_hidden_states unknown",
            lambda: model(**batch(), output_hidden_states="all"),
            "output_hidden_states",
        ),  # fmt: skip
        case("load_puzzle_dataset missing folder", lambda: load_puzzle_dataset("./nowhere/data"), "./nowhere/data"),
        case(
            "load_puzzle_dataset empty folder",
            lambda: load_puzzle_dataset(w.path("x").mkdir() or sorted(w.root.glob("x-*"))[-1]),
            "x-",
        ),  # fmt: skip
        case(
            "load_puzzle_dataset without metadata",
            lambda: load_puzzle_dataset(broken_dataset(lambda f: [p.unlink() for p in f.rglob("puzzle_meta*")])),
            "data-",
        ),  # fmt: skip
        case("load_puzzle_dataset unknown split", lambda: load_puzzle_dataset(w.sudoku4, split="valid"), "valid"),
        case("load_puzzle_dataset a file", lambda: load_puzzle_dataset(w.file("d.txt", "x")), "d.txt"),
        case("TrainConfig.from_dict lr a word", lambda: TrainConfig.from_dict({"lr": "fast"}), "lr"),
        case(
            "TrainConfig.from_dict unknown key", lambda: TrainConfig.from_dict({"learning_rate": 1}), "learning_rate"
        ),  # fmt: skip
        case(
            "TrainConfig.from_dict unknown arch key", lambda: TrainConfig.from_dict({"arch": {"colour": 1}}), "colour"
        ),  # fmt: skip
        case(
            "TrainConfig.from_dict batch a float",
            lambda: TrainConfig.from_dict({"global_batch_size": 1.5}),
            "global_batch_size",
        ),  # fmt: skip
        case("TrainConfig.from_dict epochs a bool", lambda: TrainConfig.from_dict({"epochs": True}), "epochs"),
        case("TrainConfig.from_dict a list", lambda: TrainConfig.from_dict([1, 2]), "list"),
        case("TrainConfig.from_dict lr inf", lambda: TrainConfig.from_dict({"lr": float("inf")}), "lr"),
        case("valid forward (control)", lambda: model(**batch()), None),
    ]
    return cases


def all_cases(w: Workspace) -> list[Case]:
    return [
        *train_cases(w),
        *build_dataset_cases(w),
        *convert_cases(w),
        *evaluate_cases(w),
        *security_cases(w),
        *library_cases(w),
    ]


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """No Hub access and no debug tracebacks while the cases run: a path shaped like a repo id must fail at once."""
    import datasets.config
    import huggingface_hub.constants

    saved = huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE, os.environ.pop("HRM_DEBUG", None)
    huggingface_hub.constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved[:2]
        if saved[2] is not None:
            os.environ["HRM_DEBUG"] = saved[2]


def audit(root: Path | None = None, show: bool = True) -> list[Outcome]:
    """Build the workspace, run every case, print one line per case and the table; returns the outcomes."""
    with tempfile.TemporaryDirectory(prefix="hrm-audit-") as tmp, offline():
        w = Workspace(Path(root or tmp))
        outcomes = []
        for case in all_cases(w):
            outcome = classify(case)
            outcomes.append(outcome)
            if show:
                lines = outcome.message.strip().splitlines() or [""]
                shown = lines[-1] if outcome.verdict == "crash" else " | ".join(lines)
                print(f"{outcome.verdict:<13} {case.group:<13} {case.name}: {shown[:300]}", flush=True)
        if show:
            print_table(outcomes)
        return outcomes


def print_table(outcomes: list[Outcome]) -> None:
    counts = Counter((o.case.group, o.verdict) for o in outcomes)
    groups = list(dict.fromkeys(o.case.group for o in outcomes))
    print(f"\n{'group':<14}{'tried':>6}" + "".join(f"{v:>14}" for v in VERDICTS))
    for group in [*groups, "total"]:
        row = [counts[(group, v)] if group != "total" else sum(counts[(g, v)] for g in groups) for v in VERDICTS]
        print(f"{group:<14}{sum(row):>6}" + "".join(f"{n:>14}" for n in row))
    secs = sum(o.seconds for o in outcomes)
    print(f"\n{len(outcomes)} cases in {secs:.0f} s")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    audit()
