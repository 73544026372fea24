"""Atomic file writes: a reader (or a resumed run) never sees a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place.

    The rename is atomic on POSIX file systems, so a process killed mid-write leaves either the old file
    or none, plus at worst a stray ``.tmp`` file that later writes ignore.
    """
    return _write_atomically(path, "w", text)


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """:func:`write_text_atomically` for binary content (numpy arrays saved to bytes, images)."""
    return _write_atomically(path, "wb", data)


def _write_atomically(path: str | os.PathLike, mode: str, content: str | bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        mode, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as tmp:
        tmp.write(content)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, path)
    return path
