"""Identity, not just sizes: a dataset's content fingerprint (the same rows give the same one, a changed row another,
and it survives a save and a load), the puzzle type a trained model records, and the refusals they make possible
(a resume on a rebuilt dataset, a model of one puzzle type used on another's puzzles of the same sizes), while a
dataset named by another spelling of its path is still the same one."""

import json
import shutil

import pytest

from hrm_hf.data import load_puzzle_dataset
from hrm_hf.data.storage import content_fingerprint
from hrm_hf.data.sudoku import build_sudoku_dataset
from hrm_hf.data.sudoku_generator import generate_puzzles
from hrm_hf.evaluation.model_folder import TRAINED_ON_FILE, read_trained_on
from hrm_hf.training.config import ConfigError, TrainConfig
from tests.helpers import build_tiny_data


ROWS = generate_puzzles(12, seed=3, size=4, clues=(10, 10), progress=False)


def build(changed: bool = False, output_dir=None):
    """A 4x4 Sudoku dataset of 8 training and 2 test puzzles; `changed`: its first training puzzle another."""
    train = [ROWS[10], *ROWS[1:8]] if changed else ROWS[:8]
    return build_sudoku_dataset(train, ROWS[8:10], size=4, output_dir=output_dir)


def test_the_same_rows_give_the_same_fingerprint_and_one_changed_row_another():
    _, same = build()
    _, again = build()
    _, changed = build(changed=True)
    fingerprint = same["train"].fingerprint
    assert len(fingerprint) == 64 and {m.fingerprint for m in same.values()} == {fingerprint}
    assert again["train"].fingerprint == fingerprint
    assert changed["train"].fingerprint != fingerprint


def test_the_fingerprint_is_stable_across_save_and_load(tmp_path):
    in_memory, metadata = build()
    build(output_dir=tmp_path / "data")
    dataset, loaded = load_puzzle_dataset(tmp_path / "data")
    assert loaded["train"].fingerprint == metadata["train"].fingerprint
    assert content_fingerprint(dataset, loaded) == metadata["train"].fingerprint
    assert content_fingerprint(in_memory, metadata) == metadata["train"].fingerprint
    resaved = tmp_path / "resaved"
    dataset.save_to_disk(str(resaved), max_shard_size=1)  # other Arrow files, the same rows
    from datasets import load_from_disk

    assert content_fingerprint(load_from_disk(str(resaved)), loaded) == metadata["train"].fingerprint


def test_the_fingerprint_covers_the_metadata():
    import dataclasses

    dataset, metadata = build()
    other = {split: dataclasses.replace(m, vocab_size=7) for split, m in metadata.items()}
    assert content_fingerprint(dataset, other) != content_fingerprint(dataset, metadata)
    told = {split: dataclasses.replace(m, build_command="hrm build-dataset ...") for split, m in metadata.items()}
    assert content_fingerprint(dataset, told) == content_fingerprint(dataset, metadata)


def test_dataset_paths_are_compared_where_they_resolve(tmp_path):
    data = build_tiny_data(tmp_path / "data")
    link = tmp_path / "link"
    link.symlink_to(data, target_is_directory=True)
    configs = [TrainConfig.from_dict({"data_path": path}) for path in (str(data), f"{data}/", str(link))]
    assert configs[0].differences(configs[1]) == [] and configs[0].differences(configs[2]) == []
    other = TrainConfig.from_dict({"data_path": str(tmp_path / "elsewhere")})
    assert configs[0].differences(other) == [f"data_path: {str(tmp_path / 'elsewhere')!r} -> {str(data)!r}"]


@pytest.mark.parametrize(
    "rule, message",
    [
        ("train/exact_acuracy>=0.9", "names no train metric"),
        ("eval/lm_loss<=0.5", "names no eval metric"),
        ("eval/exact_accuracy>=1e", "is not a finite number"),
        ("eval/exact_accuracy>=.", "is not a finite number"),
    ],
)
def test_stop_when_names_a_metric_that_is_logged_and_a_number(rule, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict({"data_path": "data", "stop_when": rule})


@pytest.mark.parametrize("rule", ["train/lr>=0", "eval/exact_accuracy>=0.95", "eval/pass@2>=0.5", "train/loss<=1e-3"])
def test_stop_when_of_logged_metrics_is_accepted(rule):
    assert TrainConfig.from_dict({"data_path": "data", "stop_when": rule}).stop_when == rule


def test_a_model_folder_without_a_record_and_a_damaged_record(tmp_path):
    assert read_trained_on(tmp_path) is None
    (tmp_path / TRAINED_ON_FILE).write_text(json.dumps({"puzzle_type": 4, "dataset": "d", "fingerprint": ""}))
    with pytest.raises(ValueError, match="field `puzzle_type`"):
        read_trained_on(tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# End to end: a tiny run records what it trained on; evaluate, solve and resume check it.


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny 4x4 Sudoku run with a checkpoint at each of its 3 steps."""
    from tests.audit_inputs import Workspace, offline

    with offline():
        workspace = Workspace(tmp_path_factory.mktemp("identity"))
        workspace.run  # noqa: B018 - builds the reference run
        yield workspace


def test_a_trained_model_records_its_puzzle_type_and_dataset(trained):
    record = read_trained_on(trained.model)
    _, metadata = load_puzzle_dataset(trained.sudoku4)
    assert record == {
        "puzzle_type": "sudoku", "dataset": str(trained.sudoku4), "fingerprint": metadata["train"].fingerprint
    }  # fmt: skip
    state = json.loads((trained.run / "checkpoints" / "step-3" / "trainer_state.json").read_text())
    assert state["dataset_fingerprints"] == {split: m.fingerprint for split, m in metadata.items()}


def test_a_sudoku_model_is_refused_on_maze_puzzles_of_the_same_sizes(trained):
    from tests.audit_inputs import maze4_dataset, run_cli

    trained.start_case()
    maze = maze4_dataset(trained)
    code, stderr, _ = run_cli(["evaluate", f"--model={trained.model}", f"--dataset={maze}",
                               f"--output-dir={trained.path('eval')}"])  # fmt: skip
    assert code != 0 and "holds maze puzzles, but --model" in stderr and "trained on sudoku" in stderr


def test_a_resume_on_a_rebuilt_dataset_is_refused_unless_allowed(trained):
    from tests.audit_inputs import rebuilt_in_place, resume_with_data, run_cli

    trained.start_case()
    code, stderr, _ = run_cli(resume_with_data(rebuilt_in_place)(trained))
    assert code != 0 and "is not the data checkpoint" in stderr and "--allow-other-dataset" in stderr
    trained.start_case()
    code, stderr, _ = run_cli(resume_with_data(rebuilt_in_place, "--allow-other-dataset")(trained))
    assert code == 0, stderr[-2000:]


def test_a_resume_naming_the_dataset_with_a_trailing_slash_goes_on(trained):
    from tests.audit_inputs import resume_with_data, run_cli

    trained.start_case()
    code, stderr, _ = run_cli(resume_with_data(lambda w: f"{w.sudoku4}/")(trained))
    assert code == 0, stderr[-2000:]


def test_a_converted_model_without_a_record_keeps_the_type_its_sizes_fit(trained):
    from hrm_hf.evaluation.model_folder import trained_puzzle_type
    from hrm_hf.modeling_hrm import HrmActModel

    trained.start_case()
    folder = trained.model_copy()
    (folder / TRAINED_ON_FILE).unlink()
    model = HrmActModel.from_pretrained(folder)
    assert trained_puzzle_type(model, folder).name == "sudoku"
    shutil.rmtree(folder)
