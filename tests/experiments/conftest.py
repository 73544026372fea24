"""Fixtures of the experiments tests: a student exported to a file (as `tbt export` writes one), one torch thread."""

from __future__ import annotations

import pytest
import torch

from tracking_by_trackers.policies.student_export import save_student
from tracking_by_trackers.policies.student_model import StudentNetwork


@pytest.fixture
def exported_student(tmp_path):
    """An untrained small-preset student saved in the export format (seeded, so runs repeat)."""
    torch.manual_seed(0)
    return save_student(StudentNetwork.from_preset("small"), tmp_path / "student.pt")


@pytest.fixture
def one_torch_thread():
    # Two cores: tracking jobs in threads beside teacher threads would oversubscribe torch's own pool.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
