"""The tracking MDP (docs/method.md, *The tracking MDP*; the paper's §3.2) as a Gymnasium environment."""

from __future__ import annotations

import logging
from typing import Any

import cv2
import gymnasium as gym
import numpy as np

from tracking_by_trackers.envs.boxes import action_between, apply_action, iou, is_valid, reward
from tracking_by_trackers.envs.clip_sources import Clip, ClipSource, synthetic_clip_source
from tracking_by_trackers.envs.crops import DEFAULT_CONTEXT, DEFAULT_CROP_SIZE, crop_state
from tracking_by_trackers.envs.sample_keys import (
    BEST_TEACHER,
    BOX,
    CLIP_LENGTH_OPTION,
    FRAME,
    GT_ACTION,
    GT_BOX,
    HAS_TEACHER,
    IOU,
    NO_ACTION,
    NO_TEACHER_REWARD,
    TARGET_PRESENT,
    TEACHER_ACTION,
    TEACHER_BOXES,
    TEACHER_REWARD,
)
from tracking_by_trackers.envs.sequence import DatasetError, read_frame

logger = logging.getLogger(__name__)

DEFAULT_CLIP_LENGTH = 32
# Clips drawn in a row at reset, each with a frame that cannot be read, before the env gives up: one bad
# video among many is skipped, a source whose videos are all unreadable is an error.
MAX_BAD_CLIPS = 10


