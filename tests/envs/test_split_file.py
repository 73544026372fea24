"""The ``split`` reader and the repository's real-video split file."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.envs.datasets.split_file import read_split_file
from tracking_by_trackers.envs.sequence import DatasetError

REAL_SPLIT = REPO_ROOT / "configs" / "splits" / "real.yaml"


def _split_file(tmp_path, content: dict):
    path = tmp_path / "split.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    read_split_file.cache_clear()
    return path


def test_the_real_split_keeps_its_three_splits_apart_and_covers_every_sequence(shared_data):
    dataset, splits = read_split_file(str(REAL_SPLIT))
    assert dataset == "otb:../shared/data/real"
    assert {name: len(names) for name, names in splits.items()} == {"train": 15, "val": 5, "test": 10}
    folders = sorted(p.name for p in (shared_data / "real").iterdir() if (p / "img").is_dir())
    assert sorted(n for names in splits.values() for n in names) == folders


def test_a_split_reads_the_sequences_it_lists(shared_data, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    sequences = load_dataset("split:configs/splits/real.yaml:val")
    assert [s.name for s in sequences] == [
        "DTB70_Yacht2",
        "OTB_Girl2",
        "OTB_Skating2",
        "OTB_Skiing",
        "UAVDT_S0601",
    ]
    assert sum(len(s) for s in sequences) == 1375


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"train": ["a"]}, r"needs a 'dataset: <reader>:<path>' line"),
        ({"dataset": "otb:x", "train": "a"}, r"'train' must be a list of sequence names"),
        ({"dataset": "otb:x", "train": ["a", "a"]}, r"lists a twice"),
        ({"dataset": "otb:x", "train": ["a"], "test": ["a"]}, r"lists a in both 'train' and 'test'"),
    ],
)
def test_a_bad_split_file_is_named(tmp_path, content, message):
    path = _split_file(tmp_path, content)
    with pytest.raises(DatasetError, match=rf"split file {path} {message}|split file {path}: {message}"):
        load_dataset(f"split:{path}:train")


def test_an_unknown_split_or_sequence_is_named(tmp_path, moving_square):
    from tracking_by_trackers.envs.datasets import READERS

    READERS["square"] = lambda path, **options: [moving_square]
    try:
        path = _split_file(tmp_path, {"dataset": "square:", "train": [moving_square.name], "val": ["nope"]})
        assert [s.name for s in load_dataset(f"split:{path}:train")] == [moving_square.name]
        with pytest.raises(DatasetError, match=r"has no split 'test'; its splits: train, val"):
            load_dataset(f"split:{path}:test")
        with pytest.raises(DatasetError, match=r"split 'val': square: has no sequence nope"):
            load_dataset(f"split:{path}:val")
    finally:
        del READERS["square"]


def test_a_spec_without_a_split_name_or_file_is_refused(tmp_path):
    with pytest.raises(DatasetError, match=r"names no split: write split:<file>:<split>"):
        load_dataset("split:real.yaml")
    with pytest.raises(DatasetError, match=r"split file .*absent.yaml does not exist"):
        load_dataset(f"split:{tmp_path / 'absent.yaml'}:val")
