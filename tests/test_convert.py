"""The converter of the authors' checkpoints: file layouts, key prefixes, where the data sizes come from, errors."""

import json
import shutil

import pytest
import torch
from huggingface_hub import HfApi, ModelCard
from transformers import AutoModel

from hrm_hf.scripts.convert_official_checkpoint import convert_checkpoint, main
from tests.official import FIXTURES


def release_folder(
    tmp_path, case: str, keep_dataset_json: bool, file_name: str = "step_100", strip_prefix: bool = False
):
    source = FIXTURES / case / "official_checkpoint"
    folder = tmp_path / case
    folder.mkdir()
    shutil.copy(source / "all_config.yaml", folder)
    if keep_dataset_json:
        shutil.copy(source / "dataset.json", folder)
    state = torch.load(source / "step_100", weights_only=True)
    if strip_prefix:
        state = {key.removeprefix("_orig_mod.model."): value for key, value in state.items()}
    torch.save(state, folder / file_name)
    return folder


def reference_state(case: str) -> dict[str, torch.Tensor]:
    return convert_checkpoint(FIXTURES / case / "official_checkpoint").state_dict()


@pytest.mark.parametrize("file_name, strip_prefix", [("checkpoint", False), ("checkpoint", True), ("step_7", True)])
def test_hub_layout_without_dataset_json_uses_shapes_and_task(tmp_path, file_name, strip_prefix):
    folder = release_folder(
        tmp_path, "rope_puzzle", keep_dataset_json=False, file_name=file_name, strip_prefix=strip_prefix
    )
    model = convert_checkpoint(folder, overrides={"seq_len": 16})
    assert (model.config.vocab_size, model.config.num_puzzle_identifiers, model.config.seq_len) == (11, 5, 16)
    for key, tensor in reference_state("rope_puzzle").items():
        assert torch.equal(model.state_dict()[key], tensor), key


def test_learned_positions_give_seq_len_from_their_shape(tmp_path):
    folder = release_folder(tmp_path, "learned_pad", keep_dataset_json=False)
    model = convert_checkpoint(folder)
    dataset = json.loads((FIXTURES / "learned_pad" / "official_checkpoint" / "dataset.json").read_text())
    assert model.config.seq_len == dataset["seq_len"] and model.config.puzzle_emb_len == 2


def test_task_flag_gives_rope_seq_len(tmp_path):
    folder = release_folder(tmp_path, "no_puzzle", keep_dataset_json=False)
    with pytest.raises(ValueError, match=r"seq_len.*--seq-len.*--task"):
        convert_checkpoint(folder)
    assert convert_checkpoint(folder, task="sudoku").config.seq_len == 81


def test_bf16_initial_states_keep_their_dtype_and_values(tmp_path):
    model = convert_checkpoint(FIXTURES / "bf16_default" / "official_checkpoint")
    state = torch.load(FIXTURES / "bf16_default" / "official_checkpoint" / "step_100", weights_only=True)
    assert model.H_init.dtype == torch.bfloat16
    assert torch.equal(model.H_init, state["_orig_mod.model.inner.H_init"])


def test_missing_files_and_mismatched_config_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        convert_checkpoint(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="neither a `checkpoint` nor a `step_N`"):
        convert_checkpoint(empty)
    folder = release_folder(tmp_path, "rope_puzzle", keep_dataset_json=True)
    (folder / "all_config.yaml").unlink()
    with pytest.raises(FileNotFoundError, match="all_config.yaml"):
        convert_checkpoint(folder)
    (tmp_path / "again").mkdir()
    folder = release_folder(tmp_path / "again", "rope_puzzle", keep_dataset_json=True)
    config = (folder / "all_config.yaml").read_text().replace("H_layers: 2", "H_layers: 3")
    (folder / "all_config.yaml").write_text(config)
    with pytest.raises(ValueError, match="(?s)does not match the config.*Missing key.*H_module.layers.2"):
        convert_checkpoint(folder)


def test_flags_override_dataset_json_and_must_fit_the_tensors(tmp_path):
    folder = release_folder(tmp_path, "rope_puzzle", keep_dataset_json=True)
    assert convert_checkpoint(folder, overrides={"seq_len": 20}).config.seq_len == 20
    with pytest.raises(ValueError, match=r"(?s)does not match the config.*embed_tokens.weight.*\[11, 64\]"):
        convert_checkpoint(folder, overrides={"vocab_size": 12})


