"""Audit of bad inputs: malformed inputs fed to every `hrm` sub-command (in-process, through `cli.main`) and to the
library entry points a user calls directly, each with what it must do. tests/test_audit.py runs every case as a test
of its own (`pytest tests/test_audit.py -k "lr nan"`);

    python -m tests.audit_inputs

prints every case's verdict, then the table per group.

A case expects its input refused with a message holding a given substring (the field, file or value), or accepted.
The verdicts:
  clear         refused in one line that holds the expected substring, no traceback
  unclear       refused, but the message lacks the substring or spans several lines
  crash         an uncaught exception or a traceback (from `hrm`), or an exception of a type no caller expects
  silent-wrong  accepted although it must be refused, or a security payload that ran
  accepted      a valid input accepted (the controls), and `wrong-refusal` when one is refused
A case passes when it is `clear` or `accepted`; a `wordy` one (another library words the refusal) may be `unclear`.
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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from huggingface_hub.errors import StrictDataclassError
from transformers import AutoConfig, AutoModel

from hrm_hf import modeling_hrm
from hrm_hf.configuration_hrm import HrmActConfig
from hrm_hf.configuration_trm import TrmConfig
from hrm_hf.data.storage import load_puzzle_dataset
from hrm_hf.evaluation.loading import load_model
from hrm_hf.modeling_hrm import HrmActModel
from hrm_hf.training.config import TrainConfig
from tests.helpers import (
    ARC_FIXTURES,
    FIXTURES,
    SUDOKU_QUESTION,
    SUDOKU_SOLUTION,
    RunsCode,
    build_tiny_data,
    corridor_maze,
)


OFFICIAL = FIXTURES / "official" / "rope_puzzle" / "official_checkpoint"
NOT_UTF8 = b'{"a": "\xff\xfe"}'
LATIN1_CSV = "source,question,answer,rating\ns,\xe9\n".encode("latin-1")
EITHER = "<refused or accepted>"  # a security case where only the payload not running matters
VERDICTS = ("clear", "unclear", "crash", "silent-wrong", "accepted", "wrong-refusal")
# Exceptions a library caller is told to expect for bad input (transformers' configs check field types through
# huggingface_hub's strict dataclasses); any other type is a crash.
LIBRARY_ERRORS = (ValueError, TypeError, OSError, StrictDataclassError)
# The reference run keeps a checkpoint at every step; resuming a copy from `step-2` has one step left to do.
RESUMABLE = ["--max-steps=3", "--checkpoint-every=1", "--keep-last=0"]
TINY_ARCH = [
    "--hidden-size=32", "--num-heads=2", "--expansion=2.0", "--H-layers=1", "--L-layers=1", "--H-cycles=1",
    "--L-cycles=1", "--halt-max-steps=2", "--forward-dtype=float32", "--puzzle-emb-ndim=32",
]  # fmt: skip
# The library cases' model: small enough to build for each case.
SMALL = dict(seq_len=16, vocab_size=6, num_puzzle_identifiers=3, hidden_size=32, num_heads=2, H_layers=1, L_layers=1,
             H_cycles=1, L_cycles=1, halt_max_steps=2, forward_dtype="float32")  # fmt: skip

Action = list[str] | Callable[[], Any]  # `hrm`'s argv, or a library call
Arg = str | Callable[["Workspace"], str]  # an argument of `hrm`: as written (placeholders filled) or built


@dataclass(frozen=True)
class Case:
    """One input. `make` builds it in the workspace (files under `w.here`) and returns the action to try; `expect`
    is the substring its refusal must hold (None: it must be accepted; EITHER: only a payload not running matters),
    with the workspace's placeholders (`Workspace.fill`); `trusted`: a control where the user asked for the folder's
    code, so its payload must run; `wordy`: the refusal is another library's message, which may span lines."""

    group: str
    name: str
    make: Callable[[Workspace], Action]
    expect: str | None
    trusted: bool = False
    wordy: bool = False

    @property
    def id(self) -> str:
        return f"{self.group}: {self.name}"


@dataclass
class Outcome:
    case: Case
    verdict: str
    message: str
    seconds: float

    @property
    def passed(self) -> bool:
        return self.verdict in ("clear", "accepted") or (self.case.wordy and self.verdict == "unclear")


# ---------------------------------------------------------------------------------------------------------------
# The workspace: a tiny dataset and a tiny trained run with checkpoints, built once; each case's own files.


class Workspace:
    """What the cases read. The shared dataset and reference run are built on first use; each case builds its own
    inputs in a fresh folder, `here`, where a security payload that runs leaves `marker`."""

    def __init__(self, root: Path):
        self.root = root
        self.here = root
        self.cases = 0

    @cached_property
    def sudoku4(self) -> Path:
        return build_tiny_data(self.root / "sudoku4")

    @cached_property
    def run(self) -> Path:
        """The reference run: 3 steps with a checkpoint at each."""
        run = self.root / "reference-run"
        code, stderr, _ = run_cli(self.train_argv(self.sudoku4, run, *RESUMABLE))
        if code != 0:
            raise RuntimeError(f"the tiny reference run failed:\n{stderr[-3000:]}")
        return run

    @property
    def model(self) -> Path:
        return self.run / "model"

    @property
    def marker(self) -> Path:
        return self.here / "payload-ran"

    def start_case(self) -> None:
        self.cases += 1
        self.here = self.root / f"case-{self.cases}"
        self.here.mkdir()

    def fill(self, text: str) -> str:
        """`text` with its placeholders replaced: {here} (this case's folder), {data} (the 4x4 Sudoku dataset),
        {run} (the reference run) and {model} (its model folder)."""
        for name in ("here", "data", "run", "model"):
            if f"{{{name}}}" in text:
                text = text.replace(f"{{{name}}}", str(self.sudoku4 if name == "data" else getattr(self, name)))
        return text

    def path(self, name: str) -> Path:
        """A path in this case's folder, with nothing there yet."""
        path = self.here / name
        assert not path.exists(), f"the case uses {name} twice"
        return path

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.path(name)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        return path

    def folder_with_a_file(self, name: str) -> Path:
        """A folder that is neither empty nor anything the commands read."""
        folder = self.path(name)
        folder.mkdir()
        (folder / "keep.txt").write_text("mine")
        return folder

    def train_argv(self, data: Path, output: Path, *extra: str, preset: bool = True) -> list[str]:
        return [
            "train", *(["--preset=cpu-demo"] if preset else []), f"--data-path={data}", f"--output-dir={output}", *TINY_ARCH,
            "--global-batch-size=16", "--epochs=1000", "--eval-interval=1000", "--lr-warmup-steps=1",
            "--log-every=1", "--num-threads=1", *extra,
        ]  # fmt: skip

    def train(self, *extra: str, data: Path | None = None, preset: bool = True) -> list[str]:
        return self.train_argv(data or self.sudoku4, self.path("out"), "--max-steps=2", *extra, preset=preset)

    def dataset_copy(self, name: str = "data") -> Path:
        folder = self.path(name)
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

    def model_copy(self, name: str = "model") -> Path:
        folder = self.path(name)
        shutil.copytree(self.model, folder)
        return folder

    def csv(self, *lines: str, header: str = "source,question,answer,rating", name: str = "puzzles.csv") -> Path:
        return self.file(name, "\n".join([header, *lines]) + "\n")

    def good_sudoku_csv(self) -> Path:
        return self.csv(f"s,{SUDOKU_QUESTION},{SUDOKU_SOLUTION},0", name="good.csv")

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

    def argv(self, args: tuple[Arg, ...]) -> list[str]:
        return [arg(self) if callable(arg) else self.fill(arg) for arg in args]


# ---------------------------------------------------------------------------------------------------------------
# Running a case.


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


def run_case(case: Case, w: Workspace) -> Outcome:
    """Build the case's input in a fresh folder of `w`, try it, and classify what happened."""
    w.start_case()
    action = case.make(w)
    expect = w.fill(case.expect) if case.expect not in (None, EITHER) else case.expect
    start = time.perf_counter()
    if isinstance(action, list):
        code, stderr, crashed = run_cli(action)
        refused, message = code != 0, error_message(stderr)
        crashed = crashed or "Traceback (most recent call last)" in stderr
    else:
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                action()
            refused, message, crashed = False, "", False
        except LIBRARY_ERRORS as error:
            refused, message, crashed = True, f"{type(error).__name__}: {error}", False
        except Exception:  # noqa: BLE001
            refused, message, crashed = True, traceback.format_exc(), True
    seconds = time.perf_counter() - start
    payload_ran = w.marker.exists()
    if case.trusted:
        verdict = "accepted" if payload_ran and not refused else "wrong-refusal"
    elif crashed:
        verdict = "crash"
    elif payload_ran or (expect not in (None, EITHER) and not refused):
        verdict = "silent-wrong"
    elif expect == EITHER:
        verdict = "accepted"
    elif expect is None:
        verdict = "wrong-refusal" if refused else "accepted"
    elif "\n" in message.strip() or expect not in message:
        verdict = "unclear"
    else:
        verdict = "clear"
    return Outcome(case, verdict, message, seconds)


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


# ---------------------------------------------------------------------------------------------------------------
# `hrm train`: options, config files, datasets, output folders, checkpoints.


def train(name: str, *flags: Arg, expect: str) -> Case:
    return Case("train", name, lambda w: w.train(*w.argv(flags)), expect)


def train_config(name: str, text: str, expect: str, group: str = "train") -> Case:
    """`hrm train --config` of a YAML file holding `text` (`{marker}`: where a payload would leave its file)."""

    def make(w: Workspace) -> list[str]:
        return w.train(f"--config={w.file('config.yaml', text.replace('{marker}', str(w.marker)))}", preset=False)

    return Case(group, name, make, expect)


