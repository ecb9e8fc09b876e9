"""Folders a command writes: claimed before any write, written without following a link, cleaned of only what the run
made.

A writer claims its folder first (`claim_folder`): an exclusive `flock` on `.hrm-lock` inside it, whose content says
which run holds it (pid, host, command, time), so a second writer is refused in one line naming the first, whatever
path (relative, trailing slash, a link to it) either was given. The claim records what the folder held when it was
taken: undoing a failed run removes only the entries the run added, and the folder itself only if the run made it.
Writes inside such a folder go to a temporary file beside the target and `os.replace` it, and refuse a target (or a
folder on the way to it) that is a symbolic link, so a link planted in a model, dataset, evaluation or run folder never
carries a write out of it. Standard library only: every layer, the Hub module and the model files' neighbours, may use
it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import time
import weakref
from collections.abc import Iterator
from pathlib import Path


LOCK_NAME = ".hrm-lock"
# Folders this process holds, by resolved path: a nested claim shares the first; a claim nobody refers to any more is
# released (its `__del__`), so a run object dropped without releasing does not keep its folder.
_HELD: weakref.WeakValueDictionary[Path, Claim] = weakref.WeakValueDictionary()


class FolderInUseError(OSError):
    """Another run holds the folder a command was about to write."""


class LinkRefusedError(OSError):
    """A write would go through a symbolic link, or a file named in metadata lies outside its folder."""


def entries(folder: str | Path) -> list[Path]:
    """What `folder` holds, without a claim's lock file (a killed run may leave one behind)."""
    return sorted(p for p in Path(folder).iterdir() if p.name != LOCK_NAME)


def is_empty_folder(folder: str | Path) -> bool:
    """Whether `folder` is absent, or a folder (or a link to one: the user's choice of disk) holding nothing but a
    lock file."""
    folder = Path(folder)
    return not folder.exists() or (folder.is_dir() and not entries(folder))


def remove(path: str | Path) -> None:
    """Remove `path`: a link or file is unlinked (a link's target is never touched), a real folder removed with what
    it holds (links inside it are unlinked, not followed); a missing path is no error."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def same_path(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file or folder once links, `..` and trailing slashes are resolved."""
    return Path(a).resolve() == Path(b).resolve()


def refuse_same(output: str | Path, output_option: str, inputs: dict[str, str | Path | None]) -> None:
    """A `ValueError` when the output folder is one of the inputs (by resolved path), which a run would write into
    or clean while reading it; `inputs` maps each option to its value (None: not given)."""
    for option, value in inputs.items():
        if value is not None and Path(value).exists() and same_path(output, value):
            raise ValueError(f"{output_option} {str(output)!r} is the {option} {str(value)!r}; write elsewhere.")


def checked_target(folder: str | Path, name: str | Path) -> Path:
    """`folder / name` once neither it nor any folder between `folder` and it is a symbolic link: the path a write
    inside `folder` may use. Raises `LinkRefusedError` naming the link."""
    folder, target = Path(folder), Path(folder) / name
    path = folder
    for part in Path(name).parts:
        if part in ("", ".", "..") or Path(part).is_absolute():
            raise LinkRefusedError(f"{target}: a file written inside {folder} must be named without {part!r}.")
        path = path / part
        if path.is_symlink():
            raise LinkRefusedError(f"{path} is a symbolic link; refusing to write through it (remove the link).")
    return target


@contextlib.contextmanager
def replacing(folder: str | Path, name: str | Path) -> Iterator[Path]:
    """A temporary path beside `folder / name` (with its suffix) to write to; on success it replaces the target in
    one `os.replace`, on failure it is removed. The target and the folders on the way are checked not to be links."""
    target = checked_target(folder, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    checked_target(folder, name)  # mkdir does not create links, but one may have been made meanwhile
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.stem}{target.suffix}")
    remove(tmp)
    try:
        yield tmp
        checked_target(folder, name)
        os.replace(tmp, target)
    finally:
        if tmp.is_symlink() or tmp.exists():
            remove(tmp)


def write_file(folder: str | Path, name: str | Path, content: str | bytes) -> Path:
    """Write `content` to `folder / name` atomically (a temporary file, then `os.replace`), never through a link."""
    data = content.encode() if isinstance(content, str) else content
    with replacing(folder, name) as tmp, open(tmp, "xb") as file:  # "x": never a file (or link) already there
        file.write(data)
    return Path(folder) / name


def copy_file(source: str | Path, folder: str | Path, name: str | Path) -> Path:
    """Copy the file `source` to `folder / name` as `write_file` writes."""
    with replacing(folder, name) as tmp:
        shutil.copyfile(source, tmp)
    return Path(folder) / name


def file_inside(folder: str | Path, name: str, field: str) -> Path:
    """The file `name` that a metadata field of `folder` names, once it resolves inside `folder` (links resolved);
    a `LinkRefusedError` naming the field otherwise. In a Hub snapshot (`.../snapshots/<commit>/`), whose files
    huggingface_hub links to its `blobs/`, the repo's cache folder is the bound."""
    folder = Path(folder)
    bound = folder.parent.parent if folder.parent.name == "snapshots" else folder
    path = (folder / name).resolve()
    if ".." in Path(name).parts or not path.is_relative_to(bound.resolve()):
        raise LinkRefusedError(f"{field}: {name!r} lies outside the folder {str(folder)!r}; refusing to read it.")
    return path


