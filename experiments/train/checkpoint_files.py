"""Training checkpoints written atomically, with a manifest that tells a complete one from a damaged one.

A checkpoint folder (``checkpoints/iter_000040/``) is filled under a hidden temporary name beside it
(``checkpoints/.iter_000040.tmp``), every file and folder of it is fsynced, :data:`MANIFEST` (each file's
size and SHA-256) is written last, and only then is the folder renamed into place (and the parent folder
fsynced). So a driver killed while writing leaves the earlier checkpoints as they were plus a temporary
folder that the next run removes, never a half-written ``iter_*`` folder.

A checkpoint that is damaged all the same (a file system that lost a write, a copy of the run folder cut
short) no longer matches its manifest; :func:`checkpoint_problem` says how, and ``tbt train --resume`` then
goes on from the newest checkpoint that does match (``tracking_by_trackers.experiments.train.student_training``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "MANIFEST",
    "PAUSE_ENV",
    "checkpoint_problem",
    "remove_unfinished_checkpoints",
    "write_checkpoint_atomically",
]

MANIFEST = "manifest.json"
"""In every checkpoint folder: ``{"files": {relative path: {"bytes": n, "sha256": hex}}}``, written last."""
PAUSE_ENV = "TBT_TEST_PAUSE_IN_CHECKPOINT_WRITE"
"""Test hook, ``FOLDER_NAME:SECONDS`` (``iter_000004:60``): sleep that long once that checkpoint's files are
written, before its manifest and rename, so that a test can kill the driver in the middle of a checkpoint
write (tests/experiments/train/test_training_faults.py)."""
_TMP_SUFFIX = ".tmp"


def _temporary_folder(path: Path) -> Path:
    return path.parent / f".{path.name}{_TMP_SUFFIX}"


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checkpoint_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Have ``write(folder)`` fill a temporary folder, then seal it (see the module docstring) as ``path``.

    An existing ``path`` (a damaged checkpoint of the same iteration, left by an earlier run) is replaced.
    """
    path = Path(path)
    tmp = _temporary_folder(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    write(tmp)
    name, _, pause = os.environ.get(PAUSE_ENV, "").partition(":")
    if name == path.name:
        time.sleep(float(pause))
    files = {}
    for file in sorted(p for p in tmp.rglob("*") if p.is_file()):
        _fsync(file)
        files[file.relative_to(tmp).as_posix()] = {"bytes": file.stat().st_size, "sha256": _sha256(file)}
    manifest = tmp / MANIFEST
    with manifest.open("w") as handle:
        json.dump({"files": files}, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    for folder in sorted((p for p in tmp.rglob("*") if p.is_dir()), reverse=True):
        _fsync(folder)
    _fsync(tmp)
    if path.exists():
        shutil.rmtree(path)
    os.rename(tmp, path)
    _fsync(path.parent)
    return path


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with the checkpoint folder ``path`` (missing, no manifest, a file missing, of another
    size or other content), in a few words; None when it matches its manifest."""
    path = Path(path)
    if not path.is_dir():
        return "the folder does not exist"
    manifest = path / MANIFEST
    if not manifest.is_file():
        return f"it has no {MANIFEST} (its write did not finish)"
    try:
        files = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError, TypeError) as error:
        return f"its {MANIFEST} is unreadable ({error})"
    for name, expected in files.items():
        file = path / name
        if not file.is_file():
            return f"{name} is missing"
        size = file.stat().st_size
        if size != expected["bytes"]:
            return f"{name} has {size} bytes, its manifest says {expected['bytes']} (truncated)"
        if _sha256(file) != expected["sha256"]:
            return f"{name} does not match its manifest's SHA-256 (corrupted)"
    return None


def remove_unfinished_checkpoints(folder: Path) -> list[Path]:
    """Remove the temporary folders of checkpoint writes that a killed run left in ``folder``; returns
    them."""
    leftovers = sorted(Path(folder).glob(f".*{_TMP_SUFFIX}")) if Path(folder).is_dir() else []
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)
    return leftovers
