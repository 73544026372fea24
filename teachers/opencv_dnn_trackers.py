"""OpenCV's DNN trackers (NanoTrack, VitTrack, DaSiamRPN) as teachers, behind the GOT-10k toolkit's interface.

They behave exactly like the classic ones in :mod:`tracking_by_trackers.teachers.opencv_trackers` (RGB in, BGR at OpenCV's
edge, integer init rectangle, last good box and ``last_ok = False`` when OpenCV reports failure): the
:class:`DNNTracker` class is an :class:`~tracking_by_trackers.teachers.opencv_trackers.OpenCVTracker` whose cv2 object is built
from ONNX model files instead of a factory without arguments.

The model files are not shipped with OpenCV. :func:`make_dnn_tracker` looks them up in a folder by the
names OpenCV's samples (``samples/python/tracker.py``) and model zoo use (cv2 parameter = file name),
or takes explicit paths:

- ``nano``: ``backbone`` = ``nanotrack_backbone_sim.onnx``, ``neckhead`` = ``nanotrack_head_sim.onnx``, from
  HonglinChu/SiamTrackers on GitHub (``NanoTrack/models/nanotrackv2``).
- ``nano_v2`` and ``nano_v1``: NanoTrack v2 and v1 side by side in one pool. Their files have the names
  above, so each lives in its own folder: ``<model_dir>/v2/`` and ``<model_dir>/v1/`` (``model_dir`` the
  NanoTrack folder), or ``<model_dir>/nanotrack/v2/`` and ``…/v1/`` (``model_dir`` a models root, which
  also holds the student's pretrained backbone).
- ``vit``: ``net`` = ``object_tracking_vittrack_2023sep.onnx`` (the model zoo's name) or ``vitTracker.onnx``
  (OpenCV's default), from OpenCV's model zoo (``opencv_zoo/models/object_tracking_vittrack``) or
  opencv_extra (``testdata/dnn/onnx/models/vitTracker.onnx``).
- ``dasiamrpn``: ``model`` = ``dasiamrpn_model.onnx``, ``kernel_cls1`` = ``dasiamrpn_kernel_cls1.onnx``,
  ``kernel_r1`` = ``dasiamrpn_kernel_r1.onnx``, from the links at the top of OpenCV's
  ``samples/python/tracker.py``.

Errors, raised when the tracker is made rather than on its first ``init``, because
:func:`tracking_by_trackers.teachers.one_pass.track_sequence` would record a failed ``init`` as a failed sequence and go on:

- a missing file raises :class:`MissingModelFileError` (a :class:`FileNotFoundError`, and a
  :class:`ValueError` so that ``tbt`` reports it as a usage error) naming the tracker, every missing file by
  its full expected path, and where to get it;
- a file OpenCV cannot load or run (empty, truncated, not ONNX, another network) raises
  :class:`ValueError` naming the file(s) at fault and OpenCV's reason, never a bare ``cv2.error``; the models
  are run once on a blank image to find out, since a network of the wrong shape only fails when run. A
  network that has the right inputs and outputs but other weights (NanoTrack v1's head in v2's folder)
  runs, so it cannot be told from the right one.

Each message is one line (parts separated by ``;``), as ``tbt`` prints errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from tracking_by_trackers.teachers.opencv_trackers import OpenCVTracker


class MissingModelFileError(FileNotFoundError, ValueError):
    """A DNN tracker's model file is missing: bad input, so a ValueError too (``tbt``'s one-line errors)."""


@dataclass(frozen=True)
class _ModelSpec:
    """How to build one kind of DNN tracker: its cv2 class and the model file behind each parameter."""

    cv2_class: type
    params_class: type
    # cv2 parameter name → conventional file names, the preferred one first.
    files: dict[str, tuple[str, ...]]
    source: str
    # Sub-folders of model_dir searched, in order, for a kind that shares its file names with another.
    subfolders: tuple[str, ...] = ("",)


# NanoTrack's two versions share their file names, so each has its own folder under model_dir:
# <model_dir>/v2/ (model_dir is the NanoTrack folder) or <model_dir>/nanotrack/v2/ (a models root). The
# student's NanoTrack backbone looks for nanotrackv2.pth in the same folders.
NANOTRACK_SUBFOLDERS: dict[str, tuple[str, ...]] = {
    version: (version, f"nanotrack/{version}") for version in ("v2", "v1")
}
_NANOTRACK = _ModelSpec(
    cv2.TrackerNano,
    cv2.TrackerNano_Params,
    {"backbone": ("nanotrack_backbone_sim.onnx",), "neckhead": ("nanotrack_head_sim.onnx",)},
    "https://github.com/HonglinChu/SiamTrackers/tree/master/NanoTrack/models/nanotrackv2 "
    "(linked from OpenCV's samples/python/tracker.py)",
)

_SPECS: dict[str, _ModelSpec] = {
    "nano": _NANOTRACK,
    **{
        f"nano_{version}": replace(
            _NANOTRACK,
            source=f"https://github.com/HonglinChu/SiamTrackers/tree/master/NanoTrack/models/nanotrack{version}",
            subfolders=subfolders,
        )
        for version, subfolders in NANOTRACK_SUBFOLDERS.items()
    },
    "vit": _ModelSpec(
        cv2.TrackerVit,
        cv2.TrackerVit_Params,
        {"net": ("object_tracking_vittrack_2023sep.onnx", "vitTracker.onnx")},
        "OpenCV's model zoo, https://github.com/opencv/opencv_zoo/tree/main/models/object_tracking_vittrack, "
        "or opencv_extra, testdata/dnn/onnx/models/vitTracker.onnx",
    ),
    "dasiamrpn": _ModelSpec(
        cv2.TrackerDaSiamRPN,
        cv2.TrackerDaSiamRPN_Params,
        {
            "model": ("dasiamrpn_model.onnx",),
            "kernel_cls1": ("dasiamrpn_kernel_cls1.onnx",),
            "kernel_r1": ("dasiamrpn_kernel_r1.onnx",),
        },
        "the download links at the top of OpenCV's samples/python/tracker.py "
        "(https://github.com/opencv/opencv/blob/4.x/samples/python/tracker.py)",
    ),
}

DNN_TRACKER_KINDS: tuple[str, ...] = tuple(_SPECS)
"""The kinds :func:`make_dnn_tracker` accepts."""

# The blank image and box the models are run on once, when a tracker is made.
_PROBE_SIDE = 64
_PROBE_RECT = (16, 16, 32, 32)


def _spec(kind: str) -> _ModelSpec:
    if kind not in _SPECS:
        raise ValueError(
            f"unknown OpenCV DNN tracker kind {kind!r}; valid kinds: {', '.join(DNN_TRACKER_KINDS)}"
        )
    return _SPECS[kind]


def _absolute(path: str | Path) -> Path:
    return Path(path).expanduser().absolute()


def find_model_files(
    kind: str, model_dir: str | Path | None = None, **model_paths: str | Path
) -> dict[str, Path]:
    """The model file behind every cv2 parameter of ``kind``, as absolute paths that exist.

    Args:
        kind: One of :data:`DNN_TRACKER_KINDS`.
        model_dir: A folder holding the files under their conventional names (module docstring).
        **model_paths: Explicit files by cv2 parameter name (``backbone=…``); they win over ``model_dir``.

    Raises:
        ValueError: An unknown kind or parameter name.
        MissingModelFileError: Some file is missing or not given; the message lists every one of them.
    """
    spec = _spec(kind)
    unknown = sorted(set(model_paths) - set(spec.files))
    if unknown:
        raise ValueError(
            f"OpenCV DNN tracker {kind!r} has no model file parameter {', '.join(unknown)}; "
            f"its parameters are {', '.join(spec.files)}"
        )
    found: dict[str, Path] = {}
    missing: list[str] = []
    for param, names in spec.files.items():
        if param in model_paths:
            candidates = [_absolute(model_paths[param])]
        elif model_dir is not None:
            candidates = [
                _absolute(Path(model_dir) / folder / name) for folder in spec.subfolders for name in names
            ]
        else:
            where = " or ".join(names)
            missing.append(f"{param}: not given (pass {param}=<path> or a model_dir holding {where})")
            continue
        existing = [path for path in candidates if path.is_file()]
        if existing:
            found[param] = existing[0]
        else:
            missing.append(f"{param}: {' or '.join(str(path) for path in candidates)}")
    if missing:
        raise MissingModelFileError(
            f"OpenCV DNN tracker {kind!r} is missing {len(missing)} model file(s): "
            + "; ".join(missing)
            + f"; get them from {spec.source}"
        )
    return found


def _opencv_reason(error: cv2.error) -> str:
    """OpenCV's message without its version and source-file prefix."""
    message = " ".join(str(error).split())
    return message.split(" error: ", 1)[-1]


