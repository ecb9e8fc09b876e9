"""Shared pytest fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import build_tiny_data
from tests.hub_server import LocalHub


REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training tests' 4x4 Sudoku dataset (`build_tiny_data`), built once per test module."""
    return build_tiny_data(tmp_path_factory.mktemp("data") / "sudoku4")


@dataclass
class LocalHubSession:
    """A running local Hub: its endpoint, the environment that points clients at it, and the server state."""

    hub: LocalHub
    endpoint: str
    env: dict[str, str]

    def run_python(self, code: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run `python -c code` from the repo root in a fresh process that sees only the local Hub."""
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _point_clients_at(endpoint: str, hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`huggingface_hub` and `datasets` read these at import: patch the already imported copies too."""
    import datasets.config
    import huggingface_hub.constants as hub_constants
    import huggingface_hub.hf_api

    for name, value in {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_OFFLINE": False,
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
    }.items():
        monkeypatch.setattr(hub_constants, name, value)
    monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", endpoint)
    for name, value in {
        "HF_ENDPOINT": endpoint,
        "HUB_DATASETS_URL": endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}",
        "HF_HUB_OFFLINE": False,
        "HF_CACHE_HOME": str(hf_home),
        "HF_DATASETS_CACHE": hf_home / "datasets",
        "HF_MODULES_CACHE": hf_home / "modules",
    }.items():
        monkeypatch.setattr(datasets.config, name, value)


@pytest.fixture
def local_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A local Hub on 127.0.0.1 for the duration of a test.

    Sets `HF_ENDPOINT`, `HF_HUB_DISABLE_XET=1`, `HF_TOKEN=dummy` and a temporary `HF_HOME` in the environment
    (inherited by `run_python` subprocesses, the most faithful way to test) and patches the copies that the already
    imported `huggingface_hub` and `datasets` made of them, so in-process `push_to_hub` / `load_dataset` /
    `hf_hub_download` / `from_pretrained` use it as well.
    """
    hf_home = tmp_path / "hf_home"
    with LocalHub(tmp_path / "hub_storage") as hub:
        env = {
            "HF_ENDPOINT": hub.endpoint,
            "HF_HUB_DISABLE_XET": "1",
            "HF_TOKEN": "dummy",
            "HF_HOME": str(hf_home),
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        _point_clients_at(hub.endpoint, hf_home, monkeypatch)
        yield LocalHubSession(hub, hub.endpoint, env)
