"""One member's recurrent state at tracking time, with the paper's periodic reset.

docs/method.md, *LSTM reset* (the paper's §4.1 and the authors' code, after Re3): at tracking time the LSTM
state is reset every 32 frames to the state saved after the first prediction (t = 1). The student was
trained on 32-frame clips, so an LSTM state that has run much longer than that is outside what it has
seen; the state after the first prediction is a "just initialised on this target" state to return to.

Every member whose state goes through the student keeps its own stream: the student in TRAS and TRAST,
each teacher in TRAST and TRASFUST (the teacher's states are a different sequence of crops, so they
must not share the student's memory).

Counting: predictions are numbered 1, 2, … from the stream's creation. Prediction 1 starts from the
all-zero state; the state it returns is saved. Predictions 2 to 32 chain as usual; after prediction 32
(and 64, 96, …) the stream returns to the saved state, so predictions 33, 65, … start from it.
"""

from __future__ import annotations

import torch

from tracking_by_trackers.policies.student_model import LSTMState

__all__ = ["RESET_INTERVAL", "LSTMStream", "advance_streams", "stack_states"]

RESET_INTERVAL = 32
"""Predictions between two resets of a stream's LSTM state (the training clip length)."""


class LSTMStream:
    """The LSTM state ``(h, c)``, each ``(1, H)``, that one member's next prediction starts from.

    Args:
        initial_state: The state of prediction 1 (the network's all-zero state for batch size 1).
        reset_interval: Predictions between resets; see the module docstring.
    """

    def __init__(self, initial_state: LSTMState, reset_interval: int = RESET_INTERVAL):
        if reset_interval < 1:
            raise ValueError(f"reset_interval must be at least 1, got {reset_interval}")
        self.reset_interval = int(reset_interval)
        self.state: LSTMState = initial_state
        self.saved_state: LSTMState | None = None
        self.predictions = 0

    def advance(self, new_state: LSTMState) -> None:
        """Record the state returned by the prediction just made from :attr:`state`."""
        self.predictions += 1
        if self.predictions == 1:
            self.saved_state = new_state
        if self.predictions % self.reset_interval == 0:
            self.state = self.saved_state
        else:
            self.state = new_state


def stack_states(streams: list[LSTMStream]) -> LSTMState:
    """The streams' states as one batch ``(h, c)``, each ``(len(streams), H)``, in stream order."""
    return torch.cat([s.state[0] for s in streams]), torch.cat([s.state[1] for s in streams])


def advance_streams(streams: list[LSTMStream], new_state: LSTMState) -> None:
    """Hand row ``i`` of a batched new state to ``streams[i]``."""
    h, c = new_state
    for row, stream in enumerate(streams):
        stream.advance((h[row : row + 1], c[row : row + 1]))