def train_on(name: str, data: Callable[[Workspace], Path], expect: str) -> Case:
    return Case("train", name, lambda w: w.train(data=data(w)), expect)


def resume_damaged(name: str, damage: Callable[[Workspace, Path], None], expect: str, group: str = "train") -> Case:
    """Resuming a copy of the reference run whose `step-2` checkpoint `damage` broke."""

    def make(w: Workspace) -> list[str]:
        run = w.checkpoint_copy()
        damage(w, run / "checkpoints" / "step-2")
        return w.resume(run)

    return Case(group, name, make, expect)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def empty_folder(w: Workspace, name: str) -> Path:
    folder = w.path(name)
    folder.mkdir()
    return folder


def corrupt_metadata(w: Workspace) -> Path:
    data = w.dataset_copy()
    for meta in data.rglob("*.json"):
        if meta.name != "dataset_dict.json":
            meta.write_text("{not json")
    return data


def without_test_split(w: Workspace) -> Path:
    data = w.dataset_copy()
    shutil.rmtree(data / "test")
    return data


def truncated_shards(w: Workspace) -> Path:
    data = w.dataset_copy()
    for shard in data.rglob("*.arrow"):
        shard.write_bytes(shard.read_bytes()[:100])
    return data


def tokens_beyond_the_vocabulary(w: Workspace) -> Path:
    """The 4x4 dataset with every input token shifted by 50, its metadata unchanged."""
    from datasets import load_from_disk

    beyond = w.path("beyond-vocab")
    shutil.copytree(w.sudoku4, beyond, ignore=shutil.ignore_patterns("*.arrow", "state.json", "dataset_info.json"))
    dataset = load_from_disk(str(w.sudoku4))
    dataset = dataset.map(lambda row: {"input_ids": [t + 50 for t in row["input_ids"]]})
    dataset.save_to_disk(str(beyond / "tmp"))
    for split in ("train", "test"):
        for item in (beyond / "tmp" / split).iterdir():
            shutil.copy(item, beyond / split / item.name)
    shutil.rmtree(beyond / "tmp")
    return beyond


def resume_on_a_rebuilt_dataset(w: Workspace) -> list[str]:
    """The checkpoint was written on `rebuilt` when it held the 4x4 dataset; it has been rebuilt as 9x9 since."""
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.data.sudoku_generator import generate_puzzles

    rebuilt = w.path("rebuilt")
    nine = generate_puzzles(20, seed=2, size=9, progress=False)
    build_sudoku_dataset(nine[:16], nine[16:], size=9, output_dir=rebuilt)
    run = w.checkpoint_copy()
    saved = run / "checkpoints" / "step-2" / "train_config.yaml"
    saved.write_text(saved.read_text().replace(str(w.sudoku4), str(rebuilt)))
    return w.resume(run, data=rebuilt)


# Typed readers and limits before allocation: what the cases of these two classes build (one block per list below).


def model_weights(change: Callable[[dict], dict]) -> Arg:
    """`--model` of a copy of the reference model whose safetensors weights `change` rewrote (tensors by name)."""

    def make(w: Workspace) -> str:
        from safetensors.torch import load_file, save_file

        folder = w.model_copy()
        weights = folder / "model.safetensors"
        save_file(change(load_file(weights)), weights, metadata={"format": "pt"})
        return f"--model={folder}"

    return make


def without_tensor(name: str) -> Callable[[dict], dict]:
    return lambda tensors: {key: value for key, value in tensors.items() if key != name}


def model_without_config(w: Workspace) -> str:
    folder = w.model_copy()
    (folder / "config.json").unlink()
    return f"--model={folder}"


def checkpoint_as_model(w: Workspace) -> str:
    return f"--model={w.run / 'checkpoints' / 'step-3'}"


def model_with_card_inputs(text: str) -> Arg:
    """`--model` of a copy of the reference model whose card_inputs.json holds `text`."""

    def make(w: Workspace) -> str:
        folder = w.model_copy()
        (folder / "card_inputs.json").write_text(text)
        return f"--model={folder}"

    return make


def dataset_with_metadata(change: Callable[[dict], Any]) -> Callable[[Workspace], Path]:
    """A copy of the 4x4 dataset whose puzzle_metadata.json `change` rewrote (in place, or by returning a value)."""

    def make(w: Workspace) -> Path:
        data = w.dataset_copy()
        path = data / "puzzle_metadata.json"
        content = json.loads(path.read_text())
        result = change(content)
        path.write_text(json.dumps(content if result is None else result))
        return data

    return make


def train_split_field(name: str, value: Any) -> Callable[[dict], None]:
    return lambda content: content["splits"]["train"].__setitem__(name, value)


def trainer_state_with(change: dict[str, Any]) -> Callable[[Workspace, Path], None]:
    """A damage of `resume_damaged`: trainer_state.json with `change`'s fields (None: the field removed)."""

    def damage(w: Workspace, checkpoint: Path) -> None:
        path = checkpoint / "trainer_state.json"
        state = json.loads(path.read_text()) | change
        path.write_text(json.dumps({key: value for key, value in state.items() if value is not None}))

    return damage


YAML_PAYLOAD = "lr: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]\n"

# fmt: off
TRAIN_CASES = [
    train("batch size not a number", "--global-batch-size=abc", expect="global_batch_size"),
    train("batch size 0", "--global-batch-size=0", expect="global_batch_size"),
    train("batch size negative", "--global-batch-size=-16", expect="global_batch_size"),
    train("batch size a float", "--global-batch-size=1.5", expect="global_batch_size"),
    train("lr nan", "--lr=nan", expect="lr"),
    train("lr inf", "--lr=inf", expect="lr"),
    train("lr negative", "--lr=-0.1", expect="lr"),
    train("puzzle_emb_lr inf", "--puzzle-emb-lr=inf", expect="puzzle_emb_lr"),
    train("weight decay nan", "--weight-decay=nan", expect="weight_decay"),
    train("beta2 above 1", "--beta2=1.5", expect="beta2"),
    train("lr_min_ratio 2", "--lr-min-ratio=2", expect="lr_min_ratio"),
    train("epochs 0", "--epochs=0", expect="epochs"),
    train("max_steps 0", "--max-steps=0", expect="max_steps"),
    train("max_steps negative", "--max-steps=-3", expect="max_steps"),
    train("eval_interval not dividing epochs", "--epochs=10", "--eval-interval=3", expect="eval_interval"),
    train("warmup negative", "--lr-warmup-steps=-1", expect="lr_warmup_steps"),
    train("ema_rate 1.5", "--ema", "--ema-rate=1.5", expect="ema_rate"),
    train("halt exploration prob 2", "--halt-exploration-prob=2", expect="halt_exploration_prob"),
    train("halt_max_steps 0", "--halt-max-steps=0", expect="halt_max_steps"),
    train("hidden size not divisible by heads", "--hidden-size=30", "--num-heads=4", expect="hidden_size"),
    train("num_heads 0", "--num-heads=0", expect="num_heads"),
    train("rope_theta 0", "--rope-theta=0", expect="rope_theta"),
    train("expansion nan", "--expansion=nan", expect="expansion"),
    train("pos_encodings not a choice", "--pos-encodings=sine", expect="pos_encodings"),
    train("forward_dtype not a choice", "--forward-dtype=float64", expect="forward_dtype"),
    train("loss type not a choice", "--loss-type=mse", expect="loss_type"),
    train("unknown preset", "--preset=sudoku-huge", expect="sudoku-huge"),
    train("unknown option", "--hiden-size=32", expect="--hiden-size"),
    train("keep_last negative", "--keep-last=-1", expect="keep_last"),
    train("checkpoint_every negative", "--checkpoint-every=-1", expect="checkpoint_every"),
    train("num_threads negative", "--num-threads=-1", expect="num_threads"),
    train("log_every 0", "--log-every=0", expect="log_every"),
    train("report_to unknown tracker", "--report-to", "myspace", expect="myspace"),
    train("push_to_hub not a repo id", "--push-to-hub=not a repo!", expect="push_to_hub"),
    train("early stopping metric unknown", "--early-stopping-metric=happiness", expect="early_stopping_metric"),
    train("stop_when unparsable", "--stop-when=soon", expect="stop_when"),
    train("max_nonfinite_steps negative", "--max-nonfinite-steps=-1", expect="max_nonfinite_steps"),
    train("init_from missing", "--init-from=/nowhere/model", expect="/nowhere/model"),
    Case("train", "config file missing", lambda w: w.train("--config=/nowhere/run.yaml", preset=False),
         "/nowhere/run.yaml"),
    train_config("config YAML unknown key", "lr: 0.001\nlearning_rate: 1\n", "learning_rate"),
    train_config("config YAML unknown arch key", "arch:\n  hiden_size: 64\n", "hiden_size"),
    train_config("config YAML a list", "- 1\n- 2\n", "config.yaml"),
    train_config("config YAML syntax error", "lr: [1, 2\n", "config.yaml"),
    train_config("config YAML wrong type", "global_batch_size: many\n", "global_batch_size"),
    train_config("config YAML arch a list", "arch: [1, 2]\n", "arch"),
    train_config("config YAML bool for int", "epochs: true\n", "epochs"),
    train_on("data path missing", lambda w: Path("/nowhere/data"), "/nowhere/data"),
    train_on("data path a file", lambda w: w.file("data.txt", "hello"), "data.txt"),
    train_on("data path an existing empty folder", lambda w: empty_folder(w, "empty-data-dir"),
             "{here}/empty-data-dir"),
    train_on("dataset metadata corrupt", corrupt_metadata, "{here}/data"),
    train_on("dataset missing its test split", without_test_split, "test"),
    train_on("dataset arrow shard truncated", truncated_shards, "{here}/data"),
    train_on("tokens beyond the vocabulary", tokens_beyond_the_vocabulary, "input_ids"),
    train("global batch larger than an epoch", "--global-batch-size=4096", "--epochs=1", "--eval-interval=1",
          expect="global_batch_size"),
    Case("train", "output dir is a file",
         lambda w: w.train_argv(w.sudoku4, w.file("output.txt", "mine"), "--max-steps=2"), "output.txt"),
    Case("train", "output dir holds another run", lambda w: w.train_argv(w.sudoku4, w.run, "--max-steps=2"), "{run}"),
    train("resume latest without checkpoints", "--resume-from-checkpoint=latest", expect="--resume-from-checkpoint"),
    train("resume from a folder that is no checkpoint", lambda w: f"--resume-from-checkpoint={w.root}",
          expect="resume-from-checkpoint"),
    Case("train", "dataset rebuilt under a checkpoint", resume_on_a_rebuilt_dataset, "rebuilt"),
    resume_damaged("checkpoint model.safetensors truncated", lambda w, c: truncate(c / "model.safetensors"), "step-2"),
    resume_damaged("checkpoint optimizer.bin truncated", lambda w, c: truncate(c / "optimizer.bin"), "step-2"),
    resume_damaged("checkpoint trainer_objects.pt truncated", lambda w, c: truncate(c / "trainer_objects.pt"),
                   "trainer_objects.pt"),
    resume_damaged("checkpoint trainer_state.json corrupt", lambda w, c: (c / "trainer_state.json").write_text("{"),
                   "trainer_state.json"),
    resume_damaged("checkpoint carry missing", lambda w, c: (c / "carry_0.safetensors").unlink(), "carry_0"),
    resume_damaged("checkpoint carry truncated", lambda w, c: truncate(c / "carry_0.safetensors"), "carry_0"),
    resume_damaged("checkpoint train_config.yaml corrupt",
                   lambda w, c: (c / "train_config.yaml").write_text("lr: [\n"),
                   "train_config.yaml"),
    resume_damaged("checkpoint trainer_objects.pt a list", lambda w, c: torch.save([1, 2], c / "trainer_objects.pt"),
                   "trainer_objects.pt"),
    resume_damaged("crafted trainer_objects.pt pickle on resume",
                   lambda w, c: torch.save({"x": RunsCode(w.marker)}, c / "trainer_objects.pt"), "trainer_objects.pt",
                   group="security"),
    train_config("YAML !!python/object payload in --config", YAML_PAYLOAD, "config.yaml", group="security"),
    # typed readers and limits before allocation
    train("--expansion 0.001 (a SwiGLU width of 0)", "--expansion=0.001", expect="expansion"),
    train("--hidden-size 2^40", f"--hidden-size={2**40}", expect="GiB of memory"),
    resume_damaged("checkpoint trainer_state.json step a string", trainer_state_with({"step": "2"}), "`step`"),
    resume_damaged("checkpoint trainer_state.json a list", lambda w, c: (c / "trainer_state.json").write_text("[]"),
                   "trainer_state.json"),
    resume_damaged("checkpoint trainer_state.json without best", trainer_state_with({"best": None}), "`best`"),
    resume_damaged("checkpoint trainer_state.json num_processes 0", trainer_state_with({"num_processes": 0}),
                   "`num_processes`"),
    train_on("dataset metadata vocab_size a string", dataset_with_metadata(train_split_field("vocab_size", "6")),
             "`vocab_size`"),
    train_on("dataset metadata splits a list", dataset_with_metadata(lambda c: {**c, "splits": []}), "`splits`"),
    train_on("dataset metadata blank id beyond the table",
             dataset_with_metadata(train_split_field("blank_identifier_id", 9)), "`blank_identifier_id`"),
    train_on("dataset metadata a JSON list", dataset_with_metadata(lambda c: [c]), "puzzle_metadata.json"),
]
# fmt: on


