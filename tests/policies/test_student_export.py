"""Exported student files: the separate critic round-trips, and files from before it load as shared."""

from __future__ import annotations

from dataclasses import asdict

import torch

from policies.student_export import EXPORT_FORMAT, load_student
from policies.student_model import StudentNetwork

torch.set_num_threads(1)


def _save(net: StudentNetwork, path, config: dict) -> None:
    # The layout export_student writes (it needs a training checkpoint to read the network from).
    payload = {"format": EXPORT_FORMAT, "version": 1, "config": config, "state_dict": net.state_dict()}
    torch.save(payload, path)


def test_a_separate_critic_student_loads_with_its_own_trunk(tmp_path) -> None:
    torch.manual_seed(0)
    net = StudentNetwork(separate_critic=True)
    _save(net, tmp_path / "student.pt", asdict(net.config))
    loaded = load_student(tmp_path / "student.pt")
    assert loaded.config.separate_critic and loaded.state_width == 2 * loaded.lstm_width
    assert all(torch.equal(t, net.state_dict()[k]) for k, t in loaded.state_dict().items())


def test_a_file_written_before_separate_critic_existed_loads_as_the_papers_shared_critic(tmp_path) -> None:
    torch.manual_seed(0)
    net = StudentNetwork()
    old_config = {k: v for k, v in asdict(net.config).items() if k != "separate_critic"}
    _save(net, tmp_path / "old.pt", old_config)
    loaded = load_student(tmp_path / "old.pt")
    assert not loaded.config.separate_critic and not hasattr(loaded, "critic_lstm")
    assert all(torch.equal(t, net.state_dict()[k]) for k, t in loaded.state_dict().items())
