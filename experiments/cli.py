"""The ``tbt`` command line.

    tbt evaluate [--dataset synthetic|<reader>:<path>] [--trackers identity,kcf,csrt,mosse,medianflow]
                 [--student PATH] [--out DIR] [--backend threads|ray]
    tbt report DIR
    tbt track VIDEO --init x,y,w,h --student PATH [--mode tras|trast|trasfust] [--teachers kcf,csrt] [--out DIR]
    tbt teachers run [--dataset …] [--teachers kcf,csrt,mosse,medianflow] [--out DIR] [--actors N] [--address auto]
    tbt transfer-set stats DIR
    tbt train [--config FILE] [--out DIR] [--resume] [--preset small|paper|…] [--dataset …] [--iterations N] …
    tbt export CHECKPOINT [--out student.pt]
    tbt submit [--address URL] [--entrypoint-num-gpus N] [--entrypoint-resources JSON] -- train …
    tbt tune [--num-samples N] [--max-iterations N] [--lr …] [--beta …] [--teacher-pools …] [--scheduler asha|pbt]
             [--seeds N] [--storage-path URI] [--out DIR] [--resume]
    tbt attack --student PATH --dataset SPEC [--trackers tras,trast:csrt,trasfust:kcf+csrt]
               [--steps 0,10,20,50,100] [--deltas 0.1,0.2] --out DIR [--max-sequences N]

``evaluate`` tracks every sequence with every tracker (resuming a stopped run), then writes the report;
the student's trackers (``tras``, ``trast:csrt``, ``trasfust:kcf+csrt+mosse``) need ``--student``.
``report`` rebuilds the report of an earlier evaluation from its stored results alone. ``track`` runs
TRAS, TRAST or TRASFUST on a video file or an image folder and writes the boxes, an annotated video and
the FPS. ``teachers run`` runs the teachers as Ray actors over a dataset and stores their trajectories
(resuming a stopped build); ``transfer-set stats`` prints the paper's Table 1 for a stored transfer set. ``train`` runs the whole pipeline
(``tracking_by_trackers.experiments.train.train_pipeline``); ``export`` writes the student of a training checkpoint to one file;
``submit`` hands a tbt command to a Ray cluster (``tracking_by_trackers.cluster.submit``); ``tune`` sweeps KD-RL's settings
with Ray Tune (ASHA or PBT, over seeds) on ``train``'s validation score (``tracking_by_trackers.experiments.tune.tune_sweep``).
``attack`` runs the adversarial background-patch attack on the student and tabulates mean IoU against attack
steps for TRAS, TRAST and TRASFUST on the same patched frames (``tracking_by_trackers.experiments.attack``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tracking_by_trackers.teachers.atomic_io import write_text_atomically

DEFAULT_TRACKERS = "identity,kcf,csrt,mosse,medianflow"
MANIFEST = "evaluation.json"

logger = logging.getLogger("tbt")


class _LazyChoices:
    """An argparse ``choices`` that imports its values (``module:name``) only when a command is parsed or
    its help printed: the values live beside the code that uses them, and ``tbt --help`` stays fast."""

    def __init__(self, where: str):
        self.where = where

    def _values(self) -> tuple[str, ...]:
        module, name = self.where.split(":")
        return tuple(getattr(importlib.import_module(module), name))

    def __contains__(self, value: object) -> bool:
        return value in self._values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())


class UsageError(Exception):
    """A command-line mistake: printed as one line, exit status 2."""


def cmd_evaluate(args: argparse.Namespace) -> None:
    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.experiments.evaluation.evaluate import (
        evaluate_trackers,
        parse_evaluation_trackers,
    )
    from tracking_by_trackers.experiments.evaluation.evaluation_report import report_evaluation

    factories, student_trackers = parse_evaluation_trackers(
        args.trackers,
        student=args.student,
        results_root=args.results_root,
        model_dir=args.model_dir,
        device=args.device,
    )
    given_specs = [item.strip() for item in args.trackers.split(",") if item.strip()]
    specs = dict(zip(factories, given_specs, strict=True))
    out = Path(args.out)
    manifest_path = out / MANIFEST
    manifest = {"dataset": args.dataset, "trackers": list(factories), "specs": specs}
    if student_trackers:
        manifest["student"] = str(Path(args.student).resolve())
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        if previous["dataset"] != args.dataset:
            raise UsageError(
                f"{out} holds an evaluation of dataset {previous['dataset']!r}, not {args.dataset!r}; "
                "choose another --out"
            )
        if student_trackers and previous.get("student", manifest["student"]) != manifest["student"]:
            raise UsageError(
                f"{out} holds results of the student {previous['student']}, not {manifest['student']}; "
                "choose another --out"
            )
        manifest["trackers"] = list(dict.fromkeys([*previous["trackers"], *factories]))
        manifest["specs"] = {**previous.get("specs", {}), **specs}
        if "student" in previous:
            manifest.setdefault("student", previous["student"])
    print(f"loading dataset {args.dataset} ...")
    started = time.perf_counter()
    sequences = load_dataset(args.dataset)
    frames = sum(len(s) for s in sequences)
    print(f"{len(sequences)} sequences, {frames} frames, ready in {time.perf_counter() - started:.1f} s")
    write_text_atomically(manifest_path, json.dumps(manifest, indent=2))
    if args.backend == "ray":
        from tracking_by_trackers.cluster.ray_runtime import init_ray

        init_ray(args.address, num_cpus=args.num_cpus)
    started = time.perf_counter()
    ran = evaluate_trackers(sequences, factories, out / "results", workers=args.workers, backend=args.backend)
    print(f"tracked {ran} (tracker, sequence) pairs in {time.perf_counter() - started:.1f} s")
    report_evaluation(out, manifest)


def cmd_report(args: argparse.Namespace) -> None:
    from tracking_by_trackers.experiments.evaluation.evaluation_report import report_evaluation

    out = Path(args.dir)
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        raise UsageError(f"{manifest_path} not found; is {out} the --out of a `tbt evaluate` run?")
    report_evaluation(out, json.loads(manifest_path.read_text()))


def _student_tracker_spec(mode: str, teachers: str | None) -> str:
    """``--mode`` and ``--teachers`` of ``tbt track`` as one student tracker spec, checked."""
    names = [name.strip() for name in (teachers or "").split(",") if name.strip()]
    if mode == "tras":
        if names:
            raise UsageError(
                f"--mode tras runs the student alone; drop --teachers {teachers} or use --mode trast"
            )
        return "tras"
    if mode == "trast" and len(names) != 1:
        raise UsageError(f"--mode trast needs exactly one teacher, e.g. --teachers csrt (got {teachers!r})")
    if mode == "trasfust" and not names:
        raise UsageError("--mode trasfust needs teachers to fuse, e.g. --teachers kcf,csrt,mosse")
    return f"{mode}:{'+'.join(names)}"


def cmd_track(args: argparse.Namespace) -> None:
    import cv2
    import torch

    from tracking_by_trackers.envs.sequence import read_frame
    from tracking_by_trackers.experiments.evaluation.track_video import open_frames, parse_box, track_video
    from tracking_by_trackers.policies.trackers.factory import student_tracker_factory
    from tracking_by_trackers.policies.trackers.student_tracker import INIT_CHOICE, STUDENT, check_initial_box

    if args.init is None:
        raise UsageError(
            "tbt track needs the target's box in the first frame: --init x,y,w,h "
            "(left, top, width, height in pixels)"
        )
    try:
        box = parse_box(args.init)
    except ValueError as error:
        raise UsageError(f"--init: {error}") from None
    if args.student is None:
        raise UsageError(
            "tbt track runs the student: give --student PATH (an exported student or a training checkpoint)"
        )
    spec = _student_tracker_spec(args.mode, args.teachers)
    frames, video_fps = open_frames(args.video)
    first = read_frame(frames, 0, f"video {args.video}")  # a bad frame is its own error, not --init's
    try:
        check_initial_box(box, first.shape[:2])
    except ValueError as error:
        raise UsageError(f"--init {args.init}: {error}") from None
    name, factory = student_tracker_factory(
        spec, args.student, results_root=args.results_root, model_dir=args.model_dir, device=args.device
    )
    # One OpenCV thread per teacher and few torch threads: teachers run in threads beside the forward
    # pass, and on a small machine more threads than cores cost far more than they give.
    cv2.setNumThreads(1)
    torch.set_num_threads(args.torch_threads)
    print(f"tracking {len(frames)} frames of {args.video} with {name} ...")
    result = track_video(factory(), frames, box, args.out, video_fps=video_fps, name=Path(args.video).stem)
    print(
        f"{len(frames)} frames at {result.tracker_fps:.1f} FPS (the tracker alone; {result.overall_fps:.1f} "
        "FPS with reading, drawing and writing)"
    )
    if args.mode != "tras":
        handed = sum(member not in (STUDENT, INIT_CHOICE) for member in result.members[1:])
        print(f"handed to the teachers on {handed} of {len(frames) - 1} frames")
    print(f"written to {args.out}: boxes.csv, annotated.mp4, summary.json")


def cmd_teachers_run(args: argparse.Namespace) -> None:
    from tracking_by_trackers.cluster.cluster_resources import check_gpu_request
    from tracking_by_trackers.cluster.ray_runtime import init_ray
    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.teachers.registry import parse_tracker_specs
    from tracking_by_trackers.teachers.teacher_pool import TeacherPool
    from tracking_by_trackers.teachers.transfer_store import TransferSetStore

    factories = parse_tracker_specs(args.teachers, results_root=args.results_root, model_dir=args.model_dir)
    store = TransferSetStore(args.out)
    print(f"loading dataset {args.dataset} ...")
    sequences = load_dataset(args.dataset)
    print(
        f"{len(sequences)} videos, {sum(len(s) for s in sequences)} frames; teachers: {', '.join(factories)}"
    )
    store.write_manifest(args.dataset, list(factories))
    init_ray(args.address, num_cpus=args.num_cpus)
    check_gpu_request({"teacher actors": (args.actors or 1) * args.gpus_per_actor})
    pool = TeacherPool(
        args.actors,
        num_cpus_per_actor=args.cpus_per_actor,
        num_gpus_per_actor=args.gpus_per_actor,
        resources_per_actor=args.resources_per_actor,
    )
    started = time.perf_counter()
    report = pool.build(sequences, factories, store)
    frames = report.ran * sum(len(s) for s in sequences) / max(len(sequences), 1)
    elapsed = time.perf_counter() - started
    print(
        f"ran {report.ran} (video, teacher) pairs on {len(pool.actors)} actors in {elapsed:.1f} s "
        f"(~{frames / max(elapsed, 1e-9):.0f} frames/s), skipped {report.skipped} already stored"
    )
    for sequence_name, teacher in report.failed:
        print(f"  recorded as failed: teacher {teacher} on {sequence_name} (it crashed its actor twice)")
    for sequence_name, teacher, message in report.bad_input:
        print(f"  not stored (bad input, fix it and re-run): teacher {teacher} on {sequence_name}: {message}")
    pool.shutdown()
    _print_transfer_set_stats(store.root)


def _print_transfer_set_stats(
    root: Path, clip_length: int | None = None, clips: int | None = None, beta_scope: str = "trajectory"
) -> None:
    from tracking_by_trackers.teachers.transfer_set import table1
    from tracking_by_trackers.teachers.transfer_store import TransferSetStore

    rows = TransferSetStore(root).read_all()
    options = {
        k: v for k, v in {"clip_length": clip_length, "clips_per_trajectory": clips}.items() if v is not None
    }
    print(f"\ntransfer set {root}: {rows[['dataset', 'sequence']].drop_duplicates().shape[0]} videos\n")
    print(table1(rows, **options, beta_scope=beta_scope).to_string(float_format=lambda value: f"{value:.3f}"))


def cmd_transfer_set_stats(args: argparse.Namespace) -> None:
    from tracking_by_trackers.teachers.transfer_store import TransferSetStore

    TransferSetStore(args.dir).read_manifest()  # a clear error when the folder is no transfer set
    _print_transfer_set_stats(Path(args.dir), args.clip_length, args.clips, args.beta_scope)


def train_command_from_args(args: argparse.Namespace):
    """The :class:`~tracking_by_trackers.experiments.train.train_cli.TrainCommand` (settings, ``--out``, ``--resume``) that ``tbt
    train``'s arguments ask for (defaults < ``--config`` file < flags), unchecked."""
    from tracking_by_trackers.experiments.train.train_cli import parse_train_command

    return parse_train_command(args.train_args)


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from tracking_by_trackers.experiments.train.student_training import TrainingStopped
    from tracking_by_trackers.experiments.train.train_pipeline import run_training_pipeline

    command = train_command_from_args(args)
    # The driver hosts the local learner: one torch thread, like every Ray worker (oversubscription on a
    # small machine costs far more than the second thread gains).
    torch.set_num_threads(1)
    try:
        run_training_pipeline(command.settings, command.out, resume=command.resume)
    except TrainingStopped as error:  # a dead learner actor: one line that says how to resume
        print(error_line(error), file=sys.stderr)
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> None:
    from tracking_by_trackers.policies.student_export import export_student, load_student

    out = export_student(args.checkpoint, args.out)
    student = load_student(out)
    size = sum(p.numel() for p in student.parameters())
    print(
        f"exported the student of {args.checkpoint} to {out} ({student.config}, {size / 1e6:.2f} M parameters)"
    )


