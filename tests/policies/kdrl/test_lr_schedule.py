"""KD-RL's learning-rate schedule: the cosine over the first budget to run out, as the learner's optimiser
holds it after each iteration, the budget's end as ``done``, and a restored algorithm on the same curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tracking_by_trackers.envs.clip_sources import SequenceClipSource, synthetic_clip_source
from tracking_by_trackers.policies.kdrl.kdrl import KDRL, KDRLConfig
from tracking_by_trackers.policies.kdrl.lr_schedule import (
    BUDGET_PROGRESS,
    TRAINED_SECONDS,
    CosineBudgetSchedule,
)
from tracking_by_trackers.policies.kdrl.student_env import ENV_NAME


def cosine(lr: float, final: float, progress: float) -> float:
    """The hand-computed curve: from ``lr`` at 0 to ``lr · final`` at 1."""
    return lr * final + (lr - lr * final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def test_progress_is_the_larger_share_of_the_budget_spent_and_the_rate_follows_the_cosine():
    schedule = CosineBudgetSchedule(lr=1e-3, final_fraction=0.05, iterations=100, seconds=600.0)
    assert schedule.lr_at(schedule.progress(0, 0.0)) == pytest.approx(1e-3)
    # Half the iterations and a fifth of the time, or a tenth of the iterations and half the time: halfway
    # down, 0.05e-3 + 0.95e-3 * 0.5.
    assert schedule.progress(50, 120.0) == schedule.progress(10, 300.0) == pytest.approx(0.5)
    assert schedule.lr_at(0.5) == pytest.approx(0.525e-3)
    assert schedule.lr_at(schedule.progress(100, 600.0)) == pytest.approx(0.05e-3)
    assert schedule.progress(500, 9000.0) == 1.0  # past the budget: the floor
    assert CosineBudgetSchedule(lr=1e-3, iterations=10).progress(5, 1e9) == 0.5  # no time budget
    assert not CosineBudgetSchedule(lr=1e-3, final_fraction=1.0, iterations=10).anneals
    assert not CosineBudgetSchedule(lr=1e-3, final_fraction=0.1).has_budget


def test_bad_schedules_are_refused_with_the_setting_named():
    with pytest.raises(ValueError, match=r"final_lr_fraction must be in \(0, 1\], got 0.0"):
        CosineBudgetSchedule(lr=1e-3, final_fraction=0.0)
    with pytest.raises(ValueError, match="budget_iterations must be >= 1"):
        KDRLConfig().training(budget_iterations=0).validate()
    with pytest.raises(ValueError, match="give lr as a number, not as an RLlib schedule"):
        KDRLConfig().training(
            lr=[[0, 1e-3], [100, 1e-4]], budget_iterations=5, final_lr_fraction=0.5
        ).validate()


def _tiny_config(**training) -> KDRLConfig:
    base = synthetic_clip_source(num_videos=2, num_frames=30, difficulty=0.3)
    teachers = [{"gt": s.gt_boxes} for s in base.sequences]
    clips = SequenceClipSource(base.sequences, teacher_boxes=teachers)
    return (
        KDRLConfig()
        .environment(ENV_NAME, env_config={"clip_source": clips, "crop_size": 64, "clip_length": 16})
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
        .training(train_batch_size_per_learner=20, **training)
        .reporting(min_train_timesteps_per_iteration=20)
        .debugging(seed=0)
    )


def _optimiser_lr(algo) -> float:
    """The rate the learner's RAdam really holds."""
    (call,) = algo.learner_group.foreach_learner(
        lambda learner: learner.get_optimizer().param_groups[0]["lr"]
    )
    return call.get()


@pytest.mark.slow
def test_the_learner_anneals_on_the_budget_and_a_restored_algorithm_carries_on(ray_session, tmp_path):
    lr, final, budget = 1e-3, 0.1, 4
    # A time budget no test reaches: the iterations run out first.
    config = _tiny_config(lr=lr, final_lr_fraction=final, budget_iterations=budget, budget_minutes=1e4)
    algo = config.build_algo()
    try:
        assert _optimiser_lr(algo) == pytest.approx(lr)
        results = []
        for iteration in (1, 2):
            results.append(algo.train())
            assert _optimiser_lr(algo) == pytest.approx(cosine(lr, final, iteration / budget), rel=1e-6)
        checkpoint = algo.save_to_path(tmp_path / "checkpoint")
        trained = algo.trained_seconds
    finally:
        algo.stop()
    assert [r[BUDGET_PROGRESS] for r in results] == [0.25, 0.5]
    assert [r["done"] for r in results] == [False, False]
    assert 0 < results[0][TRAINED_SECONDS] < results[1][TRAINED_SECONDS] == trained

    restored = KDRL.from_checkpoint(checkpoint)
    try:
        # Back on the curve before training on, with the training time it had spent.
        assert restored.iteration == 2 and restored.trained_seconds == trained
        assert _optimiser_lr(restored) == pytest.approx(cosine(lr, final, 0.5), rel=1e-6)
        third, fourth = restored.train(), restored.train()
        assert _optimiser_lr(restored) == pytest.approx(lr * final, rel=1e-6)
    finally:
        restored.stop()
    assert (third["done"], fourth["done"]) == (False, True)
    assert third[TRAINED_SECONDS] > trained


@pytest.mark.slow
def test_without_a_budget_the_rate_stays_and_training_is_never_done(ray_session):
    algo = _tiny_config(lr=2e-3).build_algo()
    try:
        result = algo.train()
        assert _optimiser_lr(algo) == pytest.approx(2e-3)
    finally:
        algo.stop()
    assert result[BUDGET_PROGRESS] == 0.0 and not result["done"]
    assert np.isfinite(result[TRAINED_SECONDS])


def _learner_state(algo) -> dict:
    """Per optimizer, its rate; and a backbone and a head weight of the learner's module."""

    def read(learner):
        net = learner.module["default_policy"].unwrapped().net
        rates = {name: opt.param_groups[0]["lr"] for name, opt in learner._named_optimizers.items()}
        return rates, net.backbone.layers[0].weight.detach().clone(), net.actor.weight.detach().clone()

    (call,) = algo.learner_group.foreach_learner(read)
    return call.get()


@pytest.mark.slow
@pytest.mark.parametrize("scale", [0.0, 0.1])
def test_a_scaled_backbone_learns_at_its_share_of_the_annealed_rate_and_a_frozen_one_not_at_all(
    ray_session, scale
):
    lr, final, budget = 1e-3, 0.1, 4
    algo = _tiny_config(
        lr=lr, final_lr_fraction=final, budget_iterations=budget, budget_minutes=1e4, backbone_lr_scale=scale
    ).build_algo()
    try:
        rates, backbone_before, head_before = _learner_state(algo)
        algo.train()
        rates_after, backbone_after, head_after = _learner_state(algo)
    finally:
        algo.stop()
    expected = {"default_policy_default_optimizer": lr}
    if scale:
        expected["default_policy_backbone"] = lr * scale
    assert rates == pytest.approx(expected)
    annealed = cosine(lr, final, 1 / budget)
    assert rates_after == pytest.approx({name: rate * annealed / lr for name, rate in expected.items()})
    assert not torch.equal(head_before, head_after)
    assert torch.equal(backbone_before, backbone_after) == (scale == 0.0)


def test_the_backbone_scale_is_range_checked():
    with pytest.raises(ValueError, match=r"backbone_lr_scale must be in \[0, 1\], got 2"):
        KDRLConfig().training(backbone_lr_scale=2).validate()
