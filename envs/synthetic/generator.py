"""Procedural tracking videos: :class:`SyntheticConfig`, :func:`generate_sequence`, :func:`generate_dataset`.

A video is planned first (every object's trajectory, size, angle and texture, the camera path, the light),
then rendered frame by frame (:mod:`.render`). All randomness comes from one ``np.random.default_rng(seed)``
drawn in a fixed order, so a seed gives bit-identical frames and boxes on every run.

What is in a video (all present at the default difficulty; one knob, ``difficulty`` in [0, 1], scales how
often and how strongly each happens):

- a textured target (rectangle or ellipse, procedural pattern) moving smoothly with random accelerations and
  occasional fast bursts, changing scale, aspect ratio, in-plane angle and, slowly, its appearance;
- look-alike distractors (the target's texture family, a shifted palette), some crossing the target's path,
  a few passing in front of it;
- occluders (background-like textured slabs) passing in front of the target, partly or fully hiding it;
- a cluttered background seen through a panning and zooming camera;
- motion blur from the target's and the camera's speed, a drifting brightness / contrast / light gradient,
  and sensor noise;
- stretches where the target leaves the view and comes back.

Ground truth:

- ``gt_boxes`` is the axis-aligned box enclosing the whole (rotated) target, occluded parts included, clipped to
  the image (the convention of the real benchmarks, whose boxes stay inside the image).
- ``absent`` is True where less than :data:`ABSENT_VISIBILITY` of the target's area is visible (hidden by
  occluders or out of the view); there the box is NaN, as in the real readers (UAV123's NaN rows).
- ``attributes`` holds ``visibility``, the visible fraction per frame (like GOT-10k's ``cover``);
  ``out_of_view``, per frame, True where part of the target lies outside the image; ``num_distractors`` and
  ``num_occluders``; ``target_shape``; the seed and the resolved config.
- Frame 0 always shows the whole target, unoccluded, with a valid box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

from tracking_by_trackers.envs.sequence import InMemoryFrames, Sequence
from tracking_by_trackers.envs.synthetic import motion, render, shapes, textures

BENCHMARK = "synthetic"
"""The ``benchmark`` of every generated sequence."""

ABSENT_VISIBILITY = 0.1
"""A frame is marked absent when less than this fraction of the target's area is visible."""

# How often the target is a rectangle, an ellipse or a blob (the order of shapes.OUTLINES). Non-rectangular
# targets put background into the box, which trackers without a segmentation (KCF, MOSSE) learn as target.
_TARGET_OUTLINE_ODDS = (0.3, 0.3, 0.4)

# Each effect's value at difficulty 0 and at difficulty 1; a config in between interpolates linearly.
_EASY_HARD: dict[str, tuple[float, float]] = {
    "target_size": (64.0, 32.0),
    "target_speed": (1.2, 6.4),
    "speed_bursts": (0.0, 3.0),
    "burst_peak": (1.5, 4.0),
    "scale_change": (0.1, 0.5),
    "aspect_change": (0.05, 0.3),
    "rotation": (3.0, 27.0),
    "appearance_change": (0.0, 0.7),
    "camera_speed": (0.5, 6.5),
    "camera_zoom": (0.02, 0.25),
    "occlusions": (0.3, 4.0),
    "full_occlusion_prob": (0.05, 0.45),
    "distractors": (0.3, 3.0),
    "distractor_similarity": (0.3, 0.9),
    "clutter": (0.2, 1.0),
    "out_of_view_prob": (0.0, 0.3),
    "motion_blur": (0.2, 1.2),
    "illumination": (0.05, 0.45),
    "noise": (2.0, 14.0),
}

# Valid values of an overridden effect, where not just "at least 0".
_EFFECT_RANGES: dict[str, tuple[float, float]] = {
    "target_size": (4.0, np.inf),
    "burst_peak": (1.0, np.inf),
    "appearance_change": (0.0, 1.0),
    "full_occlusion_prob": (0.0, 1.0),
    "distractor_similarity": (0.0, 1.0),
    "clutter": (0.0, 1.0),
    "out_of_view_prob": (0.0, 1.0),
}