# ---------------------------------------------------------------------------------------------------------------
# `hrm build-dataset`: CSV files, generator options, ARC files, output folders.


def build(name: str, *args: Arg, expect: str | None) -> Case:
    """`hrm build-dataset *args`, into a fresh `--output-dir` unless the case names its own."""

    def make(w: Workspace) -> list[str]:
        argv = w.argv(args)
        if not any(arg.startswith("--output-dir") for arg in argv):
            argv.append(f"--output-dir={w.path('built')}")
        return ["build-dataset", *argv]

    return Case("build-dataset", name, make, expect)


def sudoku_csv(*lines: str, header: str = "source,question,answer,rating") -> Arg:
    return lambda w: f"--csv={w.csv(*lines, header=header)}"


def latin1_csv(w: Workspace) -> str:
    return f"--csv={w.file('latin1.csv', LATIN1_CSV)}"


def maze_csvs(question: str, answer: str) -> tuple[Arg, Arg]:
    """`--csv` of one maze row and `--test-csv` of a valid one."""
    good_question, good_answer = corridor_maze()
    return (
        lambda w: f"--csv={w.csv(f'm,{question},{answer},0')}",
        lambda w: f"--test-csv={w.csv(f'm,{good_question},{good_answer},0', name='test.csv')}",
    )


def arc_with_first_grid(grid: Any) -> Arg:
    """`--kaggle-dir` of the ARC fixture whose first task's first training input is `grid`."""
    task = json.loads((ARC_FIXTURES / "arc-agi_training_challenges.json").read_text())
    task[next(iter(task))]["train"][0]["input"] = grid
    return lambda w: f"--kaggle-dir={w.kaggle_dir(json.dumps(task))}"


GOOD_CSV: Arg = lambda w: f"--csv={w.good_sudoku_csv()}"  # noqa: E731
GOOD_TEST_CSV: Arg = lambda w: f"--test-csv={w.good_sudoku_csv()}"  # noqa: E731
KAGGLE: Arg = lambda w: f"--kaggle-dir={w.kaggle_dir()}"  # noqa: E731
MAZE_QUESTION, MAZE_ANSWER = corridor_maze()
FIRST_ARC_TASK = next(iter(json.loads((ARC_FIXTURES / "arc-agi_training_challenges.json").read_text())))
Q, A = SUDOKU_QUESTION, SUDOKU_SOLUTION

