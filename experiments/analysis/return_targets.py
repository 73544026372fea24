"""Which autonomous steps get a true n-step return, with RLlib's real env runner and learner connector.

    python -m tracking_by_trackers.experiments.analysis.return_targets [--fragments 100] [--envs 16] [--t-max 5]

RLlib's env runner fills a fragment of ``t_max × envs`` steps and does not count a reset as a step, so in
a fragment where some sub-envs reset the others take t_max + 1 steps or more. The learner connector then
cuts each chunk, plus its bootstrap state, into rows of ``max_seq_len`` states. A step whose next state
falls into the next row has no return in its row. This script samples fragments with a
``SingleAgentEnvRunner`` of the default shape (16 sub-envs, t_max 5) over synthetic videos like the default
run's, runs the learner connector with each ``max_seq_len``, and counts over the autonomous steps:

* ``zero targets``: the steps the learner trained toward a return of 0 before
  ``tracking_by_trackers.policies.kdrl.kdrl_losses.n_step_returns`` reported which steps have a return (it trained every step under
  ``loss_mask`` and took each row's last position as that row's bootstrap state);
* ``left out``: the steps the learner now leaves out of the actor-critic loss because they have no return;
* ``positions/step``: batch positions (rows × max_seq_len, what the network runs on) per trained step.

Two settings of the default run:

* ``curriculum start``: the default curriculum from 4-frame clips, with an untrained student (the first
  minutes of a run, each sub-env's clip length growing on its own results);
* ``32-frame clips``: every sub-env on full-length clips but out of phase, as once the curricula of the
  16 sub-envs have grown at different times (the first clip of each sub-env gets a random length).
"""

from __future__ import annotations

import argparse
import copy

import numpy as np


class _OutOfPhase:
    """A clip source whose first clip for each sub-env (each generator) has a random length, then full ones."""

    def __init__(self, source):
        self.source = source
        self._seen: set[int] = set()

    def sample(self, rng: np.random.Generator, length: int):
        if id(rng) not in self._seen:
            self._seen.add(id(rng))
            length = int(rng.integers(2, length + 1))
        return self.source.sample(rng, length)


def _config(clip_source, envs: int, t_max: int, curriculum: bool, seed: int):
    from tracking_by_trackers.policies.kdrl.kdrl import KDRLConfig
    from tracking_by_trackers.policies.kdrl.student_env import ENV_NAME

    return (
        KDRLConfig()
        .environment(ENV_NAME, env_config={"clip_source": clip_source, "crop_size": 64, "clip_length": 32})
        .env_runners(num_env_runners=0, num_envs_per_env_runner=envs)
        .training(t_max=t_max, curriculum=curriculum)
        .debugging(seed=seed)
    )


def _count(batch, module_id: str) -> dict[str, int]:
    import torch
    from ray.rllib.core.columns import Columns

    from tracking_by_trackers.envs.sample_keys import ROLE, ROLE_AUTONOMOUS
    from tracking_by_trackers.policies.kdrl.kdrl_losses import n_step_returns

    data = batch[module_id]
    loss_mask = data[Columns.LOSS_MASK].bool()
    seq_lens = data[Columns.SEQ_LENS]
    rewards = data[Columns.REWARDS].float()
    _, has_return = n_step_returns(
        rewards, torch.zeros_like(rewards), data[Columns.TERMINATEDS], loss_mask, seq_lens
    )
    autonomous = loss_mask & (data[ROLE] == ROLE_AUTONOMOUS)
    positions = torch.arange(loss_mask.shape[1]).unsqueeze(0)
    # The rule before the fix: position seq_lens - 1 was always the bootstrap state, so a real step there
    # (the end of a row cut from a longer chunk) got R = 0.
    old_has_return = positions < seq_lens.unsqueeze(1) - 1
    return {
        "steps": int(autonomous.sum()),
        "zero_targets": int((autonomous & ~old_has_return).sum()),
        "left_out": int((autonomous & ~has_return).sum()),
        "trained": int((autonomous & has_return).sum()),
        "trained_all_roles": int((loss_mask & has_return).sum()),
        "positions": int(loss_mask.numel()),
    }


def measure(name: str, clip_source, args, curriculum: bool) -> None:
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    config = _config(clip_source, args.envs, args.t_max, curriculum, args.seed)
    runner = SingleAgentEnvRunner(config=config, worker_index=0)
    try:
        fragments = [runner.sample(explore=True) for _ in range(args.fragments)]
        spaces = {DEFAULT_MODULE_ID: (runner.env.single_observation_space, runner.env.single_action_space)}
    finally:
        runner.stop()
    lengths = np.array([len(episode) for fragment in fragments for episode in fragment])
    print(
        f"\n{name}: {args.fragments} fragments, {len(lengths)} chunks; chunks of t_max + 1 steps "
        f"{np.mean(lengths == args.t_max + 1):.1%}, longer {np.mean(lengths > args.t_max + 1):.2%}"
    )
    print(
        f"{'max_seq_len':>11s} {'auto steps':>10s} {'zero targets':>13s} {'left out':>9s} {'positions/step':>15s}"
    )
    for max_seq_len in (args.t_max + 1, args.t_max + 2):
        sized = config.copy(copy_frozen=False).rl_module(
            model_config={"preset": "small", "max_seq_len": max_seq_len}
        )
        module = sized.get_multi_rl_module_spec(spaces=spaces).build()
        connector = sized.build_learner_connector(None, None)
        totals: dict[str, int] = {}
        for fragment in fragments:
            batch = connector(
                rl_module=module, batch={}, episodes=copy.deepcopy(fragment), shared_data={}, metrics=None
            )
            for key, value in _count(batch, DEFAULT_MODULE_ID).items():
                totals[key] = totals.get(key, 0) + value
        steps = totals["steps"]
        print(
            f"{max_seq_len:11d} {steps:10d} {totals['zero_targets'] / steps:13.2%} "
            f"{totals['left_out'] / steps:9.2%} {totals['positions'] / totals['trained_all_roles']:15.2f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    import cv2
    import torch

    from tracking_by_trackers.envs.clip_sources import synthetic_clip_source

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fragments", type=int, default=100, help="fragments sampled per setting")
    parser.add_argument("--envs", type=int, default=16, help="sub-envs of the runner (tbt train: 16)")
    parser.add_argument("--t-max", type=int, default=5)
    parser.add_argument(
        "--videos", type=int, default=24, help="synthetic videos of 50 frames, difficulty 0.5"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    source = synthetic_clip_source(num_videos=args.videos, num_frames=50, difficulty=0.5, seed=1)
    measure("curriculum start", source, args, curriculum=True)
    measure("32-frame clips, sub-envs out of phase", _OutOfPhase(source), args, curriculum=False)


if __name__ == "__main__":
    main()
