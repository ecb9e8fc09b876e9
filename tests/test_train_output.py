"""The Hub push: retries, and a failed push leaves the local model folder untouched."""

import pytest

from hrm_hf.training.output import push_folder


class FlakyApi:
    """Stands in for `HfApi`: fails `failures` uploads, then succeeds."""

    def __init__(self, failures: int):
        self.failures, self.uploads = failures, 0

    def create_repo(self, repo_id, exist_ok):
        assert exist_ok

    def upload_folder(self, folder_path, repo_id, commit_message):
        self.uploads += 1
        if self.uploads <= self.failures:
            raise ConnectionError("Hub unreachable")
        return f"https://huggingface.co/{repo_id}/commit/abc"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    return tmp_path


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_push_retries_then_succeeds(folder):
    api = FlakyApi(failures=2)
    assert push_folder(folder, "me/hrm", retries=3, backoff_s=0, api=api).endswith("/commit/abc")
    assert api.uploads == 3


def test_failed_push_raises_and_keeps_the_folder(folder):
    before = snapshot(folder)
    api = FlakyApi(failures=5)
    with pytest.raises(ConnectionError):
        push_folder(folder, "me/hrm", retries=3, backoff_s=0, api=api)
    assert api.uploads == 3
    assert snapshot(folder) == before