# fmt: off
BUILD_DATASET_CASES = [
    build("sudoku CSV empty", "sudoku", lambda w: f"--csv={w.file('empty.csv', '')}", GOOD_TEST_CSV,
          expect="empty.csv"),
    build("sudoku CSV header only", "sudoku", sudoku_csv(), GOOD_TEST_CSV, expect="puzzles.csv"),
    build("sudoku CSV missing columns", "sudoku", sudoku_csv(f"{Q},{A}", header="question,answer"), GOOD_TEST_CSV,
          expect="puzzles.csv"),
    build("sudoku CSV question too short", "sudoku", sudoku_csv(f"s,{Q[:-1]},{A},0"), GOOD_TEST_CSV,
          expect="question"),
    build("sudoku CSV bad characters", "sudoku", sudoku_csv(f"s,x{Q[1:]},{A},0"), GOOD_TEST_CSV, expect="question"),
    build("sudoku CSV answer breaks a clue", "sudoku", sudoku_csv(f"s,{Q.replace('5', '4', 1)},{A},0"), GOOD_TEST_CSV,
          expect="clue"),
    build("sudoku CSV rating not a number", "sudoku", sudoku_csv(f"s,{Q},{A},hard"), GOOD_TEST_CSV, expect="rating"),
    build("sudoku CSV not UTF-8", "sudoku", latin1_csv, GOOD_TEST_CSV, expect="latin1.csv"),
    build("sudoku CSV missing file", "sudoku", "--csv=/nowhere/train.csv", GOOD_TEST_CSV, expect="/nowhere/train.csv"),
    build("sudoku --csv without --test-csv", "sudoku", GOOD_CSV, expect="--test-csv"),
    build("sudoku CSV wrong size for --size 4", "sudoku", GOOD_CSV, lambda w: f"--test-csv={w.here / 'good.csv'}",
          "--size=4", expect="question"),
    build("sudoku --size 5", "sudoku", "--generate=4", "--size=5", expect="--size"),
    build("sudoku no source", "sudoku", expect="--generate"),
    build("sudoku two sources", "sudoku", "--generate=4", GOOD_CSV, expect="--csv"),
    build("sudoku --generate negative", "sudoku", "--generate=-5", expect="-5"),
    build("sudoku --generate 0", "sudoku", "--generate=0", expect="generate"),
    build("sudoku --generate not a number", "sudoku", "--generate=many", expect="many"),
    build("sudoku --test-generate negative", "sudoku", "--generate=4", "--test-generate=-1", expect="-1"),
    build("sudoku impossible --generate count", "sudoku", "--generate=200", "--size=4", "--min-clues=16",
          "--max-clues=16", expect="200"),
    build("sudoku --min-clues above the cells", "sudoku", "--generate=4", "--min-clues=100", expect="clues"),
    build("sudoku --max-clues below --min-clues", "sudoku", "--generate=4", "--min-clues=30", "--max-clues=20",
          expect="clues"),
    build("sudoku --max-clues without --min-clues", "sudoku", "--generate=4", "--max-clues=20", expect="--min-clues"),
    build("sudoku impossible --min-rating", "sudoku", "--generate=2", "--size=4", "--min-rating=1000",
          expect="rating >= 1000"),
    build("sudoku --num-aug negative", "sudoku", "--generate=4", "--num-aug=-1", expect="num-aug"),
    build("sudoku --subsample-size 0", "sudoku", "--generate=4", "--subsample-size=0", expect="subsample"),
    # The authors keep every row when the subsample is larger than the source: a valid input.
    build("sudoku --subsample-size above the rows (control)", "sudoku", GOOD_CSV,
          lambda w: f"--test-csv={w.csv(f's,{Q},{A},0', name='test.csv')}", "--subsample-size=50", expect=None),
    build("sudoku output folder not empty", "sudoku", "--generate=4",
          lambda w: f"--output-dir={w.folder_with_a_file('nonempty')}", expect="{here}/nonempty"),
    build("sudoku output folder is a file", "sudoku", "--generate=4",
          lambda w: f"--output-dir={w.good_sudoku_csv()}", expect="{here}/good.csv"),
    build("sudoku --push-to-hub not a repo id", "sudoku", "--generate=4", "--push-to-hub=bad id!", expect="bad id!"),
    build("sudoku --from-release-dir missing", "sudoku", "--from-release-dir=/nowhere/rel", expect="/nowhere/rel"),
    build("sudoku --from-release-dir empty", "sudoku",
          lambda w: f"--from-release-dir={w.folder_with_a_file('nonempty')}", expect="{here}/nonempty"),
    build("sudoku --source local folder without CSVs", "sudoku",
          lambda w: f"--source={w.folder_with_a_file('nonempty')}", expect="{here}/nonempty"),
    build("maze CSV broken path", "maze", *maze_csvs(MAZE_QUESTION, MAZE_QUESTION), expect="path"),
    build("maze CSV wrong length", "maze", *maze_csvs(MAZE_QUESTION[:-1], MAZE_ANSWER[:-1]), expect="question"),
    build("maze CSV without S", "maze",
          *maze_csvs(MAZE_QUESTION.replace("S", " "), MAZE_ANSWER.replace("S", " ")), expect="S"),
    build("maze CSV bad characters", "maze",
          *maze_csvs(MAZE_QUESTION.replace("#", "X", 1), MAZE_ANSWER.replace("#", "X", 1)), expect="question"),
    build("maze --size 2", "maze", "--generate=4", "--size=2", expect="--size"),
    build("maze --size 3 (no path of the default length)", "maze", "--generate=4", "--size=3", expect="3x3"),
    build("maze --loop-fraction 2", "maze", "--generate=4", "--size=10", "--loop-fraction=2", expect="loop"),
    build("maze impossible --min-path-length", "maze", "--generate=4", "--size=10", "--min-path-length=10000",
          expect="10000"),
    build("maze --generate negative", "maze", "--generate=-2", expect="-2"),
    build("arc challenges JSON is a list", "arc", lambda w: f"--kaggle-dir={w.kaggle_dir('[1, 2]')}",
          expect="arc-agi_training_challenges.json"),
    build("arc challenges not UTF-8", "arc", lambda w: f"--kaggle-dir={w.kaggle_dir(NOT_UTF8)}",
          expect="arc-agi_training_challenges.json"),
    build("arc challenges not JSON", "arc", lambda w: f"--kaggle-dir={w.kaggle_dir('{oops')}",
          expect="arc-agi_training_challenges.json"),
    build("arc grid of booleans", "arc", arc_with_first_grid([[True, False]]), expect=FIRST_ARC_TASK),
    build("arc grid a number", "arc", arc_with_first_grid(5), expect=FIRST_ARC_TASK),
    build("arc grid colour 12", "arc", arc_with_first_grid([[12]]), expect=FIRST_ARC_TASK),
    build("arc grid 31 wide", "arc", arc_with_first_grid([[0] * 31]), expect=FIRST_ARC_TASK),
    build("arc grid empty", "arc", arc_with_first_grid([]), expect=FIRST_ARC_TASK),
    build("arc --kaggle-dir missing", "arc", "--kaggle-dir=/nowhere/kaggle", expect="/nowhere/kaggle"),
    build("arc unknown subset as the test set", "arc", KAGGLE, "--subsets", "secret", "--test-set=secret",
          expect="arc-agi_secret_challenges.json"),
    build("arc unknown subset", "arc", KAGGLE, "--subsets", "secret", expect="secret"),
    build("arc --test-set not among subsets", "arc", KAGGLE, "--subsets", "training", "--test-set=evaluation",
          expect="evaluation"),
    build("arc --num-aug negative", "arc", KAGGLE, "--num-aug=-1", expect="num-aug"),
    build("arc --workers 0", "arc", KAGGLE, "--workers=0", expect="workers"),
    build("unknown puzzle type", "chess", "--generate=4", expect="chess"),
    # limits before allocation: rows beyond the free disk, refused before any is made
    build("sudoku --num-aug 1e11", "sudoku", "--generate=10", "--size=4", "--num-aug=100000000000",
          expect="--num-aug 100000000000: about"),
    build("maze --generate 1e11", "maze", "--generate=100000000000", expect="--generate 100000000000: about"),
    build("arc --num-aug 1e11", "arc", KAGGLE, "--num-aug=100000000000", expect="--num-aug 100000000000: about"),
]
# fmt: on


# ---------------------------------------------------------------------------------------------------------------
# `hrm convert`: the authors' checkpoint, its config files, output folders.


def convert(name: str, checkpoint: Callable[[Workspace], Path] | str, expect: str, *extra: Arg,
            group: str = "convert") -> Case:  # fmt: skip
    """`hrm convert` of `checkpoint` (a path, or a folder the case builds) into a fresh output folder."""

    def make(w: Workspace) -> list[str]:
        source = checkpoint(w) if callable(checkpoint) else checkpoint
        return ["convert", str(source), f"--output-dir={w.path('converted')}", *w.argv(extra)]

    return Case(group, name, make, expect)


def release(change: Callable[[Path], Any]) -> Callable[[Workspace], Path]:
    """A copy of the authors' release fixture that `change` broke."""

    def make(w: Workspace) -> Path:
        folder = w.release_folder()
        change(folder)
        return folder

    return make


def truncate_checkpoint(folder: Path) -> None:
    truncate(folder / "step_100")


def drop_a_tensor(folder: Path) -> None:
    state = torch.load(folder / "step_100", weights_only=True)
    state.pop(next(iter(state)))
    torch.save(state, folder / "step_100")


def edit_config(change: Callable[[str], str]) -> Callable[[Path], None]:
    return lambda folder: (folder / "all_config.yaml").write_text(change((folder / "all_config.yaml").read_text()))


def release_running(payload: Callable[[Path, Path], Any]) -> Callable[[Workspace], Path]:
    """A release copy where `payload(folder, marker)` planted code that leaves `marker` if it runs."""

    def make(w: Workspace) -> Path:
        folder = w.release_folder()
        payload(folder, w.marker)
        return folder

    return make


def release_copy(w: Workspace) -> Path:
    return w.release_folder()


# fmt: off
CONVERT_CASES = [
    convert("checkpoint missing", "/nowhere/step_100", "/nowhere/step_100"),
    convert("folder without a checkpoint", release(lambda f: (f / "step_100").unlink()), "checkpoint"),
    convert("checkpoint is a list", release(lambda f: torch.save([1, 2], f / "step_100")), "step_100"),
    convert("checkpoint is a dict of strings", release(lambda f: torch.save({"a": "b"}, f / "step_100")), "step_100"),
    convert("checkpoint truncated", release(truncate_checkpoint), "step_100"),
    convert("checkpoint not a torch file", release(lambda f: (f / "step_100").write_text("hello")), "step_100"),
    convert("checkpoint missing a tensor", release(drop_a_tensor), "step_100"),
    convert("all_config.yaml without arch", release(edit_config(lambda t: t.replace("arch:", "arch_x:"))), "arch"),
    convert("all_config.yaml unknown arch key",
            release(edit_config(lambda t: t.replace("arch:\n", "arch:\n  colour: 3\n"))), "colour"),
    convert("all_config.yaml arch field of the wrong type",
            release(edit_config(lambda t: t.replace("hidden_size: 64", "hidden_size: big"))), "hidden_size"),
    convert("all_config.yaml syntax error", release(lambda f: (f / "all_config.yaml").write_text("arch: [\n")),
            "all_config.yaml"),
    convert("all_config.yaml missing", release(lambda f: (f / "all_config.yaml").unlink()), "all_config.yaml"),
    convert("dataset.json a list", release(lambda f: (f / "dataset.json").write_text("[16, 11]")), "dataset.json"),
    convert("checkpoint of another model's tensors",
            release(lambda f: torch.save({"encoder.weight": torch.zeros(2)}, f / "step_100")), "step_100"),
    convert("dataset.json corrupt", release(lambda f: (f / "dataset.json").write_text("{")), "dataset.json"),
    convert("shape mismatch: --vocab-size", release_copy, "vocab_size=99", "--vocab-size=99"),
    convert("shape mismatch: --num-puzzle-identifiers", release_copy, "puzzle", "--num-puzzle-identifiers=2"),
    convert("--seq-len 0", release_copy, "seq_len", "--seq-len=0"),
    convert("--task not a choice", release_copy, "--task", "--task=chess"),
    convert("output folder not empty", release_copy, "{here}/nonempty",
            lambda w: f"--output-dir={w.folder_with_a_file('nonempty')}"),
    convert("crafted pickle checkpoint",
            release_running(lambda f, marker: torch.save({"x": RunsCode(marker)}, f / "step_100")), "step_100",
            group="security"),
    convert("YAML payload in all_config.yaml",
            release_running(lambda f, marker: (f / "all_config.yaml").write_text(
                YAML_PAYLOAD.replace("lr:", "arch:").replace("{marker}", str(marker)))),
            "all_config.yaml", group="security"),
]
# fmt: on


