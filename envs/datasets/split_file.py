"""The ``split`` reader: the sequences a split file lists for one split, e.g. ``split:configs/splits/real.yaml:val``.

A split file is YAML: ``dataset``, the spec of the dataset it splits (``otb:../shared/data/real``), and one list
of sequence names per split (``train``, ``val``, ``test``, or any other name). Keeping the lists in a file of
the repository keeps the three splits apart by construction and makes every run name exactly what it read.
A split file may not list a sequence twice, nor one sequence in two splits; every name must exist in the
dataset. A relative dataset path is relative to the current folder (commands run from the checkout).
"""

from __future__ import annotations

import functools
from pathlib import Path

from tracking_by_trackers.envs.sequence import DatasetError, Sequence

DATASET_KEY = "dataset"


@functools.lru_cache(maxsize=8)
def read_split_file(path: str) -> tuple[str, dict[str, tuple[str, ...]]]:
    """``(dataset spec, {split: sequence names})`` from the split file at ``path``, checked.

    Raises:
        DatasetError: the file is missing or not a split file; the message says what is wrong.
    """
    import yaml

    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"split file {file} does not exist")
    try:
        content = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise DatasetError(f"split file {file} is not valid YAML: {error}") from None
    if not isinstance(content, dict) or not isinstance(content.get(DATASET_KEY), str):
        raise DatasetError(
            f"split file {file} needs a '{DATASET_KEY}: <reader>:<path>' line and lists of names"
        )
    splits: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for name, sequences in content.items():
        if name == DATASET_KEY:
            continue
        if not isinstance(sequences, list) or not all(isinstance(s, str) for s in sequences):
            raise DatasetError(f"split file {file}: '{name}' must be a list of sequence names")
        for sequence in sequences:
            if sequence in owner:
                where = "twice" if owner[sequence] == name else f"in both '{owner[sequence]}' and '{name}'"
                raise DatasetError(f"split file {file} lists {sequence} {where}")
            owner[sequence] = name
        splits[str(name)] = tuple(sequences)
    return content[DATASET_KEY], splits


def read_split(path: str, **options) -> list[Sequence]:
    """The sequences of one split: ``path`` is ``<split file>:<split name>``.

    Raises:
        DatasetError: no split name, an unknown split (the known ones listed), or a listed sequence that is
            not in the dataset.
    """
    from tracking_by_trackers.envs.datasets import load_dataset

    file, separator, split = path.rpartition(":")
    if not separator or not file or not split:
        raise DatasetError(
            f"split spec {path!r} names no split: write split:<file>:<split>, e.g. split:real.yaml:val"
        )
    dataset, splits = read_split_file(file)
    if split not in splits:
        raise DatasetError(f"split file {file} has no split {split!r}; its splits: {', '.join(splits)}")
    by_name = {sequence.name: sequence for sequence in load_dataset(dataset, **options)}
    missing = [name for name in splits[split] if name not in by_name]
    if missing:
        raise DatasetError(
            f"split file {file}, split {split!r}: {dataset} has no sequence {', '.join(missing)}"
        )
    return [by_name[name] for name in splits[split]]