class Claim:
    """An exclusive hold on a folder for one run (see `claim_folder`). Release it (or leave its `with` block) when the
    run is done; `undo()` removes what the run added since the claim."""

    def __init__(self, folder: Path, created: bool, before: frozenset[str], handle: int, undo_on_error: bool):
        self.folder, self.created, self.before = folder, created, before
        self._handle, self._undo_on_error, self._holders = handle, undo_on_error, 1

    def undo(self) -> None:
        """Remove the entries added since the claim (never those it found); the folder itself goes at release when
        the claim made it and nothing else is left."""
        if self.folder.is_dir():
            for entry in entries(self.folder):
                if entry.name not in self.before:
                    remove(entry)

    def release(self) -> None:
        """Drop the hold (a nested claim's release only counts down); the lock file goes with the last one."""
        self._holders -= 1
        if self._holders > 0 or self._handle < 0:
            return
        _HELD.pop(self.folder, None)
        lock = self.folder / LOCK_NAME
        with contextlib.suppress(OSError):
            if os.lstat(lock).st_ino == os.fstat(self._handle).st_ino:
                lock.unlink()
        os.close(self._handle)
        self._handle = -1
        if self.created:
            with contextlib.suppress(OSError):  # only when the run left it empty
                self.folder.rmdir()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if error is not None and self._holders == 1 and self._undo_on_error:
            self.undo()
        self.release()

    def __del__(self) -> None:  # a run object dropped without releasing: the hold goes with it
        if getattr(self, "_handle", -1) >= 0:
            self._holders = 1
            with contextlib.suppress(Exception):
                self.release()


def claim_folder(
    folder: str | Path, option: str, command: str | None = None, *, empty: bool = False, undo_on_error: bool = False
) -> Claim:
    """Claim `folder` (made if missing) for this run: an exclusive lock and a marker naming the run.

    Raises `FolderInUseError` when another run holds it (naming that run), `NotADirectoryError` when it (or a folder
    above it) is a file, and with `empty=True` `FileExistsError` when it holds anything. A folder this process already
    holds is shared (nested claims). Used as a context manager, an exception leaving the block runs `undo()` when
    `undo_on_error`. Messages start with `option`, the field or option the folder was given as.
    """
    if str(folder) == "":  # Path("") is the current folder: an empty value (an unset variable) chose nothing
        raise ValueError(f"{option} must name a folder, got ''.")
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{option}: {str(folder)!r} is a file, not a folder.")
    if path.is_symlink() and not path.exists():
        raise NotADirectoryError(f"{option}: {str(folder)!r} is a link to nothing; remove it or choose another.")
    above = next((parent for parent in path.parents if parent.exists()), None)
    if above is not None and not above.is_dir():  # mkdir would say only "File exists" of a folder it cannot make
        raise NotADirectoryError(f"{option}: {str(folder)!r} lies inside {str(above)!r}, a file, not a folder.")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir()
        created = True
    except FileExistsError:
        created = False
    key = path.resolve()
    held = _HELD.get(key)
    if held is not None:
        held._holders += 1
        return held
    handle = _lock(path / LOCK_NAME, option, folder)
    if empty and entries(path):
        (path / LOCK_NAME).unlink()
        os.close(handle)
        raise FileExistsError(f"{option}: {str(folder)!r} is not an empty folder; choose another one.")
    before = frozenset() if created else frozenset(p.name for p in entries(path))
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command if command is not None else " ".join(sys.argv),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    os.ftruncate(handle, 0)
    os.pwrite(handle, json.dumps(owner).encode(), 0)
    claim = Claim(key, created, before, handle, undo_on_error)
    _HELD[key] = claim
    return claim


def _lock(lock: Path, option: str, folder: str | Path) -> int:
    """An open descriptor of `lock` holding its exclusive `flock`; refused when another run holds it."""
    for _ in range(3):  # a holder releasing unlinks the file: lock the one now at this path
        try:
            handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise LinkRefusedError(f"{option}: {lock} is a symbolic link; remove it.") from None
            raise
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(handle, 4096, 0).decode(errors="replace")
            os.close(handle)
            raise FolderInUseError(f"{option}: {str(folder)!r} is in use by another run ({_describe(owner)}); wait "
                                   "for it to finish or choose another folder.") from None  # fmt: skip
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(lock).st_ino == os.fstat(handle).st_ino:
                return handle
        os.close(handle)
    raise FolderInUseError(f"{option}: {str(folder)!r} is being claimed and released by other runs; try again.")


def _describe(owner: str) -> str:
    """The lock file's record of its run, in words."""
    try:
        run = json.loads(owner)
        return f"pid {run['pid']} on {run['host']} since {run['since']}: {run['command']}"
    except (ValueError, KeyError, TypeError):
        return "no record of which"
