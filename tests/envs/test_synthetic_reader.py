"""The `synthetic` dataset spec: options, defaults and errors."""

import numpy as np
import pytest

from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.envs.sequence import DatasetError


def test_options_choose_the_set_and_the_bare_name_works():
    sequences = load_dataset("synthetic:videos=2,frames=9,seed=5,difficulty=0.3")
    assert [len(s) for s in sequences] == [9, 9]
    assert all(s.benchmark == "synthetic" for s in sequences)
    again = load_dataset("synthetic: videos=2, frames=9, seed=5, difficulty=0.3")
    np.testing.assert_array_equal(sequences[1].gt_boxes, again[1].gt_boxes)
    assert len(load_dataset("synthetic:videos=1,frames=5,seed=6")) == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("synthetic:videos", "option 'videos' is not key=value"),
        ("synthetic:videos=two", "option videos='two' is not a number"),
        ("synthetic:videos=0", "needs at least 1 video"),
        (
            "synthetic:speed=2",
            "unknown synthetic dataset option 'speed'; known options: videos, seed, frames",
        ),
        ("synthetic:difficulty=1.5", "bad synthetic dataset options"),
    ],
)
def test_bad_options_are_clear_errors(spec, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(spec)
