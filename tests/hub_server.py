"""A minimal Hugging Face Hub for tests: an HTTP server on 127.0.0.1 that stores model and dataset repos.

It implements what `huggingface_hub` (2.x, with `HF_HUB_DISABLE_XET=1`) and `datasets` need to push and load:
repo creation and info, preupload, LFS batch and upload, NDJSON commits, tree listing, paths-info, refs and
`resolve` (HEAD and GET, byte ranges, the ETag / X-Repo-Commit / X-Linked-* headers), and branches (create, commit
to, read at). Every commit is a full snapshot, addressable by its sha; a branch names its newest commit. Blobs live
in a folder, keyed by sha256. `fail_next` makes the next requests fail with a chosen HTTP status, to test retries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml


PREFIXES = {"datasets/": "dataset", "spaces/": "space"}
SPACE_SDKS = ("gradio", "docker", "static")
LFS_THRESHOLD = 10 * 2**20
LFS_SUFFIXES = (".parquet", ".arrow", ".safetensors", ".bin", ".pt", ".npy", ".zip", ".gz")


@dataclass
class FileEntry:
    """One file of a snapshot."""

    size: int
    sha256: str
    blob_id: str  # git blob sha1 of the content (regular) or of the LFS pointer
    lfs: bool


@dataclass
class Commit:
    sha: str
    title: str
    files: dict[str, FileEntry]
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()))


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    sdk: str | None = None  # a Space's SDK (gradio, docker, static), given when it is created
    commits: list[Commit] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)  # branch name -> sha of its newest commit

    @property
    def head(self) -> Commit:
        """The newest commit of `main`."""
        return self.at("main")

    def at(self, revision: str) -> Commit | None:
        """The commit a branch name (`main`, `refs/heads/main`) or a commit sha names; None when none."""
        sha = self.branches.get(revision.removeprefix("refs/heads/"), revision)
        return next((c for c in self.commits if c.sha == sha), None)


class HubError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.extra = status, code, extra


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


class LocalHub:
    """Repos and blobs, plus the HTTP server that serves them (`start()` returns the endpoint URL)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lock = threading.Lock()
        self.requests: list[str] = []  # "METHOD path" of every request, for debugging tests
        self.failures: list[int] = []  # HTTP statuses the next requests get instead of an answer, first first
        self._server: ThreadingHTTPServer | None = None
        self.endpoint = ""

    # ------------------------------------------------------------ lifecycle
    def start(self) -> str:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> LocalHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int, count: int = 1) -> None:
        """Answer the next `count` requests with HTTP `status` (e.g. 503, 429 or 401) without serving them."""
        with self.lock:
            self.failures += [status] * count

    def take_failure(self) -> int | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    # ------------------------------------------------------------ storage
    def store_blob(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        (self.blobs / sha256).write_bytes(data)
        return sha256

    def repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "RepoNotFound", f"Repository {repo_type}/{repo_id} not found")
        return repo

    def snapshot(self, repo: Repo, revision: str) -> Commit:
        commit = repo.at(unquote(revision))
        if commit is None:
            raise HubError(404, "RevisionNotFound", f"Revision {revision} not found")
        return commit

    def create_repo(self, repo_type: str, repo_id: str, private: bool, sdk: str | None = None) -> None:
        with self.lock:
            if (repo_type, repo_id) in self.repos:
                # The real Hub's 409 carries the repo URL, which `create_repo(exist_ok=True)` returns.
                raise HubError(409, "", "You already created this repo", url=self.repo_url(repo_type, repo_id))
            if repo_type == "space" and sdk not in SPACE_SDKS:  # as the Hub, which runs a Space with its SDK
                raise HubError(400, "", f"A Space needs an sdk, one of {', '.join(SPACE_SDKS)}; got {sdk!r}")
            repo = Repo(repo_type, repo_id, private, sdk)
            initial = Commit(hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest(), "initial commit", {})
            repo.commits.append(initial)
            repo.branches["main"] = initial.sha
            self.repos[(repo_type, repo_id)] = repo

    def repo_url(self, repo_type: str, repo_id: str) -> str:
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return f"{self.endpoint}/{prefix}{repo_id}"

    def create_branch(self, repo: Repo, branch: str, starting_point: str | None) -> None:
        with self.lock:
            if branch in repo.branches:
                raise HubError(409, "", f"Branch {branch} already exists")
            repo.branches[branch] = self.snapshot(repo, starting_point or "main").sha

    def commit(self, repo: Repo, lines: list[dict], branch: str = "main") -> Commit:
        header = lines[0]["value"]
        branch = branch.removeprefix("refs/heads/")
        with self.lock:
            if branch not in repo.branches:
                raise HubError(404, "RevisionNotFound", f"Invalid rev id: {branch}")
            head = repo.at(branch)
            parent = header.get("parentCommit")
            if parent is not None and parent != head.sha:
                raise HubError(412, "", "Parent commit is not the head of the branch")
            files = dict(head.files)
            for line in lines[1:]:
                self._apply(files, line["key"], line["value"])
            digest = hashlib.sha1((head.sha + json.dumps(lines, sort_keys=True)).encode()).hexdigest()
            repo.commits.append(Commit(digest, header.get("summary", ""), files))
            repo.branches[branch] = digest
            return repo.commits[-1]

    def _apply(self, files: dict[str, FileEntry], key: str, value: dict) -> None:
        path = value["path"]
        if key == "file":
            data = base64.b64decode(value["content"])
            files[path] = FileEntry(len(data), self.store_blob(data), _git_blob_sha1(data), lfs=False)
        elif key == "lfsFile":
            blob = self.blobs / value["oid"]
            if not blob.exists():
                raise HubError(400, "", f"LFS object {value['oid']} of {path} was never uploaded")
            size = blob.stat().st_size
            files[path] = FileEntry(size, value["oid"], _git_blob_sha1(_lfs_pointer(value["oid"], size)), lfs=True)
        elif key == "deletedFile":
            files.pop(path, None)
        elif key == "deletedFolder":
            for name in [n for n in files if n.startswith(path.rstrip("/") + "/")]:
                del files[name]
        else:
            raise HubError(400, "", f"Unsupported commit operation {key}")

    # ------------------------------------------------------------ listings
    @staticmethod
    def file_info(path: str, entry: FileEntry) -> dict:
        info = {"type": "file", "path": path, "size": entry.size, "oid": entry.blob_id}
        if entry.lfs:
            info["lfs"] = {
                "oid": entry.sha256,
                "size": entry.size,
                "pointerSize": len(_lfs_pointer(entry.sha256, entry.size)),
            }
        return info

    @staticmethod
    def folder_info(path: str) -> dict:
        return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()}

    def tree(self, commit: Commit, folder: str, recursive: bool) -> list[dict]:
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        entries, folders = [], set()
        for path in sorted(commit.files):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for depth in range(1, len(parts)):
                sub = prefix + "/".join(parts[:depth])
                if sub not in folders and (recursive or depth == 1):
                    folders.add(sub)
                    entries.append(self.folder_info(sub))
            if recursive or len(parts) == 1:
                entries.append(self.file_info(path, commit.files[path]))
        if prefix and not entries:
            raise HubError(404, "EntryNotFound", f"{folder} does not exist")
        return entries

    def paths_info(self, commit: Commit, paths: list[str]) -> list[dict]:
        infos = []
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                infos.append(self.file_info(path, commit.files[path]))
            elif any(name.startswith(path + "/") for name in commit.files):
                infos.append(self.folder_info(path))
        return infos

    def repo_info(self, repo: Repo, commit: Commit) -> dict:
        return {
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.sha,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "lastModified": commit.date,
            "createdAt": repo.commits[0].date,
            "tags": [],
            "downloads": 0,
            "likes": 0,
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
            "cardData": {},
        }


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to a `LocalHub` (set as the class attribute `hub`)."""

    hub: LocalHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    # ------------------------------------------------------------ plumbing
    def _body(self) -> bytes:
        """The request body (read once; later calls return b"")."""
        if getattr(self, "_body_read", False):
            return b""
        self._body_read = True
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, content_type="application/json"
    ):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value: object, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode())

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.hub.requests.append(f"{self.command} {url.path}")
        self.query = parse_qs(url.query)
        self._body_read = False
        try:
            status = self.hub.take_failure()
            if status is not None:
                raise HubError(status, "", f"Injected failure {status}")
            served = {self.command, "GET" if self.command == "HEAD" else self.command}
            for method, pattern, handler in ROUTES:
                if method in served and (match := re.fullmatch(pattern, url.path)):
                    return handler(self, **match.groupdict())
            raise HubError(404, "", f"No route for {self.command} {url.path}")
        except HubError as error:
            self._body()  # drain it, so the connection stays usable
            headers = {"X-Error-Message": str(error)}
            if error.code:
                headers["X-Error-Code"] = error.code
            self._send(error.status, json.dumps({"error": str(error), **error.extra}).encode(), headers)

    do_GET = do_HEAD = do_POST = do_PUT = _dispatch

    @staticmethod
    def _repo_type(kind: str | None) -> str:
        """URL kind ("models", "datasets/", or None in a model's file URL) to repo type ("model", "dataset")."""
        return (kind or "models").rstrip("/").removesuffix("s")

    # ------------------------------------------------------------ API
    def create_repo(self) -> None:
        payload = json.loads(self._body())
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        self.hub.create_repo(
            repo_type, repo_id, payload.get("visibility") == "private" or bool(payload.get("private")),
            payload.get("sdk"),
        )  # fmt: skip
        self._json({"url": self.hub.repo_url(repo_type, repo_id), "name": repo_id})

    def validate_yaml(self) -> None:
        content = json.loads(self._body())["content"]
        front = re.match(r"^---\n(.*?)\n---", content, re.S)
        try:
            yaml.safe_load(front[1] if front else "")
        except yaml.YAMLError as error:
            raise HubError(400, "", f"Invalid YAML metadata: {error}") from error
        self._json({"errors": [], "warnings": []})

    def whoami(self) -> None:
        self._json(
            {
                "type": "user",
                "name": "tester",
                "fullname": "Tester",
                "orgs": [],
                "auth": {"accessToken": {"role": "write"}},
            }
        )

    def repo_info(self, kind: str, repo_id: str, revision: str = "main") -> None:
        repo = self.hub.repo(self._repo_type(kind), repo_id)
        self._json(self.hub.repo_info(repo, self.hub.snapshot(repo, revision)))

    def refs(self, kind: str, repo_id: str) -> None:
        repo = self.hub.repo(self._repo_type(kind), repo_id)
        self._json(
            {
                "branches": [
                    {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha}
                    for name, sha in repo.branches.items()
                ],
                "tags": [],
                "converts": [],
            }
        )

    def preupload(self, kind: str, repo_id: str, revision: str) -> None:
        repo = self.hub.repo(self._repo_type(kind), repo_id)
        files = json.loads(self._body())["files"]
        modes = [
            {
                "path": f["path"],
                "uploadMode": "lfs" if f["size"] >= LFS_THRESHOLD or f["path"].endswith(LFS_SUFFIXES) else "regular",
                "shouldIgnore": False,
            }
            for f in files
        ]
        self._json({"files": modes, "commitOid": self.hub.snapshot(repo, revision).sha})

    def create_branch(self, kind: str, repo_id: str, branch: str) -> None:
        repo = self.hub.repo(self._repo_type(kind), repo_id)
        body = self._body()
        self.hub.create_branch(repo, unquote(branch), (json.loads(body) if body else {}).get("startingPoint"))
        self._json({})

    def commit(self, kind: str, repo_id: str, revision: str) -> None:
        repo = self.hub.repo(self._repo_type(kind), repo_id)
        lines = [json.loads(line) for line in self._body().decode().splitlines() if line.strip()]
        commit = self.hub.commit(repo, lines, unquote(revision))
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        self._json(
            {
                "commitUrl": f"{self.hub.endpoint}/{prefix}{repo_id}/commit/{commit.sha}",
                "commitOid": commit.sha,
                "success": True,
            }
        )

    def tree(self, kind: str, repo_id: str, revision: str, path: str = "") -> None:
        repo = self.hub.repo(self._repo_type(kind), repo_id)
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("true", "1")
        self._json(self.hub.tree(self.hub.snapshot(repo, revision), unquote(path or ""), recursive))

    def paths_info(self, kind: str, repo_id: str, revision: str) -> None:
        repo = self.hub.repo(self._repo_type(kind), repo_id)
        body = self._body().decode()
        form = parse_qs(body) if "json" not in (self.headers.get("Content-Type") or "") else json.loads(body)
        self._json(self.hub.paths_info(self.hub.snapshot(repo, revision), form.get("paths", [])))

    # ------------------------------------------------------------ LFS
    def lfs_batch(self, kind: str | None, repo_id: str) -> None:
        self.hub.repo(self._repo_type(kind), repo_id)
        request = json.loads(self._body())
        objects = []
        for obj in request["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if not (self.hub.blobs / obj["oid"]).exists():
                entry["actions"] = {"upload": {"href": f"{self.hub.endpoint}/_lfs/{obj['oid']}"}}
            objects.append(entry)
        self._send(
            200,
            json.dumps({"transfer": "basic", "objects": objects}).encode(),
            content_type="application/vnd.git-lfs+json",
        )

    def lfs_upload(self, oid: str) -> None:
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, "", f"Uploaded content does not match oid {oid}")
        self.hub.store_blob(data)
        self._send(200)

    # ------------------------------------------------------------ files
    def resolve(self, kind: str | None, repo_id: str, revision: str, path: str) -> None:
        repo = self.hub.repo(self._repo_type(kind), repo_id)
        commit = self.hub.snapshot(repo, revision)
        path = unquote(path)
        entry = commit.files.get(path)
        if entry is None:
            raise HubError(404, "EntryNotFound", f"{path} not found in {repo_id}@{revision}")
        data = (self.hub.blobs / entry.sha256).read_bytes()
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{entry.sha256 if entry.lfs else entry.blob_id}"',
            "Accept-Ranges": "bytes",
        }
        if entry.lfs:
            headers |= {"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)}
        byte_range = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range") or "")
        if byte_range and self.command == "GET":
            start = int(byte_range[1] or 0)
            end = min(int(byte_range[2]) if byte_range[2] else len(data) - 1, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return self._send(206, data[start : end + 1], headers, "application/octet-stream")
        self._send(200, data, headers, "application/octet-stream")


_REPO = r"(?P<repo_id>[^/]+/[^/]+)"
_KIND = r"(?P<kind>models|datasets|spaces)"
ROUTES = [
    ("POST", r"/api/repos/create", _Handler.create_repo),
    ("GET", r"/api/whoami-v2", _Handler.whoami),
    ("POST", r"/api/validate-yaml", _Handler.validate_yaml),
    ("GET", rf"/api/{_KIND}/{_REPO}", _Handler.repo_info),
    ("GET", rf"/api/{_KIND}/{_REPO}/revision/(?P<revision>[^/]+)", _Handler.repo_info),
    ("GET", rf"/api/{_KIND}/{_REPO}/refs", _Handler.refs),
    ("POST", rf"/api/{_KIND}/{_REPO}/preupload/(?P<revision>[^/]+)", _Handler.preupload),
    ("POST", rf"/api/{_KIND}/{_REPO}/commit/(?P<revision>[^/]+)", _Handler.commit),
    ("POST", rf"/api/{_KIND}/{_REPO}/branch/(?P<branch>[^/]+)", _Handler.create_branch),
    ("GET", rf"/api/{_KIND}/{_REPO}/tree/(?P<revision>[^/]+)(?:/(?P<path>.*))?", _Handler.tree),
    ("POST", rf"/api/{_KIND}/{_REPO}/paths-info/(?P<revision>[^/]+)", _Handler.paths_info),
    ("POST", rf"/(?P<kind>datasets/|spaces/)?{_REPO}\.git/info/lfs/objects/batch", _Handler.lfs_batch),
    ("PUT", r"/_lfs/(?P<oid>[0-9a-f]{64})", _Handler.lfs_upload),
    ("GET", rf"/(?P<kind>datasets/|spaces/)?{_REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", _Handler.resolve),
]
