"""Teacher and tracker names → factories of fresh tracker objects, for command lines and configs.

A *spec* names one tracker:

- a built-in name: ``identity`` or an OpenCV kind (``kcf``, ``csrt``, ``mosse``, ``medianflow``, ``mil``,
  ``tld``, ``boosting``);
- an OpenCV DNN tracker (``nano``, ``nano_v2``, ``nano_v1``, ``vit``, ``dasiamrpn``), whose model files are
  looked up in ``model_dir``, else in the folder named by the environment variable ``TBT_MODEL_DIR``;
- ``results:<TRACKER>``: stored results of a published tracker replayed from ``results_root`` (the GOT-10k
  toolkit's layout), e.g. ``results:ECO``;
- the plug-in point, ``<module>:<attribute>``: any importable callable that returns an object with
  ``init``/``update``, e.g. ``my_lab.trackers:make_dimp``. It must be importable on every Ray worker, which
  is what makes it work on a cluster. Its objects are wrapped into the tracker protocol by
  :class:`~tracking_by_trackers.teachers.tracker.PluginTracker`, under the attribute's name (``make_dimp``).

Factories are picklable (``functools.partial`` of importable functions), so Ray can ship them to actors.
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path

from tracking_by_trackers.teachers.identity_tracker import IdentityTracker
from tracking_by_trackers.teachers.opencv_dnn_trackers import DNN_TRACKER_KINDS, make_dnn_tracker
from tracking_by_trackers.teachers.opencv_trackers import OPENCV_TRACKER_KINDS, make_opencv_tracker
from tracking_by_trackers.teachers.results_teacher import ResultsTeacher
from tracking_by_trackers.teachers.tracker import (
    Tracker,
    TrackerFactory,
    check_plugin_class,
    make_plugin_tracker,
)

RESULTS_PREFIX = "results:"

_BUILT_IN: dict[str, TrackerFactory] = {
    "identity": IdentityTracker,
    **{kind: functools.partial(make_opencv_tracker, kind) for kind in OPENCV_TRACKER_KINDS},
}


def tracker_names() -> tuple[str, ...]:
    """The built-in names (DNN kinds, ``results:`` and plug-ins come on top)."""
    return (*_BUILT_IN, *DNN_TRACKER_KINDS)


def _plugin_factory(spec: str) -> tuple[str, TrackerFactory]:
    """The plug-in's name and a factory of its objects wrapped as :class:`~tracking_by_trackers.teachers.tracker.PluginTracker`."""
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"cannot import tracker plug-in {spec!r}: {error}") from None
    if not callable(factory):
        raise ValueError(f"tracker plug-in {spec!r} is not callable")
    check_plugin_class(spec, factory)
    return attribute, functools.partial(make_plugin_tracker, attribute, spec, factory)


MODEL_DIR_ENV = "TBT_MODEL_DIR"
"""The environment variable that names the model folder when no ``model_dir`` is given."""


def resolve_model_dir(model_dir: str | Path | None) -> str | None:
    """``model_dir``, else ``$TBT_MODEL_DIR``, else None (resolved on the driver: workers get the path)."""
    if model_dir is not None:
        return str(model_dir)
    return os.environ.get(MODEL_DIR_ENV) or None


def tracker_factory(
    spec: str, *, results_root: str | Path | None = None, model_dir: str | Path | None = None
) -> tuple[str, TrackerFactory]:
    """``(name, factory)`` for a tracker spec (see the module docstring); checks the spec now, not on a worker."""
    spec = spec.strip()
    if spec in _BUILT_IN:
        return spec, _BUILT_IN[spec]
    if spec in DNN_TRACKER_KINDS:
        model_dir = resolve_model_dir(model_dir)
        if model_dir is None:
            raise ValueError(
                f"tracker {spec!r} is an OpenCV DNN tracker: give the folder of its model files "
                f"(--model-dir, the config's model_dir, or ${MODEL_DIR_ENV})"
            )
        make_dnn_tracker(
            spec, model_dir
        )  # fails here, with the list of missing files, rather than on every worker
        return spec, functools.partial(make_dnn_tracker, spec, model_dir)
    if spec.startswith(RESULTS_PREFIX):
        tracker = spec[len(RESULTS_PREFIX) :]
        if results_root is None:
            raise ValueError(f"{spec!r} replays stored results: give their root folder (--results-root)")
        if not tracker:
            raise ValueError(f"{spec!r} names no tracker; write results:<TRACKER>, e.g. results:ECO")
        return tracker, functools.partial(ResultsTeacher, results_root, tracker)
    if ":" in spec:
        return _plugin_factory(spec)
    raise ValueError(
        f"unknown tracker {spec!r}; known trackers: {', '.join(tracker_names())}, results:<TRACKER>, "
        "or a plug-in <module>:<callable>"
    )


def make_tracker(name: str) -> Tracker:
    """A fresh built-in tracker (one per video: trackers keep state)."""
    return tracker_factory(name)[1]()


def parse_tracker_specs(
    specs: str, *, results_root: str | Path | None = None, model_dir: str | Path | None = None
) -> dict[str, TrackerFactory]:
    """``"kcf,csrt,results:ECO"`` → ``{name: factory}`` in order, checking every spec and name clashes."""
    items = [item.strip() for item in specs.split(",") if item.strip()]
    if not items:
        raise ValueError("no tracker named; give a comma-separated list such as kcf,csrt,mosse")
    factories: dict[str, TrackerFactory] = {}
    for item in items:
        name, factory = tracker_factory(item, results_root=results_root, model_dir=model_dir)
        if name in factories:
            raise ValueError(f"tracker list {specs!r} names {name!r} twice")
        factories[name] = factory
    return factories