# ---------------------------------------------------------------------------------------------------------------
# `hrm evaluate` and `hrm solve`: model folders, datasets, options, puzzles.


def evaluate(name: str, *args: Arg, expect: str | None) -> Case:
    """`hrm evaluate *args`, into a fresh `--output-dir` unless the case names its own."""

    def make(w: Workspace) -> list[str]:
        argv = w.argv(args)
        if not any(arg.startswith("--output-dir") for arg in argv):
            argv.append(f"--output-dir={w.path('eval')}")
        return ["evaluate", *argv]

    return Case("evaluate", name, make, expect)


def solve(name: str, *args: Arg, expect: str) -> Case:
    return Case("solve", name, lambda w: ["solve", *w.argv(args)], expect)


def model_with_config(change: Callable[[dict], Any]) -> Arg:
    """`--model` of a copy of the reference model whose config.json `change` rewrote (a dict, or the file's text)."""

    def make(w: Workspace) -> str:
        folder = w.model_copy()
        config = json.loads((folder / "config.json").read_text())
        result = change(config)
        (folder / "config.json").write_text(result if isinstance(result, str) else json.dumps(result))
        return f"--model={folder}"

    return make


def model_without_weights(w: Workspace) -> str:
    folder = w.model_copy()
    (folder / "model.safetensors").unlink()
    return f"--model={folder}"


def model_with_truncated_weights(w: Workspace) -> str:
    folder = w.model_copy()
    truncate(folder / "model.safetensors")
    return f"--model={folder}"


def maze_dataset(w: Workspace) -> str:
    from hrm_hf.data.maze import build_maze_dataset
    from hrm_hf.data.maze_generator import generate_mazes

    mazes = generate_mazes(4, seed=0, side=30, min_path_length=10, progress=False)
    folder = w.path("maze")
    build_maze_dataset(mazes[:2], mazes[2:], output_dir=folder)
    return f"--dataset={folder}"


def maze_file(w: Workspace) -> str:
    lines = "\n".join(MAZE_QUESTION[i : i + 30] for i in range(0, 900, 30))
    return f"--maze={w.file('maze.txt', lines)}"


MODEL, DATA = "--model={model}", "--dataset={data}"
NOT_JSON = model_with_config(lambda config: "{oops")
EMPTY_4X4 = "--sudoku=1..............."

# fmt: off
EVALUATE_CASES = [
    evaluate("model folder missing", "--model=./nowhere/model", DATA, expect="./nowhere/model"),
    evaluate("model path shaped like a repo id, offline", "--model=someone/no-such-model", DATA,
             expect="someone/no-such-model"),
    evaluate("model path with two slashes", "--model=runs/x/model", DATA, expect="runs/x/model"),
    evaluate("dataset folder missing", MODEL, "--dataset=/nowhere/data", expect="/nowhere/data"),
    evaluate("dataset path shaped like a repo id, offline", MODEL, "--dataset=someone/no-such-data",
             expect="someone/no-such-data"),
    evaluate("--split unknown", MODEL, DATA, "--split=validation", expect="validation"),
    evaluate("--limit 0", MODEL, DATA, "--limit=0", expect="--limit"),
    evaluate("--limit negative", MODEL, DATA, "--limit=-3", expect="--limit"),
    evaluate("--batch-size 0", MODEL, DATA, "--batch-size=0", expect="--batch-size"),
    evaluate("--max-steps 0", MODEL, DATA, "--max-steps=0", expect="--max-steps"),
    evaluate("--halting not a choice", MODEL, DATA, "--halting", "sometimes", expect="sometimes"),
    evaluate("--save-examples negative", MODEL, DATA, "--save-examples=-1", expect="--save-examples"),
    evaluate("--output-dir is a file", MODEL, DATA, lambda w: f"--output-dir={w.file('eval.txt', 'mine')}",
             expect="eval.txt"),
    evaluate("wrong puzzle type for the model", MODEL, maze_dataset, expect="seq_len"),
    evaluate("model config.json not JSON", NOT_JSON, DATA, expect="config.json"),
    evaluate("model config.json negative size", model_with_config(lambda c: {**c, "hidden_size": -32}), DATA,
             expect="hidden_size"),
    evaluate("model config.json size a string", model_with_config(lambda c: {**c, "num_heads": "two"}), DATA,
             expect="num_heads"),
    evaluate("model folder without weights", model_without_weights, DATA, expect="{here}/model"),
    evaluate("model weights truncated", model_with_truncated_weights, DATA,
             expect="{here}/model: its safetensors weights"),
    evaluate("valid evaluation (control)", MODEL, DATA, "--limit=4", "--halting", "fixed", expect=None),
    solve("model folder missing", "--model=./nowhere/model", "--sudoku=1...", expect="./nowhere/model"),
    solve("sudoku of the wrong length", MODEL, "--sudoku=12..", expect="16"),
    solve("sudoku with clashing clues", MODEL, "--sudoku=11..............", expect="clash"),
    solve("sudoku with bad characters", MODEL, "--sudoku=ab..............", expect="'ab'"),
    solve("sudoku empty", MODEL, "--sudoku=", expect="sudoku"),
    solve("sudoku 9x9 for a 4x4 model", MODEL, f"--sudoku={SUDOKU_QUESTION}", expect="81"),
    solve("maze for a sudoku model", MODEL, maze_file, expect="maze"),
    solve("arc for a sudoku model", MODEL, "--arc=[[0, 1], [1, 0]]", expect="arc"),
    solve("arc not JSON", MODEL, "--arc=[[0, 1", expect="arc"),
    solve("maze one-line non-file", MODEL, "--maze=maze.txt", expect="maze.txt"),
    solve("--puzzle-identifier out of range", MODEL, EMPTY_4X4, "--puzzle-identifier=99", expect="99"),
    solve("--puzzle-identifier negative", MODEL, EMPTY_4X4, "--puzzle-identifier=-1", expect="-1"),
    solve("--max-steps 0", MODEL, EMPTY_4X4, "--max-steps=0", expect="--max-steps"),
    solve("no puzzle given", MODEL, expect="--sudoku"),
    solve("model config.json not JSON", NOT_JSON, EMPTY_4X4, expect="config.json"),
    # typed readers (strict weights, checkpoints told apart, card inputs) and limits before allocation
    evaluate("model weights missing a tensor", model_weights(without_tensor("lm_head.weight")), DATA,
             expect="lm_head.weight"),
    evaluate("model weights missing the puzzle table", model_weights(without_tensor("puzzle_emb.weight")), DATA,
             expect="puzzle_emb.weight"),
    evaluate("model weights with an extra tensor", model_weights(lambda t: {**t, "extra.weight": torch.zeros(2)}),
             DATA, expect="extra.weight"),
    evaluate("model weights of another shape", model_weights(lambda t: {**t, "q_head.bias": torch.zeros(3)}), DATA,
             expect="q_head.bias"),
    evaluate("model folder without config.json", model_without_config, DATA, expect="no config.json"),
    evaluate("training checkpoint as --model", checkpoint_as_model, DATA, expect="training checkpoint"),
    evaluate("model config.json hidden_size 2^40", model_with_config(lambda c: {**c, "hidden_size": 2**40}), DATA,
             expect="GiB of memory"),
    evaluate("model config.json expansion 0.001", model_with_config(lambda c: {**c, "expansion": 0.001}), DATA,
             expect="expansion"),
    evaluate("--update-card with card_inputs.json metrics a list", model_with_card_inputs('{"metrics": [1]}'), DATA,
             "--limit=4", "--update-card", expect="`metrics`"),
    evaluate("--update-card with card_inputs.json not JSON", model_with_card_inputs("{oops"), DATA, "--limit=4",
             "--update-card", expect="card_inputs.json"),
    solve("model weights missing a tensor", model_weights(without_tensor("q_head.weight")), EMPTY_4X4,
          expect="q_head.weight"),
    solve("training checkpoint as --model", checkpoint_as_model, EMPTY_4X4, expect="training checkpoint"),
    evaluate("model config.json a JSON list", model_with_config(lambda c: "[1]"), DATA, expect="config.json"),
    solve("model config.json model_type a list", model_with_config(lambda c: {**c, "model_type": ["trm"]}), EMPTY_4X4,
          expect="`model_type`"),
]
# fmt: on


# ---------------------------------------------------------------------------------------------------------------
# Security: a model folder's own code runs only when the user trusts it.


def folder_with_own_code(w: Workspace) -> Path:
    """A copy of the reference model whose `auto_map` points at a `modeling_hrm.py` that creates `w.marker`."""
    folder = w.model_copy("stranger")
    package = Path(modeling_hrm.__file__).parent
    shutil.copy(package / "configuration_hrm.py", folder / "configuration_hrm.py")
    code = (package / "modeling_hrm.py").read_text()
    (folder / "modeling_hrm.py").write_text(f"import pathlib\npathlib.Path({str(w.marker)!r}).touch()\n" + code)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_hrm.HrmActConfig", "AutoModel": "modeling_hrm.HrmActModel"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def auto_model_of_folder_code(w: Workspace) -> Callable[[], Any]:
    folder = folder_with_own_code(w)
    return lambda: AutoModel.from_pretrained(folder, trust_remote_code=False)


