"""Session-wide fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_root() -> Path:
    """The real benchmark sequences: ``$TBT_DATA_ROOT``, else ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("TBT_DATA_ROOT", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = _shared_data_root()
    if not (root / "README.md").is_file():
        pytest.skip(f"real sequences not found at {root} (set TBT_DATA_ROOT)")
    return root