def _unloadable_files(files: Mapping[str, Path]) -> list[str]:
    """The files OpenCV's ONNX importer rejects on their own, each with OpenCV's reason."""
    rejected = []
    for param, path in files.items():
        try:
            cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as error:
            rejected.append(f"{param}: {path}: {_opencv_reason(error)}")
    return rejected


class DNNTracker(OpenCVTracker):
    """One OpenCV DNN tracker with the GOT-10k toolkit's ``init`` / ``update`` interface.

    Updating, failure handling and ``last_ok`` are :class:`~tracking_by_trackers.teachers.opencv_trackers.OpenCVTracker`'s. The
    models are loaded and run once on a blank image when the tracker is made, so that a bad file fails
    here; each ``init`` loads them afresh, because OpenCV trackers are not re-initialised (see
    :mod:`tracking_by_trackers.teachers.opencv_trackers`).

    Attributes:
        name: The name results are stored under (the kind unless given).
        kind: One of :data:`DNN_TRACKER_KINDS`.
        model_files: cv2 parameter name → absolute model file path.
        last_ok: Whether OpenCV reported success on the last :meth:`update` (True right after :meth:`init`).
        last_score: OpenCV's tracking score after the last :meth:`update` (NaN before). NanoTrack's is close
            to constant, so only VitTrack's and DaSiamRPN's say much.

    Raises:
        MissingModelFileError: A model file is missing.
        ValueError: OpenCV cannot load or run the model files; the message names the file(s).
    """

    def __init__(self, kind: str, model_files: Mapping[str, str | Path], name: str | None = None):
        super().__init__(kind, name)
        self.model_files = find_model_files(kind, **model_files)
        self.last_score = float("nan")
        self._check_models()

    def _checked_kind(self, kind: str) -> str:
        self._spec = _spec(kind)
        return kind

    def _model_error(self, error: cv2.error) -> ValueError:
        # OpenCV's message may not name the file (an empty one fails an assertion), so find it ourselves.
        culprits = _unloadable_files(self.model_files)
        if not culprits:
            # Each file loads on its own: one holds another network than its parameter wants.
            culprits = [f"{param}: {path}" for param, path in self.model_files.items()]
            culprits.append(f"OpenCV said: {_opencv_reason(error)}")
            culprits.append(f"is each file the {self.kind} network its parameter names?")
        return ValueError(
            f"OpenCV DNN tracker {self.kind!r} cannot load or run its model file(s): "
            + "; ".join(culprits)
            + f"; get working files from {self._spec.source}"
        )

    def _new_cv2_tracker(self):
        params = self._spec.params_class()
        for param, path in self.model_files.items():
            setattr(params, param, str(path))
        # OpenCV 5's DNN engine warns on every create that it ignores the (default) target: three log lines
        # per video and teacher, with nothing for the user to do. Errors still show.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            return self._spec.cv2_class.create(params)
        except cv2.error as error:
            raise self._model_error(error) from None
        finally:
            cv2.utils.logging.setLogLevel(level)

    def _check_models(self) -> None:
        # A network of the wrong shape loads fine and only fails on its first forward pass, in init.
        try:
            self._new_cv2_tracker().init(np.zeros((_PROBE_SIDE, _PROBE_SIDE, 3), np.uint8), _PROBE_RECT)
        except cv2.error as error:
            raise self._model_error(error) from None

    def init(self, image: np.ndarray, box) -> None:
        """Start tracking ``box`` (float ``[x, y, w, h]``) in the RGB ``image``; call again for each video."""
        super().init(image, box)
        self.last_score = float("nan")

    def update(self, image: np.ndarray) -> np.ndarray:
        """Track into the next RGB ``image``; the new box, or the last good one if OpenCV lost the target."""
        box = super().update(image)
        self.last_score = float(self._tracker.getTrackingScore())
        return box


def make_dnn_tracker(
    kind: str, model_dir: str | Path | None = None, *, name: str | None = None, **model_paths: str | Path
) -> DNNTracker:
    """A fresh, uninitialised OpenCV DNN tracker of ``kind`` (one of :data:`DNN_TRACKER_KINDS`).

    Args:
        kind: ``"nano"``, ``"vit"`` or ``"dasiamrpn"``.
        model_dir: A folder holding the model files under their conventional names (module docstring).
        name: The name results are stored under; the kind unless given.
        **model_paths: Explicit model files by cv2 parameter name, e.g. ``backbone=…, neckhead=…`` for
            ``"nano"``; they win over ``model_dir``.

    Raises:
        ValueError: An unknown kind or parameter name, or a model file OpenCV cannot load or run.
        MissingModelFileError: Some model file is missing; the message lists every one and where to get them.
    """
    return DNNTracker(kind, find_model_files(kind, model_dir, **model_paths), name=name)