STRANGER = lambda w: f"--model={folder_with_own_code(w)}"  # noqa: E731

# fmt: off
SECURITY_CASES = [
    Case("security", "evaluate: folder code without --trust-remote-code",
         lambda w: ["evaluate", STRANGER(w), f"--dataset={w.sudoku4}", "--limit=2", f"--output-dir={w.path('e')}"],
         EITHER),
    Case("security", "solve: folder code without --trust-remote-code", lambda w: ["solve", STRANGER(w), EMPTY_4X4],
         EITHER),
    Case("security", "evaluate --trust-remote-code runs the folder's code (control)",
         lambda w: ["evaluate", STRANGER(w), "--trust-remote-code", f"--dataset={w.sudoku4}", "--limit=2",
                    f"--output-dir={w.path('e')}"], None, trusted=True),
    Case("security", "AutoModel.from_pretrained of folder code without trust_remote_code", auto_model_of_folder_code,
         "trust_remote_code", wordy=True),
]
# fmt: on


# ---------------------------------------------------------------------------------------------------------------
# The library: configs, `from_pretrained`, the model's forward, dataset loading, the training config.


def library(name: str, call: Callable[[], Any], expect: str | None, wordy: bool = False) -> Case:
    """A library call with nothing to build first."""
    return Case("library", name, lambda w: call, expect, wordy=wordy)


def hrm_config(name: str, expect: str, wordy: bool = False, **fields: Any) -> Case:
    """`HrmActConfig` of the small architecture with `fields` changed."""
    return library(f"HrmActConfig {name}", lambda: HrmActConfig(**{**SMALL, **fields}), expect, wordy)


def batch(**change: Any) -> dict[str, Any]:
    """A valid batch of the small model, with `change`'s arguments instead."""
    good = {"input_ids": torch.ones(2, 16, dtype=torch.long), "puzzle_identifiers": torch.zeros(2, dtype=torch.long),
            "labels": torch.ones(2, 16, dtype=torch.long)}  # fmt: skip
    return {**good, **change}


def forward(name: str, inputs: Callable[[], dict[str, Any]], expect: str | None) -> Case:
    """The small model's forward on `inputs`."""

    def make(w: Workspace) -> Callable[[], Any]:
        model = HrmActModel(HrmActConfig(**SMALL)).eval()
        return lambda: model(**inputs())

    return Case("library", name, make, expect)


def saved_config(change: Callable[[dict], Any], load: str = "AutoConfig") -> Callable[[Workspace], Callable]:
    """Loading (`load`: AutoConfig, HrmActConfig or HrmActModel) a folder holding the small config's config.json as
    `change` rewrote it (a dict, or the file's text)."""

    def make(w: Workspace) -> Callable[[], Any]:
        folder = w.path("cfg")
        HrmActConfig(**SMALL).save_pretrained(folder)
        result = change(json.loads((folder / "config.json").read_text()))
        (folder / "config.json").write_text(result if isinstance(result, str) else json.dumps(result))
        loader = {"AutoConfig": AutoConfig, "HrmActConfig": HrmActConfig, "HrmActModel": HrmActModel}[load]
        return lambda: loader.from_pretrained(folder)

    return make


def load_dataset(path: Callable[[Workspace], Path | str], **kwargs: Any) -> Callable[[Workspace], Callable]:
    """`load_puzzle_dataset` of the folder `path` builds."""

    def make(w: Workspace) -> Callable[[], Any]:
        folder = path(w)
        return lambda: load_puzzle_dataset(folder, **kwargs)

    return make


def dataset_without_metadata(w: Workspace) -> Path:
    data = w.dataset_copy()
    for meta in data.rglob("puzzle_meta*"):
        meta.unlink()
    return data


def train_config_of(values: Any) -> Callable[[], Any]:
    return lambda: TrainConfig.from_dict(values)


# fmt: off
LIBRARY_CASES = [
    hrm_config("hidden_size negative", "hidden_size", hidden_size=-32),
    hrm_config("num_heads 0", "num_heads", num_heads=0),
    hrm_config("misspelt key", "hiden_size", hiden_size=64),
    hrm_config("pos_encodings unknown", "pos_encodings", pos_encodings="sine"),
    hrm_config("forward_dtype unknown", "forward_dtype", forward_dtype="float64"),
    hrm_config("halt_max_steps 0", "halt_max_steps", halt_max_steps=0),
    hrm_config("seq_len 0", "seq_len", seq_len=0),
    hrm_config("expansion nan", "expansion", expansion=float("nan")),
    hrm_config("hidden_size a string", "hidden_size", wordy=True, hidden_size="64"),
    hrm_config("hidden_size a float", "hidden_size", wordy=True, hidden_size=32.5),
    hrm_config("tie_word_embeddings", "tie_word_embeddings", tie_word_embeddings=True),
    hrm_config("rms_norm_eps negative", "rms_norm_eps", rms_norm_eps=-1.0),
    hrm_config("halt_exploration_prob 2", "halt_exploration_prob", halt_exploration_prob=2.0),
    Case("library", "AutoConfig of config.json not JSON", saved_config(lambda c: "{oops"), "config.json"),
    Case("library", "from_pretrained config.json negative size",
         saved_config(lambda c: {**c, "hidden_size": -32}, load="HrmActModel"), "hidden_size"),
    Case("library", "from_pretrained folder without weights", saved_config(lambda c: c, load="HrmActModel"),
         "model.safetensors"),
    Case("library", "from_pretrained config.json num_heads a string",
         saved_config(lambda c: {**c, "num_heads": "two"}, load="HrmActConfig"), "num_heads", wordy=True),
    Case("library", "from_pretrained missing folder",
         lambda w: lambda: HrmActModel.from_pretrained(w.root / "nowhere"), "nowhere"),
    forward("model: token beyond the vocabulary", lambda: batch(input_ids=torch.full((2, 16), 9)), "input_ids"),
    forward("model: negative token", lambda: batch(input_ids=torch.full((2, 16), -1)), "input_ids"),
    forward("model: wrong sequence length", lambda: batch(input_ids=torch.ones(2, 9, dtype=torch.long)), "input_ids"),
    forward("model: float input_ids", lambda: batch(input_ids=torch.ones(2, 16)), "input_ids"),
    forward("model: 1-D input_ids", lambda: batch(input_ids=torch.ones(16, dtype=torch.long)), "input_ids"),
    forward("model: puzzle id out of range", lambda: batch(puzzle_identifiers=torch.tensor([0, 7])),
            "puzzle_identifiers"),
    forward("model: puzzle ids of another batch size",
            lambda: batch(puzzle_identifiers=torch.zeros(3, dtype=torch.long)), "puzzle_identifiers"),
    forward("model: labels of the wrong shape", lambda: batch(labels=torch.ones(2, 15, dtype=torch.long)), "labels"),
    forward("model: labels beyond the vocabulary", lambda: batch(labels=torch.full((2, 16), 9)), "labels"),
    forward("model: attention_mask given", lambda: {**batch(), "attention_mask": torch.ones(2, 16)}, "attention_mask"),
    forward("model: unknown argument", lambda: {**batch(), "colour": 1}, "colour"),
    forward("model: empty batch", lambda: batch(input_ids=torch.ones(0, 16, dtype=torch.long),
                                         puzzle_identifiers=torch.zeros(0, dtype=torch.long),
                                         labels=torch.ones(0, 16, dtype=torch.long)), "input_ids"),
    forward("model: input_ids a list", lambda: batch(input_ids=[[1] * 16] * 2), "input_ids"),
    forward("model: input_ids a list, no puzzle ids", lambda: {"input_ids": [[1] * 16] * 2}, "input_ids"),
    forward("model: input_ids None", lambda: {"input_ids": None}, "input_ids"),
    forward("model: labels a numpy array", lambda: batch(labels=batch()["labels"].numpy()), "labels"),
    forward("model: output_hidden_states unknown", lambda: {**batch(), "output_hidden_states": "all"},
            "output_hidden_states"),
    Case("library", "load_puzzle_dataset missing folder", load_dataset(lambda w: "./nowhere/data"), "./nowhere/data"),
    Case("library", "load_puzzle_dataset empty folder", load_dataset(lambda w: empty_folder(w, "empty")),
         "{here}/empty"),
    Case("library", "load_puzzle_dataset without metadata", load_dataset(dataset_without_metadata), "{here}/data"),
    Case("library", "load_puzzle_dataset unknown split", load_dataset(lambda w: w.sudoku4, split="valid"), "valid"),
    Case("library", "load_puzzle_dataset a file", load_dataset(lambda w: w.file("d.txt", "x")), "d.txt"),
    library("TrainConfig.from_dict lr a word", train_config_of({"lr": "fast"}), "lr"),
    library("TrainConfig.from_dict unknown key", train_config_of({"learning_rate": 1}), "learning_rate"),
    library("TrainConfig.from_dict unknown arch key", train_config_of({"arch": {"colour": 1}}), "colour"),
    library("TrainConfig.from_dict batch a float", train_config_of({"global_batch_size": 1.5}), "global_batch_size"),
    library("TrainConfig.from_dict epochs a bool", train_config_of({"epochs": True}), "epochs"),
    library("TrainConfig.from_dict a list", train_config_of([1, 2]), "list"),
    library("TrainConfig.from_dict lr inf", train_config_of({"lr": float("inf")}), "lr"),
    forward("valid forward (control)", batch, None),
    # typed readers and limits before allocation
    hrm_config("hidden_size 2^40", "GiB of memory", hidden_size=2**40),
    hrm_config("num_puzzle_identifiers 10^13", "GiB of memory", num_puzzle_identifiers=10**13),
    hrm_config("expansion 0.001", "expansion", expansion=0.001),
    library("TrmConfig mlp_t expansion 0.01", lambda: TrmConfig(**{**SMALL, "expansion": 0.01, "mlp_t": True}),
            "expansion"),
    Case("library", "load_puzzle_dataset metadata vocab_size a string",
         load_dataset(dataset_with_metadata(train_split_field("vocab_size", "6"))), "`vocab_size`"),
    Case("library", "load_puzzle_dataset metadata seq_len 0",
         load_dataset(dataset_with_metadata(train_split_field("seq_len", 0))), "`seq_len`"),
    Case("library", "load_puzzle_dataset identifiers file not a list",
         load_dataset(dataset_with_metadata(lambda c: {**c, "identifiers_file": "puzzle_metadata.json"})),
         "identifier names"),
    Case("library", "load_model of weights missing a tensor",
         lambda w: lambda: load_model(model_weights(without_tensor("lm_head.weight"))(w).removeprefix("--model=")),
         "lm_head.weight"),
]
# fmt: on