class TrackingEnv(gym.Env):
    """Single-object tracking as an MDP: move the previous box onto the target in the next frame.

    ## Description

    The MDP of "Tracking-by-Trackers with a Distilled and Reinforced Model" (Dunnhofer et al., ACCV 2020).
    An episode is one clip of a video. The agent starts from the ground-truth box of the clip's first frame,
    and at each step sees the region around its previous box in the previous and the current frame and
    outputs a relative box correction.

    ## Action Space

    ``Box(-1, 1, (4,), float32)``: ``[Δx, Δy, Δw, Δh]``, relative to the previous box's size.
    The new box is ``ψ(a, b_{t-1})``: ``x + Δx·w, y + Δy·h, w + Δw·w, h + Δh·h``, clipped to the image
    (at least one pixel wide and high).

    ## Observation Space

    ``Box(0, 255, (2, S, S, 3), uint8)``: the state ρ, two RGB crops (index 0 from frame t−1, index 1 from
    frame t) of the region around ``b_{t-1}`` widened by the context factor ``c`` and resized to S×S.
    Pixels outside the image are zero. Crops stay uint8 so that observations are 4× smaller on the wire
    (Ray ships them between processes); the model normalises with ImageNet statistics.

    ## Rewards

    ``r_t = ω(IoU(b_t, g_t))`` if the IoU is at least 0.5, else −1, with ``ω(z) = 2·floor_0.05(z) − 1``
    (the paper's eq. 2): between −1 and 1. Frames on which the target is absent (or not annotated) give 0.

    ## Starting State

    A clip of ``clip_length`` frames is drawn from the clip source with ``self.np_random``; ``b_0`` is the
    clip's first ground-truth box. The first observation is the state for frame 1.
    ``reset(options={"clip_length": n})`` draws a shorter clip for this one episode (a curriculum); any
    other option is an error.

    ## Episode End

    The episode terminates after ``len(clip) − 1`` steps, when the clip's last frame has been tracked.
    There is no truncation but for bad input (below): the clip length, not a time limit, bounds the
    episode (a curriculum shortens it with ``reset(options={"clip_length": n})``), so the env is
    registered without ``max_episode_steps``.
    The observation returned at termination repeats the last frame and carries no training target.

    Bad input is skipped, not raised inside the env runner (docs/bad_input.md): a clip whose
    first two frames cannot be read (missing, undecodable, or of another size than frame 0) is replaced by
    another draw at reset, and a frame that cannot be read later truncates the episode there; both are
    logged with the clip, the frame and the file. ``reset`` raises only when :data:`MAX_BAD_CLIPS` clips in
    a row are bad.

    ## Info

    Every ``reset`` and ``step`` returns an ``info`` about the observation it returns, that is about
    the state the next action will be taken in (RLlib stores infos aligned with observations). Its keys
    are ``tracking_by_trackers.envs.sample_keys.TRACKING_INFO_KEYS`` (and ``TEACHER_BOXES``):

    - ``box``: ``b_{t-1}``, the box the crops are centred on (float32 ``(4,)``).
    - ``iou``: ``IoU(b_{t-1}, g_{t-1})``, how well the last step did (1 at reset).
    - ``frame``: t, the index in the clip of the frame the next action is for.
    - ``gt_box``: ``g_t`` (NaN where the target is absent or at termination).
    - ``target_present``: whether ``g_t`` is a valid box of a present target.
    - ``gt_action``: ``φ(g_t, b_{t-1})``, the ground-truth action (zeros where the target is absent).
    - ``has_teacher``: whether some teacher has a box on frame t (and the target is present).
    - ``teacher_boxes``: teacher name → ``b_t^(T)`` (only when the clip has teachers; NaN where unusable).
    - ``best_teacher``: the teacher with the highest ``IoU(b_t^(T), g_t)`` (the paper's eq. 4), or ``""``.
    - ``teacher_action``: ``φ(b_t^(T*), b_{t-1})`` for the best teacher T* (zeros without one).
    - ``teacher_reward``: ``r(ψ(a_t^(T*), b_{t-1}), g_t)``, the reward the teacher's action would earn;
      −1 (``NO_TEACHER_REWARD``) without a teacher. The distillation mask is ``teacher_reward > reward``.

    ## Arguments

    ```python
    import gymnasium as gym
    import tracking_by_trackers.envs  # registers the environment

    env = gym.make("TrackingMDP-v0", clip_source=None, clip_length=32, crop_size=128, context=1.5)
    ```

    - ``clip_source``: a :class:`~tracking_by_trackers.envs.clip_sources.ClipSource`; ``None`` builds the embedded default,
      clips of procedurally generated videos.
    - ``clip_length``: frames per clip (an episode has one step fewer).
    - ``crop_size``: S, the side of each crop (128 in the paper).
    - ``context``: c, the context factor of the crops (1.5 in the paper).
    - ``render_mode``: ``None`` or ``"rgb_array"`` (the current frame with the ground truth in green, the
      agent's box in red and the teachers' boxes in thin yellow).

    ## Version History

    - v0: Initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        clip_source: ClipSource | None = None,
        clip_length: int = DEFAULT_CLIP_LENGTH,
        crop_size: int = DEFAULT_CROP_SIZE,
        context: float = DEFAULT_CONTEXT,
        render_mode: str | None = None,
    ):
        if clip_length < 2:
            raise ValueError(f"clip_length must be at least 2 frames, got {clip_length}")
        if crop_size < 1 or context <= 0:
            raise ValueError(f"crop_size must be >= 1 and context > 0, got {crop_size} and {context}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.clip_source = clip_source if clip_source is not None else synthetic_clip_source()
        self.clip_length = clip_length
        self.crop_size = crop_size
        self.context = context
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0, 255, (2, crop_size, crop_size, 3), np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self._clip: Clip | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        unknown = sorted(set(options) - {CLIP_LENGTH_OPTION})
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; the only option is {CLIP_LENGTH_OPTION!r}")
        length = int(options.get(CLIP_LENGTH_OPTION, self.clip_length))
        self._clip, self._previous_frame, self._frame = self._readable_clip(length)
        self._teacher_names = sorted(self._clip.teacher_boxes)
        self._best_teachers = self._best_teacher_per_frame(self._clip)
        self._t = 1
        self._box = self._clip.gt_boxes[0].copy()
        self._last_iou = 1.0
        return self._observation(), self._info()

    def _readable_clip(self, length: int) -> tuple[Clip, np.ndarray, np.ndarray]:
        """A clip drawn from the source and its first two frames, skipping clips whose frames are bad."""
        for _ in range(MAX_BAD_CLIPS):
            clip = self.clip_source.sample(self.np_random, length)
            try:
                first = read_frame(clip.frames, 0, f"clip {clip.name}")
                return clip, first, read_frame(clip.frames, 1, f"clip {clip.name}", first.shape[:2])
            except DatasetError as error:
                logger.warning("skipping a clip with bad input: %s", error)
                last_error = error
        raise DatasetError(f"{MAX_BAD_CLIPS} clips drawn in a row had bad input; the last: {last_error}")

    def step(self, action):
        if self._clip is None:
            raise RuntimeError("call reset() before step()")
        if self._t >= len(self._clip):
            raise RuntimeError("the episode has ended; call reset()")
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (4,) or not np.isfinite(action).all():
            raise ValueError(f"action must be 4 finite numbers, got {action!r}")
        gt_box = self._clip.gt_boxes[self._t]
        self._box = apply_action(action, self._box, image_hw=self._frame.shape[:2])
        step_reward = float(reward(self._box, gt_box))
        self._last_iou = float(iou(self._box, gt_box))
        self._t += 1
        terminated = self._t >= len(self._clip)
        truncated = False
        self._previous_frame = self._frame
        if not terminated:
            try:
                where = f"clip {self._clip.name}"
                self._frame = read_frame(self._clip.frames, self._t, where, self._frame.shape[:2])
            except DatasetError as error:
                # The observation then repeats the last good frame; a truncated episode bootstraps from it.
                logger.warning("ending an episode early on bad input: %s", error)
                truncated = True
        return self._observation(), step_reward, terminated, truncated, self._info()

    def render(self):
        if self.render_mode != "rgb_array" or self._clip is None:
            return None
        canvas = self._frame.copy()
        t = min(self._t, len(self._clip) - 1)
        for name in self._teacher_names:
            self._draw(canvas, self._clip.teacher_boxes[name][t], (255, 220, 0), 1)
        self._draw(canvas, self._clip.gt_boxes[t], (0, 255, 0), 2)
        self._draw(canvas, self._box, (255, 0, 0), 2)
        return canvas

    @staticmethod
    def _draw(canvas: np.ndarray, box: np.ndarray, color: tuple[int, int, int], thickness: int) -> None:
        if is_valid(box):
            x, y, w, h = np.round(box).astype(int)
            cv2.rectangle(canvas, (x, y), (x + w, y + h), color, thickness)

    def _observation(self) -> np.ndarray:
        return crop_state(self._previous_frame, self._frame, self._box, self.context, self.crop_size)

    @staticmethod
    def _best_teacher_per_frame(clip: Clip) -> np.ndarray:
        """Index (into sorted teacher names) of the best teacher per frame, −1 where none is usable."""
        if not clip.teacher_boxes:
            return np.full(len(clip), -1)
        stacked = np.stack([clip.teacher_boxes[name] for name in sorted(clip.teacher_boxes)])  # (K, T, 4)
        usable = is_valid(stacked) & (is_valid(clip.gt_boxes) & ~clip.absent)[None]
        overlaps = np.where(usable, iou(stacked, clip.gt_boxes[None]), -np.inf)
        return np.where(usable.any(axis=0), overlaps.argmax(axis=0), -1)

    def _info(self) -> dict[str, Any]:
        t, clip, box = self._t, self._clip, self._box
        in_clip = t < len(clip)
        gt_box = clip.gt_boxes[t] if in_clip else np.full(4, np.nan)
        present = bool(in_clip and is_valid(gt_box) and not clip.absent[t])
        best = int(self._best_teachers[t]) if present else -1
        info = {
            BOX: box.astype(np.float32),
            IOU: self._last_iou,
            FRAME: t,
            GT_BOX: gt_box.astype(np.float32),
            TARGET_PRESENT: present,
            GT_ACTION: (action_between(box, gt_box) if present else NO_ACTION).astype(np.float32),
            HAS_TEACHER: best >= 0,
            BEST_TEACHER: self._teacher_names[best] if best >= 0 else "",
            TEACHER_ACTION: NO_ACTION.copy(),
            TEACHER_REWARD: NO_TEACHER_REWARD,
        }
        if self._teacher_names:
            info[TEACHER_BOXES] = {
                name: (clip.teacher_boxes[name][t] if in_clip else np.full(4, np.nan)).astype(np.float32)
                for name in self._teacher_names
            }
        if best >= 0:
            teacher_action = action_between(box, clip.teacher_boxes[self._teacher_names[best]][t])
            teacher_box = apply_action(teacher_action, box, image_hw=self._frame.shape[:2])
            info[TEACHER_ACTION] = teacher_action.astype(np.float32)
            info[TEACHER_REWARD] = float(reward(teacher_box, gt_box))
        return info
