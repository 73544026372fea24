"""`tbt evaluate` with the student's trackers: results, choices, the report's numbers, backends and errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.cli import main
from tracking_by_trackers.experiments.evaluation.evaluate import evaluate_trackers, parse_evaluation_trackers
from tracking_by_trackers.experiments.evaluation.member_choices import read_choices
from tracking_by_trackers.experiments.evaluation.ope_metrics import pool_frames, score_sequence
from tracking_by_trackers.teachers.results_store import read_result

DATASET = "synthetic:videos=2,frames=16,seed=5"
TRACKERS = "tras,trast:kcf,trasfust:kcf+mosse,kcf,mosse"
# Two cores: the trackers' teacher threads beside torch's own pool would oversubscribe them.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_evaluate_with_student_trackers_writes_results_choices_and_a_report(
    tmp_path, exported_student, capsys
):
    out = tmp_path / "eval"
    argv = ["evaluate", "--dataset", DATASET, "--trackers", TRACKERS, "--student", str(exported_student)]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tracked 10 (tracker, sequence) pairs" in printed and "share of the tracked frames" in printed
    sequences = load_dataset(DATASET)
    results = out / "results"
    names = ["tras", "trast-kcf", "trasfust-kcf+mosse", "kcf", "mosse"]
    assert json.loads((out / "evaluation.json").read_text())["trackers"] == names

    table = pd.read_csv(out / "report" / "scores.csv", index_col="tracker")
    assert set(table.index) == {*names, "oracle"}
    for name in ["trast-kcf", "tras"]:
        expected = pool_frames(
            [
                score_sequence(read_result(results, s.benchmark, name, s.name).boxes, s.gt_boxes, s.absent)
                for s in sequences
            ]
        )
        assert table.loc[name, "AO"] == pytest.approx(expected.ao, abs=1e-6)
        assert table.loc[name, "success AUC"] == pytest.approx(expected.success_auc, abs=1e-6)
    times = [read_result(results, s.benchmark, "tras", s.name).times[1:] for s in sequences]
    assert table.loc["tras", "FPS"] == pytest.approx(
        sum(map(len, times)) / sum(t.sum() for t in times), rel=1e-4
    )
    # The oracle fuses the teachers only: with the students in it, it could not be their upper bound.
    oracle = pool_frames(
        [score_sequence(_oracle(results, s, ["kcf", "mosse"]), s.gt_boxes, s.absent) for s in sequences]
    )
    assert table.loc["oracle", "AO"] == pytest.approx(oracle.ao, abs=1e-6)

    shares = pd.read_csv(out / "report" / "teacher_share.csv", index_col="tracker")
    assert list(shares.index) == ["trast-kcf", "trasfust-kcf+mosse"]
    for name in shares.index:
        chosen = [read_choices(results, s.benchmark, name, s.name) for s in sequences]
        members = [c for record in chosen for c in record.choices[1:]]
        handed = np.mean([member != "student" for member in members])
        assert shares.loc[name, "handed to teachers"] == pytest.approx(handed, abs=1e-6)
        assert shares.loc[name, "kcf"] == pytest.approx(np.mean([m == "kcf" for m in members]), abs=1e-6)
        assert chosen[0].members == ["student", *name.split("-")[1].split("+")]
    assert np.isnan(shares.loc["trast-kcf", "mosse"])
    for report_file in [
        "teacher_share.md",
        "teacher_share.png",
        "per_sequence_scores.md",
        "per_sequence_scores.csv",
    ]:
        assert (out / "report" / report_file).stat().st_size > 0
    per_sequence = pd.read_csv(out / "report" / "per_sequence_scores.csv")
    assert len(per_sequence) == len(sequences) * (len(names) + 1)


def _oracle(results, sequence, members):
    from tracking_by_trackers.experiments.evaluation.report import oracle_boxes

    boxes = np.stack([read_result(results, sequence.benchmark, t, sequence.name).boxes for t in members])
    return oracle_boxes(boxes, sequence.gt_boxes)


def test_student_trackers_need_a_student_and_a_consistent_output_folder(tmp_path, exported_student, capsys):
    out = str(tmp_path / "eval")
    assert main(["evaluate", "--dataset", DATASET, "--trackers", "kcf,tras,trast:csrt", "--out", out]) == 2
    assert "tras, trast:csrt run the student: give the exported student" in capsys.readouterr().err
    argv = ["evaluate", "--dataset", DATASET, "--trackers", "tras", "--out", out]
    assert main([*argv, "--student", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt does not exist" in capsys.readouterr().err
    assert main([*argv, "--student", str(exported_student)]) == 0
    other = tmp_path / "other.pt"
    other.write_bytes(exported_student.read_bytes())
    capsys.readouterr()
    assert main([*argv, "--student", str(other)]) == 2
    assert "holds results of the student" in capsys.readouterr().err


def test_the_ray_backend_stores_what_the_threads_backend_stores(ray_session, tmp_path, exported_student):
    sequences = load_dataset("synthetic:videos=2,frames=10,seed=1")
    factories, _ = parse_evaluation_trackers("tras,trasfust:kcf+mosse", student=exported_student)
    for backend in ("threads", "ray"):
        assert (
            evaluate_trackers(sequences, factories, tmp_path / backend, show_progress=False, backend=backend)
            == 4
        )
    for sequence in sequences:
        for name in factories:
            threads = read_result(tmp_path / "threads", sequence.benchmark, name, sequence.name)
            ray_result = read_result(tmp_path / "ray", sequence.benchmark, name, sequence.name)
            np.testing.assert_array_equal(ray_result.boxes, threads.boxes)
        assert read_choices(
            tmp_path / "ray", sequence.benchmark, "trasfust-kcf+mosse", sequence.name
        ) == read_choices(tmp_path / "threads", sequence.benchmark, "trasfust-kcf+mosse", sequence.name)


def test_validation_as_ray_tasks_scores_what_validation_in_threads_scores(
    ray_session, tmp_path, exported_student
):
    from tracking_by_trackers.experiments.train.checkpoint_validation import CheckpointValidator

    sequences = load_dataset("synthetic:videos=2,frames=12,seed=3")
    teachers, _ = parse_evaluation_trackers("kcf,mosse")
    evaluate_trackers(sequences, teachers, tmp_path, show_progress=False)
    scores = {
        backend: CheckpointValidator(
            sequences, partner="kcf", pool=["kcf", "mosse"], teacher_results=tmp_path, backend=backend
        )(exported_student)
        for backend in ("threads", "ray")
    }
    assert scores["ray"] == scores["threads"]
    assert set(scores["ray"].aos) == {"tras", "trast", "trasfust"}
    with pytest.raises(ValueError, match="unknown backend 'dask'; valid backends: threads, ray"):
        CheckpointValidator(sequences, metric="tras", backend="dask")
