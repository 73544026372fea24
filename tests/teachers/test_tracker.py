"""The tracker protocol: every built-in teacher follows it, plug-ins are wrapped into it, and objects that
do not follow it are clear errors.

The plug-ins are the classes and functions of this module, named by spec (``tests.teachers.test_tracker:…``)
as a user names theirs.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tracking_by_trackers.teachers.identity_tracker import IdentityTracker
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.opencv_trackers import OPENCV_TRACKER_KINDS
from tracking_by_trackers.teachers.registry import make_tracker, tracker_factory
from tracking_by_trackers.teachers.results_teacher import ResultsTeacher
from tracking_by_trackers.teachers.scripted_teachers import FailingTeacher, NoisyGroundTruthTeacher
from tracking_by_trackers.teachers.tracker import BaseTracker, FusingTracker, PluginTracker, Tracker

PLUGINS = "tests.teachers.test_tracker"


class DriftingTracker:
    """A plug-in object with the toolkit's two methods only: moves the box 1 px right per update."""

    def init(self, image, box):
        self.box = np.asarray(box, dtype=np.float64)

    def update(self, image):
        self.box = self.box + [1.0, 0.0, 0.0, 0.0]
        return self.box


def make_drifting_tracker():
    return DriftingTracker()


class VideoAwareTracker(DriftingTracker):
    """A plug-in object with optional parts of its own: it reads the video, doubts every second update and
    counts its closes."""

    name = "its_own_name"

    def __init__(self):
        self.last_ok, self.closed, self.video = False, 0, None

    def prepare(self, sequence):
        self.video = sequence.name

    def update(self, image):
        self.last_ok = not self.last_ok
        return super().update(image)

    def close(self):
        self.closed += 1


class InitOnly:
    def init(self, image, box):
        pass


def make_init_only():
    return InitOnly()


def test_every_built_in_teacher_follows_the_protocol(tmp_path):
    trackers = [
        IdentityTracker(),
        *(make_tracker(kind) for kind in OPENCV_TRACKER_KINDS),
        ResultsTeacher(tmp_path, "ECO"),
        NoisyGroundTruthTeacher(),
        FailingTeacher("nan"),
    ]
    for tracker in trackers:
        assert isinstance(tracker, Tracker) and isinstance(tracker, BaseTracker), tracker.name
        assert not isinstance(tracker, FusingTracker), f"{tracker.name} records no member choices"
    # The defaults: the identity tracker never reports failure and needs neither the video nor a close.
    identity = trackers[0]
    assert identity.last_ok is True
    assert identity.prepare(None) is None and identity.close() is None


def test_a_plug_in_object_is_wrapped_and_tracks_through_the_one_pass_loop(moving_square):
    name, factory = tracker_factory(f"{PLUGINS}:make_drifting_tracker")
    tracker = factory()
    assert name == "make_drifting_tracker" and tracker.name == name
    assert isinstance(tracker, PluginTracker) and isinstance(tracker, Tracker)
    result = track_sequence(tracker, moving_square)
    drift = np.zeros((len(moving_square), 4))
    drift[:, 0] = np.arange(len(moving_square))
    np.testing.assert_array_equal(result.boxes, moving_square.init_box + drift)
    assert result.ok.all(), "a plug-in without last_ok never reports failure"
    # Ray ships teachers to their actors by pickling them.
    shipped = pickle.loads(pickle.dumps(tracker))
    assert isinstance(shipped, PluginTracker) and shipped.name == name
    np.testing.assert_array_equal(shipped.update(None), result.boxes[-1] + [1.0, 0.0, 0.0, 0.0])


def test_a_plug_in_keeps_its_own_optional_parts_under_the_spec_name(moving_square):
    name, factory = tracker_factory(f"{PLUGINS}:VideoAwareTracker")
    tracker = factory()
    assert name == tracker.name == "VideoAwareTracker", "the spec names the results, not the object"
    result = track_sequence(tracker, moving_square)
    assert tracker.tracker.video == moving_square.name
    np.testing.assert_array_equal(result.ok[:5], [True, True, False, True, False])
    tracker.close()
    assert tracker.tracker.closed == 1


def test_a_plug_in_without_update_is_a_clear_error():
    # A class is checked when the spec is read; a function only on the object it returns.
    with pytest.raises(
        ValueError,
        match=rf"tracker plug-in '{PLUGINS}:InitOnly' gives InitOnly objects, which have no update method",
    ):
        tracker_factory(f"{PLUGINS}:InitOnly")
    _, factory = tracker_factory(f"{PLUGINS}:make_init_only")
    with pytest.raises(
        TypeError,
        match=rf"tracker plug-in '{PLUGINS}:make_init_only' gives InitOnly objects, which have no update",
    ):
        factory()


def test_an_object_that_is_not_a_tracker_is_named_with_what_it_lacks(moving_square):
    with pytest.raises(
        TypeError,
        match=r"the tracker given to track_sequence \(DriftingTracker\) is not a Tracker: it has no name, "
        r"last_ok, prepare, close; subclass tracking_by_trackers.teachers.tracker.BaseTracker",
    ):
        track_sequence(DriftingTracker(), moving_square)
