"""Speed of TRAS, TRAST and TRASFUST; teachers beside the student in threads, Ray actors or inline.

    python -m tracking_by_trackers.experiments.benchmarks.bench_trackers [--frames 60] [--paper-frames 12] [--repeats 3]

On one synthetic 320×240 video, with untrained students (speed does not depend on the weights):

1. TRAS, batch 1, with both presets (``small``: the CPU preset; ``paper``: ResNet-18 on 128×128 crops).
2. Each teacher alone; then TRAST / TRASFUST with the teacher updates in threads, in Ray actors, and
   inline (one after the other, before the forward pass: no concurrency), set against the FPS of their
   slowest member (the student alone, i.e. TRAS with the same preset, or a teacher alone).
3. ``tbt evaluate``'s two backends on a few videos with student trackers: jobs in threads or Ray tasks.

FPS is tracked frames over the seconds spent in ``update`` (``init`` and frame reading left out), the best of
``--repeats`` runs, the variants of one comparison interleaved: other processes on a shared machine only ever
make a run slower, and interleaving spreads their load over every variant alike. Torch gets
``--torch-threads`` intra-op threads (default 1: more threads oversubscribe a small machine; the teachers need
the other core) and OpenCV one thread per tracker, as in evaluation. The load average is printed with the
figures.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time

import cv2
import torch

from tracking_by_trackers.cluster.ray_runtime import init_ray
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.evaluation.evaluate import evaluate_trackers, parse_evaluation_trackers
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers import student_tracker_factory
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.registry import make_tracker

RUNNERS = ("threads", "ray", "inline")
TEACHERS = ("kcf", "csrt", "mosse")


def fps_once(factory, sequence) -> float:
    """Frames after the first over the seconds a fresh tracker spent in ``update``."""
    tracker = factory()
    result = track_sequence(tracker, sequence)
    tracker.close()
    return (len(sequence) - 1) / result.times[1:].sum()


def best_fps(factories: dict, sequence, repeats: int) -> dict[str, float]:
    """Best FPS of each factory over ``repeats`` interleaved rounds."""
    best = dict.fromkeys(factories, 0.0)
    for _ in range(repeats):
        for key, factory in factories.items():
            best[key] = max(best[key], fps_once(factory, sequence))
    return best


def compare_runners(spec: str, network, sequence, member_fps: dict[str, float], repeats: int) -> None:
    """Print the FPS of ``spec`` with each teacher runner next to its slowest member."""
    factories = {
        runner: student_tracker_factory(spec, network, device="cpu", runner=runner)[1] for runner in RUNNERS
    }
    name = student_tracker_factory(spec, network)[0]
    slowest = min(member_fps, key=member_fps.get)
    for runner, fps in best_fps(factories, sequence, repeats).items():
        print(
            f"  {name:26s} {runner:8s} {fps:7.1f}   {slowest:7s} {member_fps[slowest]:7.1f} FPS   "
            f"{fps / member_fps[slowest]:5.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=60, help="frames of the video (small preset)")
    parser.add_argument(
        "--paper-frames", type=int, default=12, help="frames for the paper preset (slow on a CPU)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--eval-videos", type=int, default=4, help="videos for the evaluation backends")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.torch_threads)
    cv2.setNumThreads(1)
    torch.manual_seed(0)
    sequence = load_dataset(f"synthetic:videos=1,frames={args.frames},seed=0")[0]
    clips = {"small": sequence, "paper": sequence.slice(0, args.paper_frames)}
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}; torch {args.torch_threads} thread(s)")
    height, width = sequence.frames[0].shape[:2]
    print(f"video: synthetic {width}x{height}; best of {args.repeats} runs\n")

    print("TRAS, batch 1 (one forward pass per frame):")
    students = {name: StudentNetwork.from_preset(name).eval() for name in clips}
    tras_fps = {}
    for name, network in students.items():
        factory = student_tracker_factory("tras", network, device="cpu")[1]
        tras_fps[name] = best_fps({name: factory}, clips[name], args.repeats)[name]
        crop = network.config.crop_size
        print(
            f"  {name:5s} ({network.config.backbone}, {crop}x{crop} crops): {tras_fps[name]:7.1f} FPS "
            f"({1e3 / tras_fps[name]:5.1f} ms/frame, {len(clips[name])} frames)"
        )

    teacher_fps = best_fps({t: functools.partial(make_tracker, t) for t in TEACHERS}, sequence, args.repeats)
    print("\nteachers alone:")
    for name, fps in teacher_fps.items():
        print(f"  {name:5s}: {fps:7.1f} FPS")

    init_ray(num_cpus=os.cpu_count())
    print("\nwith teachers; slowest member = the slowest of TRAS (same preset) and each teacher alone:")
    print(f"  {'tracker':26s} {'runner':8s} {'FPS':>7s}   slowest member        ratio")
    for preset, specs in (
        ("small", ["trast:kcf", "trast:csrt", "trasfust:kcf+csrt+mosse"]),
        ("paper", ["trast:csrt"]),
    ):
        print(f"  -- {preset} student, {len(clips[preset])} frames")
        for spec in specs:
            members = {
                "student": tras_fps[preset],
                **{t: teacher_fps[t] for t in spec.partition(":")[2].split("+")},
            }
            compare_runners(spec, students[preset], clips[preset], members, args.repeats)

    print(
        f"\ntbt evaluate backends: {args.eval_videos} videos x {args.frames} frames, tras + trast:kcf "
        "+ trasfust:kcf+mosse (small), 2 jobs at a time:"
    )
    videos = load_dataset(f"synthetic:videos={args.eval_videos},frames={args.frames},seed=1")
    factories, _ = parse_evaluation_trackers("tras,trast:kcf,trasfust:kcf+mosse", student=students["small"])
    frames = len(factories) * sum(len(video) for video in videos)
    # Ray twice: its first run pays for starting workers and importing torch in them, the second does not.
    for backend, label in (
        ("threads", "threads"),
        ("ray", "ray (cold workers)"),
        ("ray", "ray (warm workers)"),
    ):
        with tempfile.TemporaryDirectory() as root:
            started = time.perf_counter()
            evaluate_trackers(videos, factories, root, workers=2, show_progress=False, backend=backend)
            elapsed = time.perf_counter() - started
        print(f"  {label:18s}: {elapsed:6.1f} s ({frames / elapsed:6.1f} frames/s)")


if __name__ == "__main__":
    main()