@dataclass
class SyntheticConfig:
    """How synthetic videos look. Effect fields left at None follow ``difficulty``; set one to override it.

    ``dataclasses.replace(config, difficulty=0.8)`` re-derives every effect still at None.
    """

    num_frames: int = 100
    """Frames per video."""
    height: int = 240
    """Frame height in pixels."""
    width: int = 320
    """Frame width in pixels."""
    difficulty: float = 0.5
    """The one knob in [0, 1]: 0 is a slow, clean, lonely target; 1 is fast, occluded, crowded, noisy."""
    target_size: float | None = None
    """Mean side of the target at frame 0, in pixels (each video draws from ±35 % around it)."""
    target_speed: float | None = None
    """Typical speed of the target in the image, pixels per frame."""
    speed_bursts: float | None = None
    """Expected number of bursts of fast motion per 100 frames."""
    burst_peak: float | None = None
    """How many times faster than usual the target moves at the height of a burst."""
    scale_change: float | None = None
    """Amplitude of the target's log-scale drift (0.5: between about 0.6x and 1.65x its first size)."""
    aspect_change: float | None = None
    """Amplitude of the target's log aspect-ratio drift."""
    rotation: float | None = None
    """Amplitude of the target's in-plane rotation, degrees."""
    appearance_change: float | None = None
    """Largest blend towards a second texture of the target's family over the video, in [0, 1]."""
    camera_speed: float | None = None
    """Typical speed of the camera pan, pixels per frame."""
    camera_zoom: float | None = None
    """Amplitude of the camera's log-zoom drift."""
    occlusions: float | None = None
    """Expected number of occluders passing in front of the target per 100 frames."""
    full_occlusion_prob: float | None = None
    """Probability that an occluder hides the target completely (otherwise partly)."""
    distractors: float | None = None
    """Expected number of look-alike distractors in a video."""
    distractor_similarity: float | None = None
    """How close a distractor's colours are to the target's, in [0, 1] (1: same palette)."""
    clutter: float | None = None
    """Background clutter in [0, 1]: contrast of its texture and density of random shapes."""
    out_of_view_prob: float | None = None
    """Probability, per 100 frames, of a stretch where the target leaves the view and comes back."""
    motion_blur: float | None = None
    """Exposure as a fraction of the frame interval: the blur streak is this times the speed."""
    illumination: float | None = None
    """Amplitude of the brightness, contrast and light-gradient drift (log contrast; 60x in grey levels)."""
    noise: float | None = None
    """Standard deviation of the sensor noise, grey levels."""

    def __post_init__(self):
        if not 0.0 <= self.difficulty <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1], got {self.difficulty}")
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {self.num_frames}")
        if self.height < 64 or self.width < 64:
            raise ValueError(f"frames must be at least 64x64 pixels, got {self.height}x{self.width}")
        for name in _EASY_HARD:
            value = getattr(self, name)
            if value is None:
                continue
            low, high = _EFFECT_RANGES.get(name, (0.0, np.inf))
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], got {value}")

    def resolved(self) -> SyntheticConfig:
        """A copy with every effect left at None set from ``difficulty``."""
        derived = {
            name: easy + (hard - easy) * self.difficulty
            for name, (easy, hard) in _EASY_HARD.items()
            if getattr(self, name) is None
        }
        return replace(self, **derived)


@dataclass
class _Layer:
    """One object's sprite(s) and per-frame pose; ``blend`` mixes towards ``second`` (appearance change)."""

    sprite: render.Sprite
    centers: np.ndarray
    sizes: np.ndarray
    angles: np.ndarray
    second: render.Sprite | None = None
    blend: np.ndarray | None = None

    def sprite_at(self, t: int) -> render.Sprite:
        if self.second is None or self.blend[t] <= 0:
            return self.sprite
        rgba = self.sprite.rgba + self.blend[t] * (self.second.rgba - self.sprite.rgba)
        return self.sprite.with_rgba(rgba.astype(np.float32))

    def matrix(self, t: int) -> np.ndarray:
        return render.sprite_matrix(self.sprite, self.centers[t], self.sizes[t], self.angles[t])

    def box(self, t: int) -> np.ndarray:
        return self.sprite.box(self.centers[t], self.sizes[t], self.angles[t])

    def velocity(self, t: int) -> np.ndarray:
        return self.centers[t] - self.centers[t - 1] if t > 0 else np.zeros(2)


