"""Model pushes against the local Hub: private repos and branches, which errors are retried, one-line failures that
leave the local folder as it was, and the background pusher of `--push-every-checkpoint`."""

import pytest

from hrm_hf.data.sudoku import build_sudoku_dataset
from hrm_hf.data.sudoku_generator import generate_puzzles
from hrm_hf.hub import BackgroundPusher, PushError, push_folder
from hrm_hf.training.config import ConfigError, TrainConfig
from hrm_hf.training.loop import train
from hrm_hf.training.model_folder import push_message


REPO = "tester/hrm"


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def newest_title(local_hub, branch="main"):
    return local_hub.hub.repos[("model", REPO)].at(branch).title


def test_push_to_a_private_repo_on_a_branch(local_hub, folder):
    push_folder(folder, REPO, private=True, revision="run-1", commit_message="step 7", backoff_s=0)
    repo = local_hub.hub.repos[("model", REPO)]
    assert repo.private
    assert set(repo.at("run-1").files) == {"config.json", "model.safetensors"} and not repo.head.files
    assert newest_title(local_hub, "run-1") == "step 7"


@pytest.mark.parametrize("status", [503, 429, 500])
def test_server_errors_and_rate_limits_are_retried(local_hub, folder, status):
    local_hub.hub.fail_next(status, count=2)
    url = push_folder(folder, REPO, retries=3, backoff_s=0)
    assert REPO in url and "model.safetensors" in local_hub.hub.repos[("model", REPO)].head.files


def test_retries_give_up_with_one_line(local_hub, folder):
    local_hub.hub.fail_next(503, count=3)
    with pytest.raises(PushError, match=r"^Push of .* to tester/hrm failed after 3 attempts: HTTP 503 [^\n]*$"):
        push_folder(folder, REPO, retries=3, backoff_s=0)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_refusals_fail_at_once_and_keep_the_folder(local_hub, folder, status):
    before = snapshot(folder)
    local_hub.hub.fail_next(status, count=5)
    with pytest.raises(PushError, match=rf"^[^\n]*HTTP {status} .*token may write to tester/hrm$") as raised:
        push_folder(folder, REPO, retries=3, backoff_s=0)
    assert not raised.value.transient
    # One attempt: create_repo's request (and, on 401/403, its own look for an existing repo); a retry takes 2 more.
    assert len(local_hub.hub.failures) >= 3
    assert snapshot(folder) == before


def test_unreachable_hub_is_retried_then_one_line(local_hub, folder):
    local_hub.hub.stop()
    with pytest.raises(PushError, match=r"^[^\n]*failed after 2 attempts: ConnectError") as raised:
        push_folder(folder, REPO, retries=2, backoff_s=0)
    assert raised.value.transient


def test_commit_message_holds_step_and_headline_metric():
    assert push_message(300, (-1, {})) == "HRM-ACT-v1 at step 300 (not evaluated yet)"
    assert push_message(300, (300, {"exact_accuracy": 0.5, "accuracy": 0.9})) == (
        "HRM-ACT-v1 at step 300: exact_accuracy 0.5000"
    )
    assert push_message(350, (300, {"exact_accuracy": 0.5})).endswith("0.5000, measured at step 300")


def make_model_folder(pusher, step):
    folder = pusher.folder_for(step)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights at %d" % step)
    return folder


def test_background_pushes_upload_in_order_and_clean_up(local_hub, tmp_path):
    pusher = BackgroundPusher(REPO, tmp_path / ".push", revision="run-1", backoff_s=0)
    assert ("model", REPO) in local_hub.hub.repos  # created up front
    futures = [pusher.push(make_model_folder(pusher, step), f"step {step}") for step in (10, 20)]
    pusher.wait()
    assert all(f.cancelled() or f.result() for f in futures) and futures[-1].result()
    assert newest_title(local_hub, "run-1") == "step 20"
    assert not list((tmp_path / ".push").iterdir())  # each staging folder deleted once pushed or dropped


def test_background_push_survives_transient_failures(local_hub, tmp_path):
    pusher = BackgroundPusher(REPO, tmp_path / ".push", retries=2, backoff_s=0)
    local_hub.hub.fail_next(503, count=2)
    assert pusher.push(make_model_folder(pusher, 10), "step 10").result() is None  # given up, logged
    assert pusher.push(make_model_folder(pusher, 20), "step 20").result()
    pusher.wait()
    assert newest_title(local_hub) == "step 20"