def test_command_line_writes_a_hub_ready_folder(tmp_path):
    out = tmp_path / "out"
    main([str(FIXTURES / "rope_puzzle" / "official_checkpoint"), "--output-dir", str(out)])
    assert {"config.json", "model.safetensors", "modeling_hrm.py", "configuration_hrm.py"} <= {
        p.name for p in out.iterdir()
    }


AUTHORS_REPO = "sapientinc/HRM-checkpoint-sudoku-extreme"


def publish_like_the_authors(tmp_path) -> str:
    """The rope_puzzle release as the authors publish theirs: `all_config.yaml` and `checkpoint`, no dataset.json."""
    folder = release_folder(tmp_path, "rope_puzzle", keep_dataset_json=False, file_name="checkpoint")
    api = HfApi()
    api.create_repo(AUTHORS_REPO)
    return api.upload_folder(folder_path=str(folder), repo_id=AUTHORS_REPO).oid


def test_converts_a_hub_repo_and_names_it_as_base_model(local_hub, tmp_path, caplog):
    commit = publish_like_the_authors(tmp_path)
    HfApi().delete_file("checkpoint", AUTHORS_REPO)  # main moves on; --source-revision still reads the release
    out = tmp_path / "out"
    main([AUTHORS_REPO, "--source-revision", commit, "--task", "sudoku", "--output-dir", str(out),
          "--push-to-hub", "tester/hrm-sudoku", "--private", "--revision", "converted"])  # fmt: skip
    assert f"Hub model repo {AUTHORS_REPO} at revision {commit} ({commit})" in caplog.text
    card = ModelCard.load(out / "README.md").data
    assert card.base_model == AUTHORS_REPO and f"--source-revision {commit}" in (out / "README.md").read_text()
    converted = convert_checkpoint(out.parent / "rope_puzzle", task="sudoku").state_dict()
    pushed = AutoModel.from_pretrained("tester/hrm-sudoku", revision="converted", trust_remote_code=True)
    assert pushed.config.seq_len == 81 and pushed.config.num_puzzle_identifiers == 5
    for key, tensor in converted.items():
        assert torch.equal(pushed.state_dict()[key], tensor), key
    pushed_repo = local_hub.hub.repos[("model", "tester/hrm-sudoku")]
    assert pushed_repo.private and "README.md" in pushed_repo.at("converted").files and not pushed_repo.head.files


def test_paths_and_repo_ids_that_do_not_exist_are_one_line_errors(local_hub, tmp_path):
    for path in ("./nowhere", "/no/such/folder", "a/b/c", "nowhere"):
        with pytest.raises(FileNotFoundError, match=rf"^checkpoint: no such file or folder '{path}'\.$"):
            main([path, "--output-dir", str(tmp_path / "out")])
    with pytest.raises(
        FileNotFoundError,
        match=r"^checkpoint: no such file or folder .me/missing., and the Hub model repo me/missing .*\(HTTP 404\)\.$",
    ):
        main(["me/missing", "--output-dir", str(tmp_path / "out")])
    assert not any(request.startswith("GET /api/models/a/b") for request in local_hub.hub.requests)