def _boxes_overlap(box_a: np.ndarray, box_b: np.ndarray, margin: float = 0.0) -> bool:
    return bool(
        box_a[0] - margin < box_b[0] + box_b[2]
        and box_b[0] - margin < box_a[0] + box_a[2]
        and box_a[1] - margin < box_b[1] + box_b[3]
        and box_b[1] - margin < box_a[1] + box_a[3]
    )


def _sprite_texture_size(size_wh: np.ndarray) -> tuple[int, int]:
    # 1.25x the first size so that the usual shrinking or mild growth resamples a sharp texture.
    return max(8, int(round(size_wh[1] * 1.25))), max(8, int(round(size_wh[0] * 1.25)))


def _plan_target(rng: np.random.Generator, cfg: SyntheticConfig, family: textures.TextureFamily) -> _Layer:
    n, height, width = cfg.num_frames, cfg.height, cfg.width
    # Bursts and excursions draw a random number of values: their own streams keep the rest unchanged.
    burst_rng, excursion_rng, texture_rng = rng.spawn(3)
    side = cfg.target_size * rng.uniform(0.65, 1.35)
    aspect = np.exp(rng.uniform(-0.5, 0.5))
    # Size drifts over 50-200 frames, as when an object approaches or turns: fast enough to matter within a
    # clip, slow enough that a scale-adaptive tracker (CSRT, MedianFlow) can follow while KCF/MOSSE cannot.
    log_scale = motion.smooth_signal(rng, n, cfg.scale_change, periods=(50.0, 200.0))
    log_aspect = motion.smooth_signal(rng, n, cfg.aspect_change, periods=(50.0, 200.0))
    sizes = side * np.exp(
        np.stack(
            [log_scale + (np.log(aspect) + log_aspect) / 2, log_scale - (np.log(aspect) + log_aspect) / 2],
            axis=1,
        )
    )
    # Keep the target well inside a frame: it must fit with room to move, and stay trackable.
    largest = sizes.max(axis=0)
    shrink = min(1.0, 0.45 * width / largest[0], 0.45 * height / largest[1])
    sizes = np.maximum(sizes * shrink, 6.0)
    angles = motion.smooth_signal(rng, n, cfg.rotation)
    kind = shapes.OUTLINES[rng.choice(len(shapes.OUTLINES), p=_TARGET_OUTLINE_ODDS)]
    outline = shapes.make_outline(rng, kind)

    half_extent = np.array(
        [shapes.outline_box(outline, np.zeros(2), s, a)[2:] / 2 for s, a in zip(sizes, angles, strict=True)]
    )
    low, high = half_extent.max(axis=0) + 2, np.array([width, height]) - half_extent.max(axis=0) - 2
    start = low + (high - low) * rng.uniform(0.2, 0.8, size=2)
    gain = motion.burst_gain(burst_rng, n, cfg.speed_bursts, cfg.burst_peak)
    raw = motion.wandering_path(rng, n, start, cfg.target_speed, correlation=8.0, speed_gain=gain)
    centers = motion.reflect_into(raw, low, high)
    centers += _out_of_view_offset(excursion_rng, cfg, centers, half_extent)

    texture_hw = _sprite_texture_size(sizes[0])
    sprite = render.make_sprite(textures.family_texture(texture_rng, family, *texture_hw), outline, kind)
    second = render.make_sprite(textures.family_texture(texture_rng, family, *texture_hw), outline, kind)
    blend = np.clip(
        np.abs(motion.smooth_signal(texture_rng, n, cfg.appearance_change, periods=(60, 200))), 0, 1
    )
    return _Layer(sprite, centers, sizes, angles, second, blend)


