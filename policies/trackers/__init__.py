"""The trained student at work: TRAS, TRAST and TRASFUST (docs/method.md, *Tracking*; the paper's §3.5).

Why here, in ``policies/trackers/``: the trackers are the student policy used at inference time, so they
live beside the network they run (``policies/student_model.py``) and the export they load
(``policies/student_export.py``); the project's top-level packages are fixed (``envs``, ``policies``,
``teachers``, ``cluster``, ``experiments``), and ``teachers/`` is about the trackers the student learns
FROM. Evaluation, reports and ``tbt track`` (``experiments/``) only build trackers through
:mod:`tracking_by_trackers.policies.trackers.factory`.

- :mod:`~tracking_by_trackers.policies.trackers.lstm_stream`: one member's LSTM state with the 32-frame reset;
- :mod:`~tracking_by_trackers.policies.trackers.student_tracker`: the shared base: device, frames, the batched forward pass;
- :mod:`~tracking_by_trackers.policies.trackers.tras`, :mod:`~tracking_by_trackers.policies.trackers.trast`, :mod:`~tracking_by_trackers.policies.trackers.trasfust`:
  the three trackers and their selection rules;
- :mod:`~tracking_by_trackers.policies.trackers.teacher_members`, :mod:`~tracking_by_trackers.policies.trackers.teacher_runner`: teachers beside
  the student (their boxes and failures; threads, Ray actors or inline);
- :mod:`~tracking_by_trackers.policies.trackers.factory`: specs such as ``trasfust:kcf+csrt`` → picklable factories.
"""

from tracking_by_trackers.policies.trackers.factory import (
    STUDENT_MODES,
    is_student_tracker_spec,
    student_tracker_factory,
)
from tracking_by_trackers.policies.trackers.student_tracker import (
    INIT_CHOICE,
    STUDENT,
    StudentTracker,
    resolve_device,
)
from tracking_by_trackers.policies.trackers.tras import TRAS
from tracking_by_trackers.policies.trackers.trasfust import TRASFUST
from tracking_by_trackers.policies.trackers.trast import TRAST

__all__ = [
    "INIT_CHOICE",
    "STUDENT",
    "STUDENT_MODES",
    "TRAS",
    "TRASFUST",
    "TRAST",
    "StudentTracker",
    "is_student_tracker_spec",
    "resolve_device",
    "student_tracker_factory",
]