def test_an_existing_model_folder_is_never_overwritten(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    with pytest.raises(FileExistsError, match="--output-dir: .* is not an empty folder"):
        main([str(FIXTURES / "rope_puzzle" / "official_checkpoint"), "--output-dir", str(out)])
    assert (out / "README.md").read_text() == "my notes"


# --- TRM: the authors' TinyRecursiveModels runs ---------------------------------------------------------------------

TRM_FIXTURES = FIXTURES.parent / "trm"


def trm_run_folder(tmp_path, case: str, step: int = 100, keep_dataset_json: bool = False):
    """A TRM run as the authors' `pretrain.py` leaves it: `all_config.yaml`, the code files it copies, and `step_N`
    state dicts with `_orig_mod.model.inner.` keys (their runs compile the model)."""
    source = TRM_FIXTURES / case / "official_checkpoint"
    folder = tmp_path / case
    folder.mkdir(parents=True)
    shutil.copy(source / "all_config.yaml", folder)
    if keep_dataset_json:
        shutil.copy(source / "dataset.json", folder)
    (folder / "trm.py").write_text("# the authors' model code, copied by save_code_and_config\n")
    (folder / "losses.py").write_text("# the authors' loss code\n")
    state = torch.load(source / "step_100", weights_only=True)
    assert all(key.startswith("_orig_mod.model.inner.") for key in state)
    torch.save(state, folder / f"step_{step}")
    return folder


def assert_same_tensors(model, case: str) -> None:
    """Every tensor of the converted model equals the authors' checkpoint tensor of the same role."""
    from hrm_hf.scripts.convert_official_checkpoint import convert_state_dict

    release = convert_state_dict(
        torch.load(TRM_FIXTURES / case / "official_checkpoint" / "step_100", weights_only=True)
    )
    ours = model.state_dict()
    assert set(release) <= set(ours)
    for key, tensor in release.items():
        assert torch.equal(ours[key], tensor), key


@pytest.mark.parametrize(
    "case", ["trm_att_rope", "trm_mlp_t", "trm_bf16_learned", "trm_act_continue", "trm_no_puzzle"]
)
def test_trm_runs_convert_to_trm_models(tmp_path, case):
    model = convert_checkpoint(trm_run_folder(tmp_path, case, keep_dataset_json=True))
    assert type(model).__name__ == "TrmModel" and model.config.model_type == "trm"
    meta = json.loads((TRM_FIXTURES / case / "meta.json").read_text())["model_config"]
    for name in ("H_cycles", "L_cycles", "L_layers", "mlp_t", "no_ACT_continue", "pos_encodings", "seq_len"):
        assert getattr(model.config, name) == meta[name], name
    assert_same_tensors(model, case)


def test_trm_sizes_come_from_the_tensors_without_dataset_json(tmp_path):
    mlp_t = convert_checkpoint(trm_run_folder(tmp_path, "trm_mlp_t", step=7))  # the token MLP spans every position
    assert (mlp_t.config.seq_len, mlp_t.config.vocab_size, mlp_t.config.puzzle_emb_len) == (16, 6, 16)
    learned = convert_checkpoint(trm_run_folder(tmp_path, "trm_bf16_learned"))  # puzzle_emb_len 0: ceil(40 / 32)
    assert (learned.config.seq_len, learned.config.num_puzzle_identifiers, learned.config.puzzle_emb_len) == (16, 3, 2)
    rope = trm_run_folder(tmp_path, "trm_att_rope")
    with pytest.raises(ValueError, match=r"seq_len.*--seq-len.*--task"):
        convert_checkpoint(rope)
    assert convert_checkpoint(rope, overrides={"seq_len": 16}).config.num_puzzle_identifiers == 5


def test_trm_defaults_apply_when_all_config_leaves_them_out(tmp_path):
    folder = trm_run_folder(tmp_path, "trm_att_rope", keep_dataset_json=True)
    text = (folder / "all_config.yaml").read_text()
    for line in ("  mlp_t: false\n", "  no_ACT_continue: true\n", "  puzzle_emb_len: 16\n"):
        assert line in text
        text = text.replace(line, "")
    (folder / "all_config.yaml").write_text(text)
    model = convert_checkpoint(folder)
    assert (model.config.mlp_t, model.config.no_ACT_continue, model.config.puzzle_emb_len) == (False, True, 16)
    assert_same_tensors(model, "trm_att_rope")


def test_an_unknown_arch_name_is_refused_in_one_line(tmp_path):
    folder = trm_run_folder(tmp_path, "trm_att_rope", keep_dataset_json=True)
    config = (folder / "all_config.yaml").read_text()
    (folder / "all_config.yaml").write_text(
        config.replace("recursive_reasoning.trm@", "recursive_reasoning.trm_singlez@")
    )
    with pytest.raises(ValueError, match=r"^\S+all_config.yaml: arch name 'recursive_reasoning.trm_singlez@\w+' is not a "
                       r"model this converter knows \(hrm.hrm_act_v1@..., recursive_reasoning.trm@...\)\.$"):  # fmt: skip
        convert_checkpoint(folder)


def test_trm_run_converts_from_the_hub_into_a_trm_folder(local_hub, tmp_path):
    folder = trm_run_folder(tmp_path / "run", "trm_mlp_t", step=52080)
    api = HfApi()
    api.create_repo("someone/trm-sudoku-mlp")
    api.upload_folder(folder_path=str(folder), repo_id="someone/trm-sudoku-mlp")
    out = tmp_path / "out"
    main(["someone/trm-sudoku-mlp", "--output-dir", str(out)])
    assert {"modeling_trm.py", "configuration_trm.py", "modeling_hrm.py", "configuration_hrm.py"} <= {
        p.name for p in out.iterdir()
    }
    card = (out / "README.md").read_text()
    assert ModelCard.load(out / "README.md").data.base_model == "someone/trm-sudoku-mlp"
    assert "Tiny Recursive Model" in card and "2510.04871" in card
    loaded = AutoModel.from_pretrained(out, trust_remote_code=True)
    assert type(loaded).__name__ == "TrmModel" and loaded.config.mlp_t
    assert_same_tensors(loaded, "trm_mlp_t")
