"""The ``tbt`` command line.

    tbt evaluate [--dataset synthetic|<reader>:<path>] [--trackers identity,kcf,csrt,mosse,medianflow] [--out DIR]
    tbt report DIR
    tbt teachers run [--dataset …] [--teachers kcf,csrt,mosse,medianflow] [--out DIR] [--actors N]
    tbt transfer-set stats DIR

``evaluate`` tracks every sequence with every tracker (resuming a stopped run), then writes the report;
``report`` rebuilds the report of an earlier evaluation from its stored results alone. ``teachers run``
runs the teachers as Ray actors over a dataset and stores their trajectories (resuming a stopped build);
``transfer-set stats`` prints SPEC's Table 1 for a stored transfer set.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from envs.datasets import load_dataset
from envs.sequence import DatasetError
from experiments.evaluate import evaluate_trackers
from experiments.ope_metrics import MEAN_OVER_SEQUENCES, POOL_FRAMES
from experiments.report import markdown_table, score_results, write_report
from teachers.atomic_io import write_text_atomically
from teachers.identity_tracker import IdentityTracker
from teachers.registry import parse_tracker_specs

DEFAULT_TRACKERS = "identity,kcf,csrt,mosse,medianflow"
MANIFEST = "evaluation.json"
# GOT-10k and the synthetic set pool frames; the OTB family averages per-sequence scores.
_SEQUENCE_MEAN_BENCHMARKS = {"OTB", "UAV123", "UAV123_10fps", "LaSOT", "VOT"}

logger = logging.getLogger("tbt")


class UsageError(Exception):
    """A command-line mistake: printed as one line, exit status 2."""


def _pooling_mode(sequences) -> str:
    benchmarks = {sequence.benchmark for sequence in sequences}
    return MEAN_OVER_SEQUENCES if benchmarks <= _SEQUENCE_MEAN_BENCHMARKS else POOL_FRAMES


def _report(out: Path, manifest: dict) -> None:
    sequences = load_dataset(manifest["dataset"])
    trackers = manifest["trackers"]
    oracle_of = [name for name in trackers if name != IdentityTracker.name]
    mode = _pooling_mode(sequences)
    started = time.perf_counter()
    scores = score_results(out / "results", sequences, trackers, oracle_of=oracle_of)
    table = write_report(scores, out / "report", mode)
    print(f"\n{len(sequences)} sequences, pooled over {'frames' if mode == POOL_FRAMES else 'sequences'}:\n")
    print(markdown_table(table))
    logger.info("scored in %.1f s", time.perf_counter() - started)
    print(f"report written to {out / 'report'} (scores.md, scores.csv, per_sequence_ao.csv, *_plot.png)")


def cmd_evaluate(args: argparse.Namespace) -> None:
    factories = parse_tracker_specs(args.trackers, results_root=args.results_root, model_dir=args.model_dir)
    trackers = list(factories)
    out = Path(args.out)
    manifest_path = out / MANIFEST
    manifest = {"dataset": args.dataset, "trackers": trackers}
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        if previous["dataset"] != args.dataset:
            raise UsageError(
                f"{out} holds an evaluation of dataset {previous['dataset']!r}, not {args.dataset!r}; "
                "choose another --out"
            )
        manifest["trackers"] = list(dict.fromkeys([*previous["trackers"], *trackers]))
    print(f"loading dataset {args.dataset} ...")
    started = time.perf_counter()
    sequences = load_dataset(args.dataset)
    frames = sum(len(s) for s in sequences)
    print(f"{len(sequences)} sequences, {frames} frames, ready in {time.perf_counter() - started:.1f} s")
    write_text_atomically(manifest_path, json.dumps(manifest, indent=2))
    started = time.perf_counter()
    ran = evaluate_trackers(sequences, factories, out / "results", workers=args.workers)
    print(f"tracked {ran} (tracker, sequence) pairs in {time.perf_counter() - started:.1f} s")
    _report(out, manifest)


def cmd_report(args: argparse.Namespace) -> None:
    out = Path(args.dir)
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        raise UsageError(f"{manifest_path} not found; is {out} the --out of a `tbt evaluate` run?")
    _report(out, json.loads(manifest_path.read_text()))


def cmd_teachers_run(args: argparse.Namespace) -> None:
    from cluster.ray_runtime import init_ray
    from teachers.teacher_pool import TeacherPool
    from teachers.transfer_store import TransferSetStore

    factories = parse_tracker_specs(args.teachers, results_root=args.results_root, model_dir=args.model_dir)
    store = TransferSetStore(args.out)
    print(f"loading dataset {args.dataset} ...")
    sequences = load_dataset(args.dataset)
    print(
        f"{len(sequences)} videos, {sum(len(s) for s in sequences)} frames; teachers: {', '.join(factories)}"
    )
    store.write_manifest(args.dataset, list(factories))
    init_ray(args.address, num_cpus=args.num_cpus)
    pool = TeacherPool(
        args.actors, num_cpus_per_actor=args.cpus_per_actor, num_gpus_per_actor=args.gpus_per_actor
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


def _print_transfer_set_stats(root: Path, clip_length: int | None = None, clips: int | None = None) -> None:
    from teachers.transfer_set import table1
    from teachers.transfer_store import TransferSetStore

    rows = TransferSetStore(root).read_all()
    options = {
        k: v for k, v in {"clip_length": clip_length, "clips_per_trajectory": clips}.items() if v is not None
    }
    print(f"\ntransfer set {root}: {rows[['dataset', 'sequence']].drop_duplicates().shape[0]} videos\n")
    print(table1(rows, **options).to_string(float_format=lambda value: f"{value:.3f}"))


def cmd_transfer_set_stats(args: argparse.Namespace) -> None:
    from teachers.transfer_store import TransferSetStore

    TransferSetStore(args.dir).read_manifest()  # a clear error when the folder is no transfer set
    _print_transfer_set_stats(Path(args.dir), args.clip_length, args.clips)


def build_parser() -> argparse.ArgumentParser:
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
        help="comma-separated trackers: built-in names, nano/vit/dasiamrpn (with --model-dir), "
        "results:<TRACKER> (with --results-root) or a plug-in <module>:<callable>",
    )
    evaluate.add_argument(
        "--results-root", help="root of stored results in the GOT-10k layout, for results:<TRACKER>"
    )
    evaluate.add_argument("--model-dir", help="folder with the OpenCV DNN trackers' .onnx model files")
    evaluate.add_argument("--out", default="runs/evaluate", help="output folder (re-running it resumes)")
    evaluate.add_argument("--workers", type=int, default=2, help="sequences tracked at once")
    evaluate.set_defaults(func=cmd_evaluate)

    report = commands.add_parser(
        "report", help="rebuild the report of an earlier evaluation from its results"
    )
    report.add_argument("dir", help="the --out folder of `tbt evaluate`")
    report.set_defaults(func=cmd_report)

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
    run.add_argument("--model-dir", help="folder with the OpenCV DNN trackers' .onnx model files")
    run.add_argument("--actors", type=int, help="teacher actors (default: one per CPU)")
    run.add_argument("--cpus-per-actor", type=float, default=1.0)
    run.add_argument("--gpus-per-actor", type=float, default=0.0)
    run.add_argument("--address", help="join a running Ray cluster (e.g. auto) instead of starting one")
    run.add_argument("--num-cpus", type=int, help="CPUs of the local Ray instance (default: all)")
    run.set_defaults(func=cmd_teachers_run)

    transfer_set = commands.add_parser("transfer-set", help="inspect a transfer set")
    transfer_commands = transfer_set.add_subparsers(dest="transfer_set_command", required=True)
    stats = transfer_commands.add_parser(
        "stats", help="print SPEC's Table 1: kept trajectories, AO, clips per beta"
    )
    stats.add_argument("dir", help="the --out folder of `tbt teachers run`")
    stats.add_argument("--clip-length", type=int, help="frames per clip (default 32)")
    stats.add_argument("--clips", type=int, help="clips per kept trajectory (default 5)")
    stats.set_defaults(func=cmd_transfer_set_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        args.func(args)
    except (UsageError, DatasetError, ValueError) as error:
        if args.verbose:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
