"""The search space of a KD-RL sweep, written as short strings and turned into Ray Tune domains.

One string per swept :class:`~tracking_by_trackers.experiments.train.train_config.TrainConfig` setting::

    lr               loguniform:1e-4:3e-3    a distribution (loguniform or uniform:LOW:HIGH), or
                     1e-4,1e-3               a list of choices
    beta             0.3,0.5                 choices (each β cuts another transfer set from the same teachers)
    t_max            5,10                    choices
    distil_fraction  0.25,0.5,0.75           choices or uniform:LOW:HIGH
    curriculum       on,off                  choices
    teachers         kcf+csrt,kcf+mosse      teacher pools: pools separated by commas, members by '+'

A single choice fixes the setting (it is not swept). The strings are what ``--lr``, ``--beta``, … take and
what ``sweep.json`` stores, so a resumed sweep rebuilds the very same space. Lists become
``tune.choice`` (random search over ``num_samples`` trials) or, with ``grid=True``, ``tune.grid_search``
(every combination, ``num_samples`` times each).
"""

from __future__ import annotations

from typing import Any

from tracking_by_trackers.experiments.train.train_config import ConfigError

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "SWEEPABLE",
    "parse_values",
    "search_space",
    "swept_settings",
    "teacher_pools",
    "teachers_union",
]

DEFAULT_SEARCH_SPACE: dict[str, str] = {
    "lr": "loguniform:1e-4:3e-3",
    "beta": "0.3,0.5",
    "t_max": "5,10",
    "distil_fraction": "0.25,0.5,0.75",
    "curriculum": "on,off",
    "teachers": "kcf+csrt+mosse+medianflow,kcf+csrt,csrt+medianflow,kcf+mosse",
}
SWEEPABLE = tuple(DEFAULT_SEARCH_SPACE)
"""The settings a sweep may vary (the others are fixed for every trial)."""

_DISTRIBUTIONS = {"loguniform", "uniform"}
# Settings that may be drawn from a distribution; the others change the transfer set or the model's
# shape, so the sweep checks every one of their values before it starts and they must be listed.
_CONTINUOUS = {"lr", "distil_fraction"}
_BOOLEAN_WORDS = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}


def _number(setting: str, text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{setting}: {text!r} is not a valid {kind.__name__}") from None


def _parse_choice(setting: str, text: str) -> Any:
    text = text.strip()
    if setting == "curriculum":
        if text.lower() not in _BOOLEAN_WORDS:
            raise ConfigError(f"curriculum: {text!r} is not one of on/off")
        return _BOOLEAN_WORDS[text.lower()]
    if setting == "teachers":
        members = [name.strip() for name in text.split("+") if name.strip()]
        if not members:
            raise ConfigError("teachers: an empty teacher pool")
        return ",".join(members)  # TrainConfig's own format
    if setting == "t_max":
        return _number(setting, text, int)
    return _number(setting, text, float)


def parse_values(setting: str, spec: str) -> tuple[str, Any]:
    """``("choice", [values])`` or ``(distribution, (low, high))`` for one setting's spec string."""
    if setting not in SWEEPABLE:
        raise ConfigError(f"{setting!r} cannot be swept; sweepable settings: {', '.join(SWEEPABLE)}")
    spec = str(spec).strip()
    kind, _, bounds = spec.partition(":")
    if kind in _DISTRIBUTIONS:
        if setting not in _CONTINUOUS:
            raise ConfigError(
                f"{setting}: give a list of values, not a distribution ({spec!r}); only "
                f"{' and '.join(sorted(_CONTINUOUS))} may be drawn from one"
            )
        parts = bounds.split(":")
        if len(parts) != 2:
            raise ConfigError(f"{setting}: expected {kind}:LOW:HIGH, got {spec!r}")
        low, high = (_number(setting, part, float) for part in parts)
        if not low < high or (kind == "loguniform" and low <= 0):
            raise ConfigError(f"{setting}: bad bounds in {spec!r} (need 0 < LOW < HIGH for loguniform)")
        return kind, (low, high)
    values = [_parse_choice(setting, part) for part in spec.split(",") if part.strip()]
    if not values:
        raise ConfigError(f"{setting}: no value given")
    return "choice", list(dict.fromkeys(values))  # duplicates would only skew a random search


def search_space(specs: dict[str, str], grid: bool = False) -> dict[str, Any]:
    """Tune's ``param_space`` entries for ``specs`` (setting → spec string); a single value stays a constant."""
    from ray import tune

    space: dict[str, Any] = {}
    for setting, spec in specs.items():
        kind, values = parse_values(setting, spec)
        if kind == "loguniform":
            space[setting] = tune.loguniform(*values)
        elif kind == "uniform":
            space[setting] = tune.uniform(*values)
        elif len(values) == 1:
            space[setting] = values[0]
        else:
            space[setting] = tune.grid_search(values) if grid else tune.choice(values)
    return space


def swept_settings(specs: dict[str, str]) -> list[str]:
    """The settings of ``specs`` that actually vary between trials."""
    swept = []
    for setting, spec in specs.items():
        kind, values = parse_values(setting, spec)
        if kind != "choice" or len(values) > 1:
            swept.append(setting)
    return swept


def teacher_pools(specs: dict[str, str], default: str) -> list[str]:
    """The teacher pools trials may draw (``TrainConfig.teachers`` strings); ``default`` when not swept."""
    if "teachers" not in specs:
        return [default]
    return parse_values("teachers", specs["teachers"])[1]


def teachers_union(pools: list[str]) -> str:
    """Every teacher of every pool, once, in order of first appearance: what the teachers run once."""
    names = [name for pool in pools for name in pool.split(",")]
    return ",".join(dict.fromkeys(names))
