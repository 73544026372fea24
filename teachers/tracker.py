"""The contract every tracker follows: the GOT-10k toolkit's ``init(image, box)``, ``update(image) -> box``.

Teachers, the identity baseline, stored results and the student's own trackers (TRAS, TRAST, TRASFUST)
all go through the same code (:func:`tracking_by_trackers.teachers.one_pass.track_sequence`, the teacher runners of
:mod:`tracking_by_trackers.policies.trackers.teacher_runner`, ``tbt track``), so that code relies on one explicit contract
instead of probing each object for what it happens to have:

- :class:`Tracker`: the protocol, its required part (``name``, ``init``, ``update``) and the optional parts
  the code uses (``last_ok``, ``prepare``, ``close``);
- :class:`BaseTracker`: the defaults of the optional parts, which every built-in tracker inherits;
- :class:`PluginTracker`: a plug-in's object (``<module>:<callable>`` in :mod:`tracking_by_trackers.teachers.registry`, anything
  with ``init``/``update``) wrapped into the protocol;
- :class:`FusingTracker`: a tracker whose box on each frame is one of its members' boxes and which records
  whose (the student's trackers), for ``tbt track``'s labels and colours.

Images are RGB ``uint8`` arrays (the project's one image convention) and boxes float ``[x, y, w, h]``
numpy arrays.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from tracking_by_trackers.envs.sequence import Sequence

__all__ = [
    "BaseTracker",
    "FusingTracker",
    "PluginTracker",
    "Tracker",
    "TrackerFactory",
    "check_plugin_class",
    "check_tracker",
    "make_plugin_tracker",
]


@runtime_checkable
class Tracker(Protocol):
    """What every tracker has. Subclass :class:`BaseTracker` to get the optional parts' defaults.

    Attributes:
        name: The name results are stored under, and recorded when a student tracker outputs its box.
        last_ok: Whether the last ``update`` succeeded by the tracker's own judgement (OpenCV's trackers say
            so on low confidence); a False frame counts as failed even when the box is valid. True for a
            tracker that cannot tell.
    """

    name: str
    last_ok: bool

    def prepare(self, sequence: Sequence) -> None:
        """Called before each ``init`` with the sequence about to be tracked.

        For trackers that must know which video they are on (stored results, scripted teachers reading the
        ground truth); the others do nothing.
        """

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        """Start tracking ``box`` in ``image`` (frame 0 of a video); called again for each video."""

    def update(self, image: np.ndarray) -> np.ndarray:
        """The target's box in the next frame ``image``."""

    def close(self) -> None:
        """Release what the tracker holds (threads, Ray actors); it is not used afterwards."""


@runtime_checkable
class FusingTracker(Tracker, Protocol):
    """A tracker whose box on each frame is one of its members' boxes (the student or a teacher), and that
    records whose.

    TRAST and TRASFUST choose among the student and their teachers; TRAS is the case of one member, the
    student.

    Attributes:
        choices: Per frame since the last ``init``, the member whose box was output (``"init"`` on frame 0).
    """

    choices: list[str]

    @property
    def member_names(self) -> list[str]:
        """Every name :attr:`choices` may hold after frame 0."""


TrackerFactory = Callable[[], Tracker]
"""Makes a fresh tracker (one per video and process: trackers keep state)."""


class BaseTracker(abc.ABC):
    """The defaults of :class:`Tracker`'s optional parts; subclasses set ``name`` and write ``init`` and
    ``update``.

    ``last_ok`` is True (the tracker does not report failure itself), ``prepare`` ignores the sequence and
    ``close`` has nothing to release.
    """

    name: str
    last_ok: bool = True

    def prepare(self, sequence: Sequence) -> None:  # noqa: B027 (a default, meant to be overridden or not)
        """Nothing to do: this tracker does not need to know the video."""

    @abc.abstractmethod
    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        """Start tracking ``box`` in ``image``."""

    @abc.abstractmethod
    def update(self, image: np.ndarray) -> np.ndarray:
        """The target's box in the next frame ``image``."""

    def close(self) -> None:  # noqa: B027 (a default, meant to be overridden or not)
        """Nothing to release."""


