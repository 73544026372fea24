"""``tbt train``'s flags, derived from :class:`~tracking_by_trackers.experiments.train.train_config.TrainConfig` by tyro.

Every field of ``TrainConfig`` is a flag of the same name (``num_env_runners`` → ``--num-env-runners``,
booleans as ``--curriculum/--no-curriculum``), typed by its annotation, with its docstring as the help: a
setting is declared once, in the dataclass, and the command line follows it. ``--config FILE`` is read
first and becomes the defaults that the flags override (defaults < ``--config`` file < flags); ``--quick``
starts from :meth:`TrainConfig.quick` instead of the default run. The resource settings also take JSON
(``--custom-resources-per-learner '{"learner_node": 0.001}'``), the form Ray's own configs use, besides
tyro's ``KEY VALUE`` pairs.

A misspelt flag or a value of the wrong type is a one-line ``ConfigError`` (``tbt: error: …``), as every
other bad setting is, instead of tyro's framed multi-line message.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import io
import json
from dataclasses import dataclass, field
from typing import Annotated

import tyro

from tracking_by_trackers.experiments.train.train_config import (
    RENAMED_SETTINGS,
    ConfigError,
    TrainConfig,
    load_config_file,
)

__all__ = ["TrainCommand", "parse_train_command"]

_OLD_FLAGS = {
    **{f"--{old.replace('_', '-')}": f"--{new.replace('_', '-')}" for old, new in RENAMED_SETTINGS.items()},
    "--aggregator-actors": "--num-aggregator-actors-per-learner",
}
_OLD_FLAG_HINTS = {
    "--gpus": "; GPUs per learner, and with a learner on a cluster's GPU node add --num-learners 1",
}
_DICT_FLAGS = ("--custom-resources-per-env-runner", "--custom-resources-per-learner")


@dataclass
class TrainCommand:
    """Run the whole pipeline: teachers, transfer set, KD-RL training, evaluation and report. Without
    arguments it is the embedded default run on synthetic videos (under 20 minutes on a 2-core CPU)."""

    settings: Annotated[TrainConfig, tyro.conf.OmitArgPrefixes] = field(default_factory=TrainConfig)
    config: str | None = None
    """A JSON or YAML file of settings (keys of TrainConfig); flags override it."""
    out: str = "runs/train"
    """The run folder."""
    resume: bool = False
    """Continue the stopped run in --out (its config.json must agree with the settings that shape results)."""
    quick: bool = False
    """Start from a few-minute run on tiny data (a smoke test) instead of the default run."""


def parse_train_command(argv: list[str]) -> TrainCommand:
    """``tbt train``'s arguments as a :class:`TrainCommand`; ``--help`` prints the help and exits."""
    argv = _with_json_dicts(argv)
    for word in argv:
        flag = word.split("=", 1)[0]
        if flag in _OLD_FLAGS:
            raise ConfigError(
                f"{flag} is now {_OLD_FLAGS[flag]} (RLlib's name){_OLD_FLAG_HINTS.get(flag, '')}"
            )
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    early.add_argument("--quick", action="store_true")
    known, _ = early.parse_known_args(argv)
    base = TrainConfig.quick() if known.quick else TrainConfig()
    if known.config:
        settings = load_config_file(known.config)
        try:
            base = base.updated(**settings)
        except ConfigError as error:
            raise ConfigError(f"config file {known.config}: {error}") from None
    default = TrainCommand(settings=base, config=known.config, quick=known.quick)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):  # tyro prints its errors to stderr, then exits
            command, unknown = tyro.cli(
                TrainCommand, args=argv, default=default, prog="tbt train", return_unknown_args=True
            )
    except SystemExit as exit_:
        if exit_.code in (0, None):  # --help
            raise
        raise ConfigError(f"{_framed_message(captured.getvalue())} (see tbt train --help)") from None
    if unknown:
        raise ConfigError(_unknown_flag_message(unknown))
    return command


def _flags() -> list[str]:
    """Every flag of ``tbt train``: the fields of TrainConfig and TrainCommand, and the booleans' ``--no-``."""
    flags = ["--help"]
    for cls in (TrainConfig, TrainCommand):
        for item in dataclasses.fields(cls):
            if item.name == "settings":
                continue
            flag = f"--{item.name.replace('_', '-')}"
            flags.append(flag)
            if item.type in (bool, "bool"):
                flags.append(f"--no-{flag[2:]}")
    return flags


def _unknown_flag_message(unknown: list[str]) -> str:
    flag = next((word.split("=", 1)[0] for word in unknown if word.startswith("-")), unknown[0])
    if not flag.startswith("-"):
        return f"unexpected argument {flag!r}: every setting is a --flag (see tbt train --help)"
    close = difflib.get_close_matches(flag.replace("_", "-"), _flags(), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else " (see tbt train --help)"
    return f"unknown option {flag}{hint}"


def _framed_message(text: str) -> str:
    """The message of tyro's framed error: the first block of lines after the title, up to the next rule,
    joined (the frame wraps it at the terminal's width). Rich draws the frame in Unicode, or without one on a
    stream it takes for a plain file, with the title above a rule."""
    lines = [line.strip().strip("│┃║|╭╮╰╯+").strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    body: list[str] = []
    for line in lines[1:]:  # lines[0] is the title ("Value error")
        rule = set(line) <= set("─━═-=")
        if rule and body:
            break
        if not rule:
            body.append(line)
    return " ".join(body) or " ".join(lines) or "bad arguments"


def _with_json_dicts(argv: list[str]) -> list[str]:
    """``argv`` with each JSON object given to a resource flag spelled as tyro's ``KEY VALUE`` words."""
    words: list[str] = []
    for index, word in enumerate(argv):
        if index and argv[index - 1] in _DICT_FLAGS and word.lstrip().startswith("{"):
            try:
                mapping = json.loads(word)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{argv[index - 1]}: not a JSON object ({error}): {word}") from None
            words += [str(item) for pair in mapping.items() for item in pair]
        else:
            words.append(word)
    return words