def _out_of_view_offset(
    rng: np.random.Generator, cfg: SyntheticConfig, centers: np.ndarray, half_extent: np.ndarray
) -> np.ndarray:
    """An offset that carries the target out through the nearest border and back, or zeros."""
    n = cfg.num_frames
    offset = np.zeros((n, 2))
    if rng.random() >= min(1.0, cfg.out_of_view_prob * n / 100):
        return offset
    ramp, hold = int(rng.integers(4, 9)), int(rng.integers(4, 16))
    # The first frames stay clean (frame 0 must show the whole target) and the target must be back by the end.
    first, last = 12, n - 2 * ramp - hold
    if last <= first:
        return offset
    start = int(rng.integers(first, last))
    out = slice(start + ramp, start + ramp + hold + 1)
    # Distance from each border over the hold; leave through the closest one, far enough to vanish entirely.
    gaps = np.stack(
        [centers[out, 0], cfg.width - centers[out, 0], centers[out, 1], cfg.height - centers[out, 1]], axis=1
    )
    border = int(np.argmin(gaps.min(axis=0)))
    needed = gaps[:, border].max() + half_extent[out, border // 2].max() + 4
    direction = [(-1, 0), (1, 0), (0, -1), (0, 1)][border]
    return motion.excursion_profile(n, start, ramp, hold)[:, None] * (needed * np.asarray(direction, float))


def _local_velocity(centers: np.ndarray, t: int, half_window: int = 3) -> np.ndarray:
    lo, hi = max(t - half_window, 0), min(t + half_window, len(centers) - 1)
    return (centers[hi] - centers[lo]) / max(hi - lo, 1)


def _plan_occluders(rng: np.random.Generator, cfg: SyntheticConfig, target: _Layer) -> list[_Layer]:
    """Slabs of background-like texture that cross the target's path, timed to pass in front of it."""
    n = cfg.num_frames
    occluders = []
    t_all = np.arange(n, dtype=np.float64)[:, None]
    for _ in range(rng.poisson(cfg.occlusions * n / 100)):
        if n < 12:
            break
        t_hit = int(rng.integers(10, n))
        full = rng.random() < cfg.full_occlusion_prob
        relative_speed = rng.uniform(2.0, 5.0)
        heading = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(heading), np.sin(heading)])
        normal = np.array([-direction[1], direction[0]])
        box = target.box(t_hit)
        along = abs(box[2] * direction[0]) + abs(box[3] * direction[1])
        across = abs(box[2] * direction[1]) + abs(box[3] * direction[0])
        if full:
            hidden_frames = rng.uniform(3, 12)
            size = np.array([along + relative_speed * hidden_frames + 4, across * 1.3 + 6])
            side_offset = rng.normal(0, 0.08 * across)
        else:
            size = np.array([along * rng.uniform(0.4, 1.0), across * rng.uniform(0.4, 0.9)])
            side_offset = rng.choice([-1, 1]) * rng.uniform(0.2, 0.6) * across
        velocity = _local_velocity(target.centers, t_hit) + relative_speed * direction
        centers = target.centers[t_hit] + side_offset * normal + velocity * (t_all - t_hit)
        # cv2 angles turn counter-clockwise on screen, where y points down: negate the heading.
        angles = np.full(n, -np.rad2deg(heading))
        kind = "rect" if full else shapes.OUTLINES[rng.integers(len(shapes.OUTLINES))]
        texture_hw = (max(4, int(round(size[1]))), max(4, int(round(size[0]))))
        texture = textures.clutter_canvas(rng, *texture_hw, clutter=1.0)
        sprite = render.make_sprite(texture, shapes.make_outline(rng, kind), kind)
        layer = _Layer(sprite, centers, np.tile(size, (n, 1)), angles)
        if not _boxes_overlap(layer.box(0), target.box(0), margin=2):
            occluders.append(layer)
    return occluders


