"""Tracker specs: built-in names, results replay, DNN trackers, plug-ins, and the errors for each."""

import pickle

import pytest

from tracking_by_trackers.teachers.identity_tracker import IdentityTracker
from tracking_by_trackers.teachers.registry import make_tracker, parse_tracker_specs, tracker_factory
from tracking_by_trackers.teachers.results_teacher import ResultsTeacher
from tracking_by_trackers.teachers.scripted_teachers import NoisyGroundTruthTeacher


def test_built_in_names_give_fresh_trackers():
    first, second = make_tracker("kcf"), make_tracker("kcf")
    assert first is not second and first.name == "kcf"
    assert isinstance(make_tracker("identity"), IdentityTracker)


def test_specs_keep_order_and_factories_pickle_for_ray(tmp_path):
    factories = parse_tracker_specs("csrt, identity,results:ECO", results_root=tmp_path)
    assert list(factories) == ["csrt", "identity", "ECO"]
    teacher = pickle.loads(pickle.dumps(factories["ECO"]))()
    assert isinstance(teacher, ResultsTeacher) and teacher.name == "ECO"


def test_plug_in_point_imports_any_callable():
    name, factory = tracker_factory("tracking_by_trackers.teachers.scripted_teachers:NoisyGroundTruthTeacher")
    tracker = factory()
    # The spec's name, not the object's own ("noisy_gt"): the one its results are stored under.
    assert name == tracker.name == "NoisyGroundTruthTeacher"
    assert isinstance(tracker.tracker, NoisyGroundTruthTeacher)


@pytest.mark.parametrize(
    ("specs", "kwargs", "message"),
    [
        ("kcf,nosuch", {}, "unknown tracker 'nosuch'; known trackers: identity, kcf"),
        ("kcf,kcf", {}, "names 'kcf' twice"),
        ("", {}, "no tracker named"),
        ("results:ECO", {}, "replays stored results: give their root folder"),
        ("results:", {"results_root": "."}, "names no tracker; write results:<TRACKER>"),
        ("nano", {}, "give the folder of its model files"),
        ("nano", {"model_dir": "/nonexistent"}, "nanotrack_backbone_sim.onnx"),
        ("no.such.module:thing", {}, "cannot import tracker plug-in 'no.such.module:thing'"),
        ("tracking_by_trackers.teachers.registry:RESULTS_PREFIX", {}, "is not callable"),
    ],
)
def test_bad_specs_are_clear_errors(specs, kwargs, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        parse_tracker_specs(specs, **kwargs)
