"""`tbt evaluate` and `tbt report` end to end on tiny synthetic sets: artefacts, resume, and errors."""

import json

import pandas as pd
import pytest

from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.cli import main
from tracking_by_trackers.experiments.evaluation.ope_metrics import pool_frames, score_sequence
from tracking_by_trackers.teachers.results_store import read_result

DATASET = "synthetic:videos=2,frames=12,seed=3"


def test_evaluate_writes_results_and_a_report_that_matches_the_metrics(tmp_path, capsys):
    out = tmp_path / "eval"
    assert (
        main(["evaluate", "--dataset", DATASET, "--trackers", "identity,mosse,kcf", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert (
        "tracked 6 (tracker, sequence) pairs" in printed and f"report written to {out / 'report'}" in printed
    )
    sequences = load_dataset(DATASET)
    for name in ["scores.csv", "scores.md", "per_sequence_ao.csv", "success_plot.png", "precision_plot.png"]:
        assert (out / "report" / name).stat().st_size > 0
    table = pd.read_csv(out / "report" / "scores.csv", index_col="tracker")
    assert set(table.index) == {"identity", "mosse", "kcf", "oracle"}
    expected = pool_frames(
        [
            score_sequence(
                read_result(out / "results", s.benchmark, "mosse", s.name).boxes, s.gt_boxes, s.absent
            )
            for s in sequences
        ]
    )
    assert table.loc["mosse", "AO"] == pytest.approx(expected.ao, abs=1e-6)
    assert table.loc["oracle", "AO"] >= table.loc[["mosse", "kcf"], "AO"].max() - 1e-9
    assert json.loads((out / "evaluation.json").read_text())["trackers"] == ["identity", "mosse", "kcf"]


def test_a_rerun_resumes_and_report_rebuilds_from_stored_results(tmp_path, capsys):
    out = tmp_path / "eval"
    main(["evaluate", "--dataset", DATASET, "--trackers", "identity,mosse", "--out", str(out)])
    (out / "results" / "synthetic" / "mosse" / f"{load_dataset(DATASET)[0].name}.txt").unlink()
    capsys.readouterr()
    main(["evaluate", "--dataset", DATASET, "--trackers", "identity,mosse", "--out", str(out)])
    assert "tracked 1 (tracker, sequence) pairs" in capsys.readouterr().out
    (out / "report" / "scores.csv").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report" / "scores.csv").is_file()


def test_bad_input_gives_clear_errors(tmp_path, capsys):
    assert main(["evaluate", "--dataset", DATASET, "--trackers", "kcf,nosuch", "--out", str(tmp_path)]) == 2
    assert "unknown tracker 'nosuch'; known trackers: identity, kcf" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "nosuch:/x", "--out", str(tmp_path)]) == 2
    assert "unknown dataset reader 'nosuch'" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "synthetic:videos=2,colour=3", "--out", str(tmp_path)]) == 2
    assert "unknown synthetic dataset option 'colour'" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "evaluation.json not found; is" in capsys.readouterr().err
    main(["evaluate", "--dataset", DATASET, "--trackers", "identity", "--out", str(tmp_path / "e")])
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--dataset",
                "synthetic:videos=1",
                "--trackers",
                "identity",
                "--out",
                str(tmp_path / "e"),
            ]
        )
        == 2
    )
    assert f"holds an evaluation of dataset {DATASET!r}, not 'synthetic:videos=1'" in capsys.readouterr().err


def test_teachers_run_then_transfer_set_stats(ray_session, tmp_path, capsys):
    out = tmp_path / "transfer"
    spec = "synthetic:videos=2,frames=48,seed=2"
    assert main(["teachers", "run", "--dataset", spec, "--teachers", "kcf,mosse", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ran 4 (video, teacher) pairs on 2 actors" in printed and "skipped 0 already stored" in printed
    assert main(["transfer-set", "stats", str(out), "--clip-length", "16"]) == 0
    table = capsys.readouterr().out
    assert "transfer set" in table and "2 videos" in table
    for token in ["kcf", "mosse", "all", "trajectories", "videos", "clips", "0.9"]:
        assert token in table
    assert main(["transfer-set", "stats", str(tmp_path)]) == 2
    assert "is " + str(tmp_path) + " the output of `tbt teachers run`" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "expected"), [([], "small"), (["--preset", "small-separate-critic"], "small-separate-critic")]
)
def test_train_preset_flag_reaches_the_config(tmp_path, monkeypatch, flags, expected):
    import tracking_by_trackers.experiments.train.train_pipeline as train_pipeline

    seen = {}
    monkeypatch.setattr(
        train_pipeline, "run_training_pipeline", lambda config, out, resume: seen.update(c=config)
    )
    main(["train", "--out", str(tmp_path), *flags])
    assert seen["c"].preset == expected


def test_tbt_help_imports_neither_ray_nor_torch():
    """`tbt --help` builds no subcommand whose module pulls in Ray, torch or OpenCV, so it answers at once."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from tracking_by_trackers.experiments.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "print(sorted(m for m in ('ray', 'torch', 'cv2', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_train_help_lists_every_setting_with_its_docstring(capsys, monkeypatch):
    from dataclasses import fields

    from tracking_by_trackers.experiments.train.train_config import TrainConfig

    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    for field in fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        assert flag in help_text, flag
    assert "The iteration budget." in help_text


def test_an_old_flag_name_is_answered_with_the_new_one(capsys):
    assert main(["train", "--env-runner-resources", '{"a": 1}']) == 2
    assert "--env-runner-resources is now --custom-resources-per-env-runner" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lrr", "3"], "tbt: error: unknown option --lrr; did you mean --lr?\n"),
        (
            ["--num_env_runnerz", "2"],
            "tbt: error: unknown option --num_env_runnerz; did you mean --num-env-runners?\n",
        ),
        (["--curiculum"], "tbt: error: unknown option --curiculum; did you mean --curriculum?\n"),
        (
            ["--num-env-runners", "x"],
            "tbt: error: Error parsing --num-env-runners: invalid literal for int() with base 10: 'x' "
            "(see tbt train --help)\n",
        ),
        (
            ["extra"],
            "tbt: error: unexpected argument 'extra': every setting is a --flag (see tbt train --help)\n",
        ),
    ],
)
def test_a_misspelt_flag_or_a_mistyped_value_is_one_line_naming_it(capsys, argv, message):
    assert main(["train", *argv]) == 2
    assert capsys.readouterr().err == message