def cmd_submit(args: argparse.Namespace) -> int:
    from tracking_by_trackers.cluster.submit import submit

    return submit(args)


def cmd_tune(args: argparse.Namespace) -> int:
    from tracking_by_trackers.experiments.tune.tune_sweep import run_tune

    return run_tune(args)


def cmd_attack(args: argparse.Namespace) -> None:
    from tracking_by_trackers.experiments.attack.attack_cli import run_attack_command

    run_attack_command(args)


MODEL_DIR_HELP = (
    "folder of the OpenCV DNN trackers' .onnx model files (NanoTrack: its folder, holding v1/ and v2/, or a "
    "models root holding nanotrack/); default $TBT_MODEL_DIR"
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``tbt`` parser; given ``command``, only that subcommand gets the arguments whose modules take
    seconds to import (``submit``, ``tune``), so that ``tbt --help`` answers at once."""
    parser = argparse.ArgumentParser(
        prog="tbt", description="Tracking-by-trackers: train and evaluate a distilled and reinforced tracker."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser(
        "evaluate", help="one-pass evaluation of trackers on a dataset, with a report"
    )
    evaluate.add_argument(
        "--dataset",
        default="synthetic",
        help="'synthetic' (the embedded default; options as synthetic:videos=40,frames=100,difficulty=0.5,seed=0) "
        "or <reader>:<path> with reader one of otb, vot, uav123, uav123_10fps, got10k, lasot, folder, video",
    )
    evaluate.add_argument(
        "--trackers",
        default=DEFAULT_TRACKERS,
        help="comma-separated trackers: the student's tras, trast:<teacher>, trasfust:<t1>+<t2>+... (with "
        "--student); built-in names, nano/nano_v2/nano_v1/vit/dasiamrpn (with --model-dir), results:<TRACKER> (with "
        "--results-root) or a plug-in <module>:<callable>",
    )
    evaluate.add_argument(
        "--student",
        help="the exported student (.pt) or a training checkpoint folder, for tras/trast/trasfust",
    )
    evaluate.add_argument(
        "--device", choices=["cpu", "cuda"], help="the student's device (default: CUDA if any)"
    )
    evaluate.add_argument(
        "--results-root", help="root of stored results in the GOT-10k layout, for results:<TRACKER>"
    )
    evaluate.add_argument("--model-dir", help=MODEL_DIR_HELP)
    evaluate.add_argument("--out", default="runs/evaluate", help="output folder (re-running it resumes)")
    evaluate.add_argument(
        "--workers", type=int, default=2, help="sequences tracked at once (threads backend)"
    )
    evaluate.add_argument(
        "--backend",
        choices=_LazyChoices("tracking_by_trackers.experiments.evaluation.evaluate:BACKENDS"),
        metavar="BACKEND",
        default="threads",
        help="%(choices)s: run (tracker, sequence) jobs in threads of this process (default) or as Ray tasks",
    )
    evaluate.add_argument("--address", help="with --backend ray: join a running Ray cluster (e.g. auto)")
    evaluate.add_argument("--num-cpus", type=int, help="with --backend ray: CPUs of the local Ray instance")
    evaluate.set_defaults(func=cmd_evaluate)

    report = commands.add_parser(
        "report", help="rebuild the report of an earlier evaluation from its results"
    )
    report.add_argument("dir", help="the --out folder of `tbt evaluate`")
    report.set_defaults(func=cmd_report)

    track = commands.add_parser(
        "track", help="track one target through a video file or an image folder with TRAS, TRAST or TRASFUST"
    )
    track.add_argument("video", help="a video file (mp4, avi, ...) or a folder of images")
    track.add_argument("--init", help="the target's box in the first frame: x,y,w,h (pixels)")
    track.add_argument(
        "--mode",
        choices=_LazyChoices("tracking_by_trackers.policies.trackers.factory:STUDENT_MODES"),
        metavar="MODE",
        default="tras",
        help="the tracker, one of %(choices)s (default: %(default)s)",
    )
    track.add_argument(
        "--teachers", help="comma-separated teachers: one for trast, one or more for trasfust (e.g. kcf,csrt)"
    )
    track.add_argument("--student", help="the exported student (.pt) or a training checkpoint folder")
    track.add_argument(
        "--out", default="runs/track", help="output folder (boxes.csv, annotated.mp4, summary.json)"
    )
    track.add_argument(
        "--device", choices=["cpu", "cuda"], help="the student's device (default: CUDA if any)"
    )
    track.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads for the student's forward pass (default 1, leaving the other cores to the "
        "teachers; raise it for the paper preset on a CPU with cores to spare)",
    )
    track.add_argument(
        "--results-root", help="root of stored results in the GOT-10k layout, for results:<TRACKER> teachers"
    )
    track.add_argument("--model-dir", help=MODEL_DIR_HELP)
    track.set_defaults(func=cmd_track)

    teachers = commands.add_parser("teachers", help="run teachers over a dataset to build a transfer set")
    teacher_commands = teachers.add_subparsers(dest="teachers_command", required=True)
    run = teacher_commands.add_parser(
        "run", help="run every teacher on every video as Ray actors (resumable)"
    )
    run.add_argument("--dataset", default="synthetic", help="as for `tbt evaluate`")
    run.add_argument(
        "--teachers", default="kcf,csrt,mosse,medianflow", help="as --trackers of `tbt evaluate`"
    )
    run.add_argument(
        "--out", default="runs/transfer_set", help="the transfer-set folder (re-running it resumes)"
    )
    run.add_argument(
        "--results-root", help="root of stored results in the GOT-10k layout, for results:<TRACKER>"
    )
    run.add_argument("--model-dir", help=MODEL_DIR_HELP)
    run.add_argument(
        "--actors",
        type=int,
        help="teacher actors (default: one per CPU of the cluster now; on an autoscaling cluster give more, "
        "and the autoscaler adds nodes for them)",
    )
    run.add_argument("--cpus-per-actor", type=float, default=1.0)
    run.add_argument("--gpus-per-actor", type=float, default=0.0)
    run.add_argument(
        "--resources-per-actor",
        type=json.loads,
        help='custom resources per actor, JSON, e.g. {"env_runner_node": 0.001} for a cluster\'s CPU workers',
    )
    run.add_argument("--address", help="join a running Ray cluster (e.g. auto) instead of starting one")
    run.add_argument("--num-cpus", type=int, help="CPUs of the local Ray instance (default: all)")
    run.set_defaults(func=cmd_teachers_run)

    transfer_set = commands.add_parser("transfer-set", help="inspect a transfer set")
    transfer_commands = transfer_set.add_subparsers(dest="transfer_set_command", required=True)
    stats = transfer_commands.add_parser(
        "stats", help="print the paper's Table 1: kept trajectories and videos, AO, clips per beta"
    )
    stats.add_argument("dir", help="the --out folder of `tbt teachers run`")
    stats.add_argument("--clip-length", type=int, help="frames per clip (default 32)")
    stats.add_argument("--clips", type=int, help="clips per kept trajectory (default 5)")
    stats.add_argument(
        "--beta-scope",
        choices=("trajectory", "clip"),
        default="trajectory",
        help="what beta judges: whole trajectories (the paper) or each clip-long window (short real videos)",
    )
    stats.set_defaults(func=cmd_transfer_set_stats)
    train = commands.add_parser(
        "train",
        add_help=False,  # `tbt train --help` is the help of every setting (tracking_by_trackers.experiments.train.train_cli)
        help="the whole pipeline: teachers, transfer set, KD-RL training, evaluation and report "
        "(`tbt train --help` lists every setting)",
    )
    train.add_argument("train_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    train.set_defaults(func=cmd_train)

    export = commands.add_parser("export", help="write the student of a training checkpoint to one file")
    export.add_argument("checkpoint", help="a checkpoint folder (runs/train/training/checkpoints/iter_…)")
    export.add_argument("--out", default="student.pt", help="the exported file (default student.pt)")
    export.set_defaults(func=cmd_export)

    submit = commands.add_parser("submit", help="run a tbt command on a Ray cluster (Ray Jobs API)")
    if command in (None, "submit"):
        from tracking_by_trackers.cluster.submit import add_submit_arguments

        add_submit_arguments(submit)
    submit.set_defaults(func=cmd_submit)

    tune = commands.add_parser(
        "tune",
        help="a Ray Tune sweep of KD-RL (ASHA or PBT on tbt train's validation score), resumable with --resume",
    )
    if command in (None, "tune"):
        from tracking_by_trackers.experiments.tune.tune_sweep import add_tune_arguments

        add_tune_arguments(tune)
    tune.set_defaults(func=cmd_tune)

    attack = commands.add_parser(
        "attack", help="the adversarial background-patch attack on the student: mean IoU against attack steps"
    )
    if command in (None, "attack"):
        from tracking_by_trackers.experiments.attack.attack_cli import add_attack_arguments

        add_attack_arguments(attack)
    attack.set_defaults(func=cmd_attack)

    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``argv`` parsed; ``tbt train``'s own arguments are left in ``train_args`` for tyro."""
    words = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in words if not word.startswith("-")), None)
    parser = build_parser(command or "")  # "": no subcommand named (`tbt --help`)
    args, extra = parser.parse_known_args(words)
    if args.command == "train":
        args.train_args = [*extra, *args.train_args]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def error_line(error: BaseException) -> str:
    """``tbt: error: <message>`` on one line, as argparse words its own errors (a message that spans
    lines, such as a parser's, is joined with ``; ``)."""
    parts = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"tbt: error: {'; '.join(parts)}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        status = args.func(args)
    except (UsageError, ValueError) as error:  # DatasetError, ConfigError, GPURequestError are ValueErrors
        if args.verbose:
            raise
        print(error_line(error), file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