def _plan_distractors(
    rng: np.random.Generator, cfg: SyntheticConfig, target: _Layer, family: textures.TextureFamily
) -> tuple[list[_Layer], list[_Layer]]:
    """Look-alikes of the target: (those behind it, those passing in front of it)."""
    n, height, width = cfg.num_frames, cfg.height, cfg.width
    behind, in_front = [], []
    t_all = np.arange(n, dtype=np.float64)[:, None]
    for _ in range(rng.poisson(cfg.distractors)):
        member = textures.family_member(rng, family, color_shift=(1 - cfg.distractor_similarity) * 150)
        size = target.sizes[0] * rng.uniform(0.75, 1.3) * np.exp(rng.normal(0, 0.15, 2))
        sizes = size * np.exp(motion.smooth_signal(rng, n, cfg.scale_change * 0.5))[:, None]
        angles = rng.uniform(-20, 20) + motion.smooth_signal(rng, n, cfg.rotation)
        kind = (
            target.sprite.kind if rng.random() < 0.8 else shapes.OUTLINES[rng.integers(len(shapes.OUTLINES))]
        )
        if rng.random() < 0.6 and n > 12:
            # A crosser: its path meets the target's near a random frame, where mix-ups happen.
            t_cross = int(rng.integers(8, n))
            heading = rng.uniform(0, 2 * np.pi)
            velocity = rng.uniform(1.0, 3.0) * np.array([np.cos(heading), np.sin(heading)])
            miss = rng.normal(0, 0.3, 2) * target.sizes[t_cross]
            wobble = motion.wandering_path(rng, n, np.zeros(2), 0.5)
            centers = target.centers[t_cross] + miss + velocity * (t_all - t_cross) + wobble - wobble[t_cross]
        else:
            start = np.array([width, height]) * rng.uniform(0.1, 0.9, size=2)
            raw = motion.wandering_path(rng, n, start, cfg.target_speed * rng.uniform(0.5, 1.2))
            centers = motion.reflect_into(
                raw, np.array([-20.0, -20.0]), np.array([width + 20.0, height + 20.0])
            )
        texture = textures.family_texture(rng, member, *_sprite_texture_size(size))
        layer = _Layer(
            render.make_sprite(texture, shapes.make_outline(rng, kind), kind), centers, sizes, angles
        )
        front = rng.random() < 0.25
        if front and _boxes_overlap(layer.box(0), target.box(0), margin=2):
            continue
        (in_front if front else behind).append(layer)
    return behind, in_front


@dataclass
class _Camera:
    canvas: np.ndarray
    origins: np.ndarray
    zooms: np.ndarray

    def velocity(self, t: int) -> np.ndarray:
        """How fast the scene moves across the image at frame ``t`` (pixels per frame)."""
        return -(self.origins[t] - self.origins[t - 1]) * self.zooms[t] if t > 0 else np.zeros(2)


def _plan_camera(rng: np.random.Generator, cfg: SyntheticConfig) -> _Camera:
    n = cfg.num_frames
    burst_rng, canvas_rng = rng.spawn(2)
    gain = motion.burst_gain(burst_rng, n, cfg.speed_bursts / 2, cfg.burst_peak)
    origins = motion.wandering_path(rng, n, np.zeros(2), cfg.camera_speed, correlation=15.0, speed_gain=gain)
    zooms = np.exp(motion.smooth_signal(rng, n, cfg.camera_zoom))
    view = np.array([cfg.width, cfg.height])[None] / zooms[:, None]
    origins -= origins.min(axis=0) - 2
    extent = np.ceil((origins + view).max(axis=0)).astype(int) + 2
    canvas = textures.clutter_canvas(canvas_rng, int(extent[1]), int(extent[0]), cfg.clutter)
    return _Camera(canvas, origins, zooms)


