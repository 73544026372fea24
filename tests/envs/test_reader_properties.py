"""Random garbage annotation files never crash the readers: each one is read into boxes that keep the
documented invariants, or refused with a :class:`DatasetError` naming the file; no other exception escapes
(envs/datasets/annotation_files.py)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.envs.test_datasets import write_frames
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.envs.datasets.annotation_files import read_boxes, read_flags, read_integers
from tracking_by_trackers.envs.sequence import DatasetError

FRAMES = 4
# Modest counts: the default run stays fast; the text strategy below is biased towards near-misses.
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Tokens a box file is made of, and the near-misses a damaged or foreign file holds.
_TOKENS = st.sampled_from(
    ["1", "2.5", "-3", "0", "1e3", "1e400", "nan", "NaN", "inf", "-inf", "x", "", "0x1f", "1,5", "١"]
)
_SEPARATORS = st.sampled_from([",", ", ", "\t", " ", ",,", ";", "\r"])
_LINES = st.lists(st.tuples(_TOKENS, _SEPARATORS), min_size=0, max_size=10).map(
    lambda pairs: "".join(token + separator for token, separator in pairs)
)
# Mostly box-like lines, sometimes any text at all, or raw bytes (binary files, other encodings).
garbage_text = st.one_of(
    st.lists(st.one_of(_LINES, st.text(max_size=30)), min_size=0, max_size=8).map("\n".join),
    st.text(max_size=200),
)
garbage_bytes = st.binary(max_size=300)


@pytest.fixture(scope="module")
def frames_root(tmp_path_factory):
    """One OTB sequence folder of FRAMES images, whose ground truth each example overwrites."""
    root = tmp_path_factory.mktemp("otb") / "seq"
    write_frames(root / "img", FRAMES, pattern="{:04d}.jpg")
    return root


def _check_boxes(boxes: np.ndarray) -> None:
    """The invariants of what read_boxes returns: (N, 4) float64, each row all-NaN (absent) or finite with
    a positive size, and a valid first row."""
    assert boxes.dtype == np.float64 and boxes.ndim == 2 and boxes.shape[1] == 4
    absent = np.isnan(boxes).all(axis=1)
    present = boxes[~absent]
    assert np.isfinite(present).all() and (present[:, 2:] > 0).all()
    assert len(boxes) == 0 or not absent[0]


@EXAMPLES
@given(content=st.one_of(garbage_text.map(str.encode), garbage_bytes))
def test_garbage_box_files_give_valid_boxes_or_a_dataset_error(tmp_path_factory, content):
    path = tmp_path_factory.getbasetemp() / "boxes.txt"
    path.write_bytes(content)
    try:
        boxes = read_boxes(path)
    except DatasetError as error:
        assert str(path) in str(error) and "\n" not in str(error)
    else:
        _check_boxes(boxes)


@EXAMPLES
@given(content=st.one_of(garbage_text.map(str.encode), garbage_bytes))
def test_garbage_label_files_give_labels_or_a_dataset_error(tmp_path_factory, content):
    path = tmp_path_factory.getbasetemp() / "cover.label"
    path.write_bytes(content)
    for read in (read_flags, lambda p: read_integers(p, allowed=range(9))):
        try:
            labels = read(path)
        except DatasetError as error:
            assert str(path) in str(error) and "\n" not in str(error)
        else:
            assert labels.ndim == 1


@EXAMPLES
@given(content=st.one_of(garbage_text.map(str.encode), garbage_bytes))
def test_garbage_ground_truth_in_a_dataset_is_read_or_refused(frames_root, content):
    (frames_root / "groundtruth_rect.txt").write_bytes(content)
    try:
        sequences = load_dataset(f"otb:{frames_root}")
    except DatasetError as error:
        assert "\n" not in str(error)
    else:
        for sequence in sequences:
            assert len(sequence) <= FRAMES  # OTB keeps the first N frames when there are fewer boxes
            _check_boxes(sequence.gt_boxes)
            assert sequence.absent.tolist() == np.isnan(sequence.gt_boxes).any(axis=1).tolist()