def test_background_refusal_is_raised_by_the_next_push(local_hub, tmp_path):
    pusher = BackgroundPusher(REPO, tmp_path / ".push", backoff_s=0)
    local_hub.hub.fail_next(403, count=2)  # create_repo, then its look for an existing repo
    future = pusher.push(make_model_folder(pusher, 10), "step 10")
    with pytest.raises(PushError, match="HTTP 403"):
        future.result()
    with pytest.raises(PushError, match="HTTP 403"):
        pusher.push(make_model_folder(pusher, 20), "step 20")
    with pytest.raises(PushError, match="HTTP 403"):
        pusher.wait()


def test_bad_token_fails_before_training(local_hub, tmp_path):
    local_hub.hub.fail_next(401, count=1)
    with pytest.raises(PushError, match=r"^Creating tester/hrm failed: HTTP 401"):
        BackgroundPusher(REPO, tmp_path / ".push", backoff_s=0)


def test_training_pushes_every_checkpoint_to_a_private_branch(local_hub, tmp_path):
    rows = generate_puzzles(24, seed=1, size=4, clues=(10, 10), progress=False)
    build_sudoku_dataset(rows[:16], rows[16:], size=4, output_dir=tmp_path / "data")
    config = TrainConfig.from_dict(
        {"arch": {"hidden_size": 32, "num_heads": 2, "H_layers": 1, "L_layers": 1, "H_cycles": 1, "L_cycles": 1,
                  "halt_max_steps": 2, "forward_dtype": "float32"}, "global_batch_size": 8, "max_steps": 6, "num_threads": 1,
         "checkpoint_every": 3, "data_path": str(tmp_path / "data"), "output_dir": str(tmp_path / "run"),
         "push_to_hub": REPO, "push_every_checkpoint": True, "private": True, "revision": "run-1"}
    )  # fmt: skip
    result = train(config)
    repo = local_hub.hub.repos[("model", REPO)]
    titles = [commit.title for commit in repo.commits]
    assert "HRM-ACT-v1 at step 3 (not evaluated yet)" in titles
    final = f"HRM-ACT-v1 at step 6: exact_accuracy {result.metrics['exact_accuracy']:.4f}"
    assert repo.private and repo.at("run-1").title == final and not repo.head.files
    assert {"model.safetensors", "config.json", "README.md"} <= set(repo.at("run-1").files)
    assert not list((tmp_path / "run" / ".push").iterdir())


def test_push_every_checkpoint_needs_a_repo(tmp_path):
    with pytest.raises(ConfigError, match="`push_to_hub` must name a Hub repo for --push-every-checkpoint"):
        TrainConfig.from_dict({"data_path": str(tmp_path), "push_every_checkpoint": True})


def test_a_push_to_hub_run_checks_repo_access_before_training(local_hub, tmp_path):
    """Without --push-every-checkpoint too: a refused repo creation stops the run before any step."""
    rows = generate_puzzles(24, seed=1, size=4, clues=(10, 10), progress=False)
    build_sudoku_dataset(rows[:16], rows[16:], size=4, output_dir=tmp_path / "data")
    config = TrainConfig.from_dict(
        {"arch": {"hidden_size": 32, "num_heads": 2, "H_layers": 1, "L_layers": 1, "halt_max_steps": 2,
                  "forward_dtype": "float32"}, "max_steps": 4, "global_batch_size": 8, "num_threads": 1,
         "data_path": str(tmp_path / "data"),
         "output_dir": str(tmp_path / "run"), "push_to_hub": REPO}
    )  # fmt: skip
    local_hub.hub.fail_next(403, count=1)
    with pytest.raises(PushError, match=r"^Creating tester/hrm failed: HTTP 403"):
        train(config)
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "model").exists()


@pytest.mark.parametrize("repo_id", ["not a repo", "a/b/c", "-bad/name"])
def test_an_invalid_repo_id_is_refused_with_the_config(repo_id):
    with pytest.raises(ConfigError, match=f"`push_to_hub` must be a Hub repo id owner/name, got '{repo_id}'"):
        TrainConfig.from_dict({"data_path": "x", "push_to_hub": repo_id})