def _render(
    rng: np.random.Generator,
    cfg: SyntheticConfig,
    camera: _Camera,
    target: _Layer,
    behind: list[_Layer],
    cover: list[_Layer],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames ``(n, H, W, 3)`` uint8, target boxes ``(n, 4)`` (unclipped) and visible fractions ``(n,)``."""
    n, height, width = cfg.num_frames, cfg.height, cfg.width
    contrast = np.exp(motion.smooth_signal(rng, n, cfg.illumination))
    brightness = 60 * motion.smooth_signal(rng, n, cfg.illumination)
    gradients = np.stack([motion.smooth_signal(rng, n, cfg.illumination) for _ in range(2)], axis=1)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramps = [
        np.repeat((grid / size - 0.5)[..., None], 3, axis=2) for grid, size in ((xs, width), (ys, height))
    ]
    pad = 16
    noise_bank = rng.standard_normal((2, height + pad, width + pad, 3), dtype=np.float32)
    picks = rng.integers(0, [2, pad + 1, pad + 1], size=(n, 3))

    frames = np.empty((n, height, width, 3), np.uint8)
    boxes = np.empty((n, 4))
    visibility = np.empty(n)
    for t in range(n):
        frame = render.camera_view(camera.canvas, camera.origins[t], camera.zooms[t], (height, width))
        frame = render.motion_blur(frame, camera.velocity(t) * cfg.motion_blur)
        for layer in behind:
            render.composite(frame, layer.sprite, layer.matrix(t), _blur_of(layer, t, cfg))
        placed = render.composite(frame, target.sprite_at(t), target.matrix(t), _blur_of(target, t, cfg))
        covering = [
            render.composite(frame, layer.sprite, layer.matrix(t), _blur_of(layer, t, cfg)) for layer in cover
        ]
        boxes[t] = target.box(t)
        if placed is None:
            visibility[t] = 0.0
        else:
            hidden = render.covered_fraction(placed, [p for p in covering if p is not None])
            visible_area = float((placed.alpha * (1.0 - hidden)).sum())
            visibility[t] = min(1.0, visible_area / target.sprite.area(target.sizes[t]))
        gain_map = cv2.addWeighted(ramps[0], float(gradients[t, 0]), ramps[1], float(gradients[t, 1]), 1.0)
        which, dy, dx = picks[t]
        noise = noise_bank[which, dy : dy + height, dx : dx + width]
        frames[t] = render.expose(frame, gain_map, contrast[t], brightness[t], noise, cfg.noise)
    return frames, boxes, visibility


def _blur_of(layer: _Layer, t: int, cfg: SyntheticConfig) -> np.ndarray:
    return layer.velocity(t) * cfg.motion_blur


def _inside_image(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    return (
        (boxes[:, 0] >= 0)
        & (boxes[:, 1] >= 0)
        & (boxes[:, 0] + boxes[:, 2] <= width)
        & (boxes[:, 1] + boxes[:, 3] <= height)
    )


def _clip_box(box: np.ndarray, height: int, width: int) -> np.ndarray:
    x1, y1 = max(box[0], 0.0), max(box[1], 0.0)
    x2, y2 = min(box[0] + box[2], float(width)), min(box[1] + box[3], float(height))
    return np.array([x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)])


def generate_sequence(seed: int, config: SyntheticConfig | None = None, name: str | None = None) -> Sequence:
    """One synthetic video, a pure function of ``seed`` and ``config`` (default :class:`SyntheticConfig`)."""
    cfg = (config or SyntheticConfig()).resolved()
    # One independent stream per part of the scene: changing how many occluders a config asks for must not
    # change the target's path or the camera's, so that configs can be compared on the same videos.
    rngs = np.random.default_rng(seed).spawn(6)
    family = textures.random_family(rngs[0])
    camera = _plan_camera(rngs[1], cfg)
    target = _plan_target(rngs[2], cfg, family)
    behind, in_front = _plan_distractors(rngs[3], cfg, target, family)
    occluders = _plan_occluders(rngs[4], cfg, target)
    frames, boxes, visibility = _render(rngs[5], cfg, camera, target, behind, in_front + occluders)

    gt_boxes = np.array([_clip_box(box, cfg.height, cfg.width) for box in boxes])
    absent = (visibility < ABSENT_VISIBILITY) | (gt_boxes[:, 2] <= 0) | (gt_boxes[:, 3] <= 0)
    # Frame 0 is planned to show the whole target; the flag guards the Sequence's own check.
    absent[0] = False
    gt_boxes[absent] = np.nan
    return Sequence(
        name=name if name is not None else f"synthetic_{seed}",
        frames=InMemoryFrames(frames),
        gt_boxes=gt_boxes,
        absent=absent,
        benchmark=BENCHMARK,
        attributes={
            "seed": seed,
            "visibility": visibility,
            "out_of_view": ~_inside_image(boxes, cfg.height, cfg.width),
            "num_distractors": len(behind) + len(in_front),
            "num_occluders": len(occluders),
            "target_shape": target.sprite.kind,
            "config": asdict(cfg),
        },
    )


def dataset_seeds(num_videos: int, seed: int = 0) -> list[int]:
    """The per-video seeds of :func:`generate_dataset`: independent streams spawned from ``seed``."""
    children = (np.random.SeedSequence(seed, spawn_key=(i,)) for i in range(num_videos))
    return [
        int(child.generate_state(2, dtype=np.uint32) @ np.array([1, 2**32], dtype=object))
        for child in children
    ]


def generate_dataset(num_videos: int, seed: int = 0, config: SyntheticConfig | None = None) -> list[Sequence]:
    """``num_videos`` independent videos; video ``i`` depends only on ``(seed, i)`` and ``config``."""
    return [
        generate_sequence(video_seed, config, name=f"synthetic_{seed}_{i:04d}")
        for i, video_seed in enumerate(dataset_seeds(num_videos, seed))
    ]