# ---------------------------------------------------------------------------------------------------------------
# Held-out cases: written without reading the cases above, in the classes of the robustness review (docs that break,
# data lost, links followed out, files trusted as they are, mismatches accepted, sizes that cannot fit).


MAZE4_QUESTION = "S  #" "## #" "   #" "#G  "  # fmt: skip
MAZE4_ANSWER = "So #" "##o#" " oo#" "#G  "  # fmt: skip


def maze4_dataset(w: Workspace, name: str = "maze4") -> Path:
    """A maze dataset on a 4x4 grid: the sizes of the 4x4 Sudoku dataset (16 cells, 6 tokens), another puzzle type."""
    from hrm_hf.data.maze import build_maze_dataset
    from hrm_hf.data.puzzle_csv import PuzzleRow

    rows = [PuzzleRow("m", MAZE4_QUESTION, MAZE4_ANSWER, 0)] * 4
    folder = w.path(name)
    build_maze_dataset(rows[:2], rows[2:], output_dir=folder)
    return folder


def maze4_model(w: Workspace) -> Path:
    """A model trained for two steps on the 4x4 maze dataset."""
    run = w.path("maze-run")
    code, stderr, _ = run_cli(w.train_argv(maze4_dataset(w), run, "--max-steps=2", "--global-batch-size=2"))
    if code != 0:
        raise RuntimeError(f"the 4x4 maze run failed:\n{stderr[-3000:]}")
    return run / "model"


def same_sizes_other_puzzles(w: Workspace, name: str = "rebuilt") -> Path:
    """A 4x4 Sudoku dataset of other puzzles than the reference run's, built at `name`."""
    from hrm_hf.data.sudoku import build_sudoku_dataset
    from hrm_hf.data.sudoku_generator import generate_puzzles

    rows = generate_puzzles(80, seed=7, size=4, clues=(10, 10), progress=False)
    folder = w.path(name)
    build_sudoku_dataset(rows[:64], rows[64:], size=4, output_dir=folder)
    return folder


def resume_with_data(data: Callable[[Workspace], str], *extra: str) -> Callable[[Workspace], list[str]]:
    """Resuming a copy of the reference run, its checkpoint's config and this run naming the dataset `data` gives."""

    def make(w: Workspace) -> list[str]:
        run = w.checkpoint_copy()
        path = data(w)
        saved = run / "checkpoints" / "step-2" / "train_config.yaml"
        saved.write_text(saved.read_text().replace(str(w.sudoku4), path.rstrip("/")))
        argv = w.resume(run, *extra)
        return [arg if not arg.startswith("--data-path=") else f"--data-path={path}" for arg in argv]

    return make


def rebuilt_in_place(w: Workspace) -> str:
    """The reference dataset's path, rebuilt there with other puzzles after the checkpoint was written."""
    folder = w.dataset_copy()
    shutil.rmtree(folder)
    same_sizes_other_puzzles(w, "other")
    shutil.move(w.here / "other", folder)
    return str(folder)


def linked_dataset(w: Workspace) -> str:
    link = w.path("linked-data")
    link.symlink_to(w.sudoku4, target_is_directory=True)
    return str(link)


def dataset_with_metadata(change: Callable[[dict], Any]) -> Arg:
    """`--dataset` of a copy of the 4x4 dataset whose puzzle_metadata.json `change` rewrote (every split)."""

    def make(w: Workspace) -> str:
        folder = w.dataset_copy()
        path = folder / "puzzle_metadata.json"
        content = json.loads(path.read_text())
        for fields in content["splits"].values():
            change(fields)
        path.write_text(json.dumps(content))
        return f"--dataset={folder}"

    return make


def metadata_linked_out(w: Workspace) -> str:
    """A dataset copy whose puzzle_metadata.json is a link to a file outside the folder."""
    folder = w.dataset_copy()
    outside = w.file("outside.json", (folder / "puzzle_metadata.json").read_text())
    (folder / "puzzle_metadata.json").unlink()
    (folder / "puzzle_metadata.json").symlink_to(outside)
    return f"--dataset={folder}"


def into_a_user_folder_link(w: Workspace) -> str:
    """`--output-dir` a link to a folder of the user's files."""
    mine = w.folder_with_a_file("mine")
    link = w.path("link")
    link.symlink_to(mine, target_is_directory=True)
    return f"--output-dir={link}"


def output_into_dataset(w: Workspace) -> list[str]:
    data = w.dataset_copy()
    return w.train_argv(data, data, "--max-steps=2")


def output_is_a_file(w: Workspace) -> list[str]:
    return w.train_argv(w.sudoku4, w.file("out.txt", "mine"), "--max-steps=2")


def train_on_model_folder(w: Workspace) -> list[str]:
    return w.train(data=w.model_copy())


def held_out(group: str, name: str, make: Callable[[Workspace], Action], expect: str | None) -> Case:
    return Case(group, f"held out: {name}", make, expect)


def held_out_train(name: str, *flags: Arg, expect: str | None) -> Case:
    return held_out("train", name, lambda w: w.train(*w.argv(flags)), expect)


def held_out_yaml(name: str, text: str, expect: str) -> Case:
    return held_out("train", name, lambda w: w.train(f"--config={w.file('config.yaml', w.fill(text))}",
                                                    preset=False), expect)  # fmt: skip


def held_out_build(name: str, *args: Arg, expect: str | None) -> Case:
    case = build(name, *args, expect=expect)
    return held_out("build-dataset", name, case.make, expect)


def held_out_evaluate(name: str, *args: Arg, expect: str | None) -> Case:
    case = evaluate(name, *args, expect=expect)
    return held_out("evaluate", name, case.make, expect)


def held_out_solve(name: str, *args: Arg, expect: str | None) -> Case:
    return held_out("solve", name, lambda w: ["solve", *w.argv(args)], expect)


def held_out_library(name: str, call: Callable[[], Any], expect: str | None) -> Case:
    return held_out("library", name, lambda w: call, expect)


OTHER_TEST_CSV: Arg = lambda w: f"--test-csv={w.csv(f's,{Q},{A},0', name='test.csv')}"  # noqa: E731


def solve_with(**options: Any) -> Any:
    """The puzzle pipeline of the small (4x4 Sudoku) model on an empty puzzle, with `options`."""
    from hrm_hf.pipeline_hrm import HrmPuzzlePipeline

    solver = HrmPuzzlePipeline(model=HrmActModel(HrmActConfig(**SMALL)).eval(), device="cpu")
    return solver(["................"], **options)


def run_config(**values: Any) -> Callable[[], Any]:
    return train_config_of({"data_path": "data", **values})


