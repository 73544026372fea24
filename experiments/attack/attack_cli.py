"""``tbt attack``'s arguments and command (docs/attack.md, *Running it*)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tracking_by_trackers.experiments.attack.attack_run import (
    DEFAULT_DELTAS,
    DEFAULT_FRAMES,
    DEFAULT_STEPS,
    DEFAULT_TRACKERS,
    AttackSettings,
    parse_deltas,
    parse_shard,
    parse_steps,
    run_attack,
)
from tracking_by_trackers.experiments.attack.background_patch import DEFAULT_MARGIN, DEFAULT_PADDING

__all__ = ["add_attack_arguments", "attack_settings", "run_attack_command"]


def add_attack_arguments(parser: argparse.ArgumentParser) -> None:
    """``tbt attack``'s arguments on ``parser``."""
    parser.add_argument(
        "--student", required=True, help="the exported student (.pt) or a training checkpoint"
    )
    parser.add_argument(
        "--dataset",
        required=True,
        help="a dataset spec, as for `tbt evaluate` (e.g. split:configs/splits/real.yaml:test)",
    )
    parser.add_argument(
        "--trackers",
        default=DEFAULT_TRACKERS,
        help="comma-separated trackers scored on the patched frames: tras, trast:<teacher>, "
        "trasfust:<t1>+<t2>, or any teacher name (default %(default)s); the patch is always optimised "
        "against TRAS",
    )
    parser.add_argument(
        "--steps",
        default=",".join(map(str, DEFAULT_STEPS)),
        help="attack step counts to score, 0 being the clean video (default %(default)s)",
    )
    parser.add_argument(
        "--deltas",
        default=",".join(f"{delta:g}" for delta in DEFAULT_DELTAS),
        help="step sizes delta, in pixel value on [0, 1] (default %(default)s)",
    )
    parser.add_argument("--out", required=True, help="output folder (re-running it resumes)")
    parser.add_argument("--max-sequences", type=int, help="attack only the first N sequences of the dataset")
    parser.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES,
        help="frames attacked and scored per sequence, from the first (default %(default)s; 0: all)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help="unpatched border, as a fraction of the frame's width and height (default %(default)s)",
    )
    parser.add_argument(
        "--padding",
        type=float,
        default=DEFAULT_PADDING,
        help="pixels around the ground-truth box the patch never covers (default %(default)s)",
    )
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], help="where the student runs (default: CUDA if any)"
    )
    parser.add_argument("--model-dir", help="folder of the OpenCV DNN teachers' model files (NanoTrack)")
    parser.add_argument(
        "--shard",
        help="K/N: attack only every N-th sequence from the K-th (0-based), so that N processes or machines "
        "sharing --out split the work; a run without --shard afterwards writes the report over all of them",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads for the attack's forward and backward passes (default 1: run one shard per core "
        "instead, which outpaces one process on every core)",
    )


def attack_settings(args: argparse.Namespace) -> AttackSettings:
    """The settings ``tbt attack``'s arguments ask for, checked."""
    if args.max_sequences is not None and args.max_sequences < 1:
        raise ValueError(f"--max-sequences must be at least 1, got {args.max_sequences}")
    if args.frames < 0 or args.frames == 1:
        raise ValueError(f"--frames must be 0 (all) or at least 2, got {args.frames}")
    if args.torch_threads < 1:
        raise ValueError(f"--torch-threads must be at least 1, got {args.torch_threads}")
    return AttackSettings(
        student=args.student,
        dataset=args.dataset,
        trackers=tuple(item.strip() for item in args.trackers.split(",") if item.strip()),
        steps=parse_steps(args.steps),
        deltas=parse_deltas(args.deltas),
        frames=args.frames,
        margin=args.margin,
        padding=args.padding,
        max_sequences=args.max_sequences,
        shard=parse_shard(args.shard),
        device=args.device,
        model_dir=args.model_dir,
    )


def run_attack_command(args: argparse.Namespace) -> None:
    """Run ``tbt attack`` and print where its table went."""
    import cv2
    import torch

    from tracking_by_trackers.envs.datasets import load_dataset

    settings = attack_settings(args)
    # One OpenCV thread for the teachers and few torch threads: on a small machine more threads than cores
    # cost far more than they give, and shards in parallel use the cores better than threads.
    cv2.setNumThreads(1)
    torch.set_num_threads(args.torch_threads)
    print(f"loading dataset {settings.dataset} ...")
    sequences = load_dataset(settings.dataset)
    started = time.perf_counter()
    run_attack(settings, sequences, args.out)
    print(f"done in {time.perf_counter() - started:.1f} s")
    table = Path(args.out) / "attack_table.md"
    if table.is_file():
        print(table.read_text())
    print(
        f"written to {args.out}: attack_table.csv, attack_table.md, attack_plot.png, attack_per_sequence.csv"
    )
