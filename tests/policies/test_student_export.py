"""Exported student files: the separate critic round-trips, and files from before it load as shared."""

from __future__ import annotations

import torch

from tracking_by_trackers.policies.student_export import load_student, save_student
from tracking_by_trackers.policies.student_model import StudentNetwork

torch.set_num_threads(1)


def test_a_separate_critic_student_loads_with_its_own_trunk(tmp_path) -> None:
    torch.manual_seed(0)
    net = StudentNetwork(separate_critic=True)
    loaded = load_student(save_student(net, tmp_path / "student.pt"))
    assert loaded.config.separate_critic and loaded.state_width == 2 * loaded.lstm_width
    assert all(torch.equal(t, net.state_dict()[k]) for k, t in loaded.state_dict().items())


def test_a_file_written_before_separate_critic_existed_loads_as_the_papers_shared_critic(tmp_path) -> None:
    torch.manual_seed(0)
    net = StudentNetwork()
    path = save_student(net, tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    del payload["config"]["separate_critic"]  # as the files written before the setting existed
    torch.save(payload, path)
    loaded = load_student(path)
    assert not loaded.config.separate_critic and not hasattr(loaded, "critic_lstm")
    assert all(torch.equal(t, net.state_dict()[k]) for k, t in loaded.state_dict().items())