# The protocol's attributes and methods, for the message of check_tracker.
_TRACKER_MEMBERS = (
    *Tracker.__annotations__,
    *(name for name, value in vars(Tracker).items() if callable(value) and not name.startswith("_")),
)


def check_tracker(tracker: object, role: str) -> Tracker:
    """``tracker`` itself when it follows :class:`Tracker`; a TypeError naming ``role`` and what is missing.

    Args:
        tracker: The object to check.
        role: What the object is there for, for the message (``"teacher of trast"``).
    """
    if isinstance(tracker, Tracker):
        return tracker
    missing = [name for name in _TRACKER_MEMBERS if getattr(tracker, name, None) is None]
    raise TypeError(
        f"the {role} ({type(tracker).__name__}) is not a Tracker: it has no {', '.join(missing)}; "
        "subclass tracking_by_trackers.teachers.tracker.BaseTracker, or name it as a plug-in <module>:<callable> so that "
        "tracking_by_trackers.teachers.registry wraps it"
    )


def _missing_methods(candidate: object) -> list[str]:
    return [method for method in ("init", "update") if not callable(getattr(candidate, method, None))]


def check_plugin_class(spec: str, factory: object) -> None:
    """For a plug-in that is a class, check now that its objects will have ``init`` and ``update``.

    A plug-in that is a function can only be checked on the object it returns (:class:`PluginTracker`);
    it is not called here, because making a tracker may need what only a worker has (a GPU, model files).
    """
    if isinstance(factory, type) and _missing_methods(factory):
        raise ValueError(_plugin_error(spec, factory.__name__, _missing_methods(factory)))


def _plugin_error(spec: str, made: str, missing: list[str]) -> str:
    return (
        f"tracker plug-in {spec!r} gives {made} objects, which have no {' or '.join(missing)} method: a "
        "plug-in must return an object with init(image, box) and update(image) -> [x, y, w, h]"
    )


class PluginTracker(BaseTracker):
    """A plug-in's tracker object behind :class:`Tracker`: the name the spec gives it, defaults for the rest.

    The plug-in point takes any object with ``init`` and ``update`` (the GOT-10k toolkit's interface), so
    this adapter is the one place that looks at what else the object has: its own ``prepare`` and
    ``close`` are forwarded when it defines them, and so is a ``last_ok`` it sets; otherwise the
    :class:`BaseTracker` defaults apply. Its own ``name``, if any, gives way to the spec's, the name its
    results and choices are stored under.

    Args:
        name: The name from the plug-in spec (:func:`tracking_by_trackers.teachers.registry.tracker_factory`).
        tracker: The object the plug-in returned.
        spec: The plug-in spec (``my_lab.trackers:make_dimp``), for the error; ``name`` when not given.

    Raises:
        TypeError: The object has no ``init`` or ``update`` method; the message names the plug-in.
    """

    def __init__(self, name: str, tracker: object, *, spec: str | None = None):
        missing = _missing_methods(tracker)
        if missing:
            raise TypeError(_plugin_error(spec or name, type(tracker).__name__, missing))
        self.name = name
        self.tracker = tracker

    @property
    def last_ok(self) -> bool:
        """The plug-in's own ``last_ok`` after the last update, True when it sets none."""
        return bool(getattr(self.tracker, "last_ok", True))

    def prepare(self, sequence: Sequence) -> None:
        prepare = getattr(self.tracker, "prepare", None)
        if prepare is not None:
            prepare(sequence)

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        self.tracker.init(image, box)

    def update(self, image: np.ndarray) -> np.ndarray:
        return self.tracker.update(image)

    def close(self) -> None:
        close = getattr(self.tracker, "close", None)
        if close is not None:
            close()


def make_plugin_tracker(name: str, spec: str, factory: Callable[[], object]) -> PluginTracker:
    """A fresh plug-in tracker: ``factory()``'s object wrapped as :class:`PluginTracker` under ``name``."""
    return PluginTracker(name, factory(), spec=spec)