# fmt: off
HELD_OUT_CASES = [
    # mismatches accepted: metric names, resumes, puzzle types
    held_out_train("--stop-when misspelt train metric", "--stop-when=train/exact_acuracy>=0.9",
                   expect="exact_acuracy"),
    held_out_train("--stop-when misspelt eval metric", "--stop-when=eval/token_acc>=0.9", expect="token_acc"),
    held_out_train("--stop-when threshold not a number", "--stop-when=eval/exact_accuracy>=1e", expect="stop_when"),
    held_out_train("--stop-when threshold a lone dot", "--stop-when=train/lm_loss<=.", expect="stop_when"),
    held_out_train("--stop-when of an unknown split", "--stop-when=test/exact_accuracy>=0.5", expect="stop_when"),
    held_out_train("--early-stopping-metric misspelt", "--early-stopping-patience=2",
                   "--early-stopping-metric=exact_acc", expect="exact_acc"),
    held_out_train("--stop-when of a logged metric (control)", "--stop-when=train/lm_loss<=-1", expect=None),
    held_out("train", "resume on a dataset rebuilt in place with other puzzles",
             resume_with_data(rebuilt_in_place), "--allow-other-dataset"),
    held_out("train", "resume on the rebuilt dataset with --allow-other-dataset",
             resume_with_data(rebuilt_in_place, "--allow-other-dataset"), None),
    held_out("train", "resume with the data path's trailing slash (control)",
             resume_with_data(lambda w: f"{w.sudoku4}/"), None),
    held_out("train", "resume through a link to the same dataset (control)",
             resume_with_data(linked_dataset), None),
    # sizes and values that cannot work
    held_out_train("--lr overflowing to inf", "--lr=1e400", expect="lr"),
    held_out_train("--hidden-size not divisible by the heads", "--hidden-size=33", expect="hidden_size"),
    held_out_train("--num-heads zero", "--num-heads=0", expect="num_heads"),
    held_out_train("--expansion negative", "--expansion=-1", expect="expansion"),
    held_out_train("--halt-max-steps zero", "--halt-max-steps=0", expect="halt_max_steps"),
    held_out_train("--H-cycles zero", "--H-cycles=0", expect="H_cycles"),
    held_out_train("--keep-last negative", "--keep-last=-1", expect="keep_last"),
    held_out_train("--eval-interval not dividing --epochs", "--eval-interval=3", expect="epochs"),
    # files trusted as they are
    held_out_yaml("config stop_when a number", "stop_when: 5\n", expect="stop_when"),
    held_out_yaml("config report_to a string", "report_to: tensorboard\n", expect="report_to"),
    held_out_yaml("config extra_data_paths a string", "extra_data_paths: '{data}'\n", expect="extra_data_paths"),
    held_out_yaml("config max_steps a boolean", "max_steps: true\n", expect="max_steps"),
    held_out_yaml("config TRM with H_cycles zero", "data_path: '{data}'\narch:\n  name: trm\n  H_cycles: 0\n", expect="H_cycles"),
    # data lost
    held_out("train", "--output-dir is the dataset folder", output_into_dataset, "output"),
    held_out("train", "--output-dir is a file", output_is_a_file, "out.txt"),
    held_out("train", "--data-path is a model folder", train_on_model_folder, "puzzle_metadata.json"),
    # build-dataset: options ignored in a mode, numbers out of range
    held_out_build("--subsample-size with --generate", "sudoku", "--size=4", "--generate=4", "--subsample-size=2",
                   expect="--subsample-size"),
    held_out_build("--generate zero", "sudoku", "--size=4", "--generate=0", expect="--generate"),
    held_out_build("--generate negative", "sudoku", "--size=4", "--generate=-3", expect="--generate"),
    held_out_build("--num-aug negative", "sudoku", "--size=4", "--generate=4", "--num-aug=-1", expect="--num-aug"),
    held_out_build("maze --size zero", "maze", "--size=0", "--generate=2", expect="--size"),
    held_out_build("sudoku --min-clues beyond the grid", "sudoku", "--size=4", "--generate=2", "--min-clues=90",
                   expect="--min-clues"),
    held_out_build("sudoku --max-clues below --min-clues", "sudoku", "--size=4", "--generate=2", "--min-clues=10",
                   "--max-clues=5", expect="--max-clues"),
    held_out_build("--csv and --generate together", "sudoku", GOOD_CSV, OTHER_TEST_CSV, "--generate=4",
                   expect="--generate"),
    held_out_build("--subsample-size zero", "sudoku", GOOD_CSV, OTHER_TEST_CSV, "--subsample-size=0",
                   expect="--subsample-size"),
    held_out_build("--output-dir an existing file", "sudoku", "--size=4", "--generate=2",
                   lambda w: f"--output-dir={w.file('out.txt', 'mine')}", expect="out.txt"),
    held_out_build("--output-dir a link to the user's folder", "sudoku", "--size=4", "--generate=2",
                   into_a_user_folder_link, expect="link"),
    held_out_build("arc --num-aug negative", "arc", KAGGLE, "--num-aug=-5", expect="--num-aug"),
    # evaluate: puzzle types, options, folders
    held_out_evaluate("a Sudoku model on a 4x4 maze dataset", MODEL, lambda w: f"--dataset={maze4_dataset(w)}",
                      expect="maze"),
    held_out_evaluate("--limit zero", MODEL, DATA, "--limit=0", expect="--limit"),
    held_out_evaluate("--limit negative", MODEL, DATA, "--limit=-1", expect="--limit"),
    held_out_evaluate("--batch-size zero", MODEL, DATA, "--batch-size=0", expect="--batch-size"),
    held_out_evaluate("--max-steps zero", MODEL, DATA, "--max-steps=0", expect="--max-steps"),
    held_out_evaluate("--save-examples negative", MODEL, DATA, "--save-examples=-1", expect="--save-examples"),
    held_out_evaluate("--output-dir the dataset", MODEL, lambda w: f"--dataset={w.dataset_copy()}",
                      lambda w: f"--output-dir={w.here / 'data'}", expect="--output-dir"),
    held_out_evaluate("--output-dir the model", lambda w: f"--model={w.model_copy()}", DATA,
                      lambda w: f"--output-dir={w.here / 'model'}", expect="--output-dir"),
    held_out_evaluate("config model_type of another library", model_with_config(lambda c: c | {"model_type": "llama"}),
                      DATA, expect="llama"),
    held_out_evaluate("config table smaller than the dataset's",
                      model_with_config(lambda c: c | {"num_puzzle_identifiers": 0}), DATA,
                      expect="num_puzzle_identifiers"),
    held_out_evaluate("metadata task of no puzzle type", MODEL, dataset_with_metadata(lambda f: f.update(task="chess")),
                      expect="chess"),
    held_out_evaluate("metadata seq_len a string", MODEL, dataset_with_metadata(lambda f: f.update(seq_len="16")),
                      expect="seq_len"),
    held_out_evaluate("metadata file a link out of the folder", MODEL, metadata_linked_out,
                      expect="puzzle_metadata.json"),
    # solve: puzzle types, identifiers, text
    held_out_solve("a 4x4 maze model taken for Sudoku", lambda w: f"--model={maze4_model(w)}", EMPTY_4X4,
                   expect="maze"),
    held_out_solve("--puzzle-identifier a float", MODEL, EMPTY_4X4, "--puzzle-identifier=1.5",
                   expect="--puzzle-identifier"),
    held_out_solve("--puzzle-identifier negative", MODEL, EMPTY_4X4, "--puzzle-identifier=-1",
                   expect="puzzle_identifier"),
    held_out_solve("--puzzle-identifier beyond the table", MODEL, EMPTY_4X4, "--puzzle-identifier=99",
                   expect="99"),
    held_out_solve("--halting capitalised", MODEL, EMPTY_4X4, "--halting=Fixed", expect="--halting"),
    held_out_solve("--sudoku of 17 cells", MODEL, "--sudoku=1................", expect="sudoku"),
    held_out_solve("--sudoku with a letter", MODEL, "--sudoku=1a..............", expect="sudoku"),
    held_out_solve("--sudoku empty", MODEL, "--sudoku=", expect="sudoku"),
    held_out_solve("--png a folder", MODEL, EMPTY_4X4, lambda w: f"--png={w.here}", expect="--png"),
    # the library
    held_out_library("HrmActConfig seq_len zero", lambda: HrmActConfig(**{**SMALL, "seq_len": 0}), "seq_len"),
    held_out_library("HrmActConfig halt_exploration_prob above 1",
                     lambda: HrmActConfig(**{**SMALL, "halt_exploration_prob": 1.5}), "halt_exploration_prob"),
    held_out_library("HrmActConfig forward_dtype unknown",
                     lambda: HrmActConfig(**{**SMALL, "forward_dtype": "float8"}), "float8"),
    held_out_library("TrainConfig stop_when of no metric", run_config(stop_when="eval/exactness>=0.5"), "exactness"),
    held_out_library("TrainConfig stop_when threshold not a number", run_config(stop_when="eval/exact_accuracy<=1e"),
                     "stop_when"),
    held_out_library("TrainConfig family misspelt", run_config(arch={"name": "TRM"}), "TRM"),
    held_out_library("pipeline puzzle_identifier a float", lambda: solve_with(puzzle_identifier=1.5),
                     "puzzle_identifier"),
    # Models are loaded strictly: a changed config, a dataset or a checkpoint given as the model are refused.
    held_out_evaluate("config seq_len changed", model_with_config(lambda c: c | {"seq_len": 17}), DATA,
                      expect="weights do not match its config.json"),
    held_out_solve("--model a dataset folder", DATA.replace("--dataset", "--model"), EMPTY_4X4,
                   expect="config.json"),
    held_out_solve("--model a checkpoint folder", "--model={run}/checkpoints/step-2", EMPTY_4X4,
                   expect="checkpoint"),
]
# fmt: on


CASES = [
    *TRAIN_CASES,
    *BUILD_DATASET_CASES,
    *CONVERT_CASES,
    *EVALUATE_CASES,
    *SECURITY_CASES,
    *LIBRARY_CASES,
    *HELD_OUT_CASES,
]


def print_table(outcomes: list[Outcome]) -> None:
    counts = Counter((o.case.group, o.verdict) for o in outcomes)
    groups = list(dict.fromkeys(o.case.group for o in outcomes))
    print(f"\n{'group':<14}{'tried':>6}" + "".join(f"{v:>14}" for v in VERDICTS))
    for group in [*groups, "total"]:
        row = [counts[(group, v)] if group != "total" else sum(counts[(g, v)] for g in groups) for v in VERDICTS]
        print(f"{group:<14}{sum(row):>6}" + "".join(f"{n:>14}" for n in row))
    secs = sum(o.seconds for o in outcomes)
    print(f"\n{len(outcomes)} cases in {secs:.0f} s")


def main() -> None:
    """Run every case, print one line per case and the table per group."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="hrm-audit-") as tmp, offline():
        w, outcomes = Workspace(Path(tmp)), []
        for case in CASES:
            outcome = run_case(case, w)
            outcomes.append(outcome)
            lines = outcome.message.strip().splitlines() or [""]
            shown = lines[-1] if outcome.verdict == "crash" else " | ".join(lines)
            print(f"{outcome.verdict:<13} {case.group:<13} {case.name}: {shown[:300]}", flush=True)
        print_table(outcomes)


if __name__ == "__main__":
    main()
