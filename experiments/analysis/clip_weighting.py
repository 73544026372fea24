"""How the transfer-set clip source spreads its draws over the videos, by how many teachers kept each video.

    python -m tracking_by_trackers.experiments.analysis.clip_weighting STORE [--beta 0.5] [--clip-length 32] [--draws 20000]

``STORE`` is a transfer-set folder (``tbt teachers run --out STORE``). The script builds the clip source
``tbt train`` builds (``TransferSetClipSource.from_store``), draws ``--draws`` clips as the envs do, and
prints, per number of teachers that kept a video, the videos and the share of the draws that landed on
them, and the effective number of videos of the draws, ``1 / Σ_v p_v²`` (the number of equally drawn videos
that would be as diverse; it equals the number of videos when every video is drawn equally often).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from tracking_by_trackers.teachers.transfer_set import TransferSetClipSource

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("store", help="a transfer-set folder")
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--clip-length", type=int, default=32)
    parser.add_argument("--draws", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    source = TransferSetClipSource.from_store(args.store, beta=args.beta, clip_length=args.clip_length)
    clipped = source.clips.drop_duplicates(["dataset", "sequence", "teacher"])
    teachers_per_video = clipped.groupby(["dataset", "sequence"]).size().rename("teachers")
    rng = np.random.default_rng(args.seed)
    # A clip's name is "<benchmark>/<sequence>[start:stop]" (tracking_by_trackers.envs.clip_sources.Clip).
    drawn = pd.Series([source.sample(rng, args.clip_length).name.split("[")[0] for _ in range(args.draws)])
    shares = drawn.value_counts(normalize=True)
    names = [f"{dataset}/{sequence}" for dataset, sequence in teachers_per_video.index]
    per_video = pd.DataFrame(
        {"teachers": teachers_per_video.to_numpy(), "share": shares.reindex(names).fillna(0.0).to_numpy()},
        index=names,
    )
    table = per_video.groupby("teachers").agg(videos=("share", "size"), share_of_draws=("share", "sum"))
    table["share_per_video"] = table["share_of_draws"] / table["videos"]
    print(
        f"{args.store}: beta {args.beta:g}, {len(source.kept)} kept trajectories, {len(per_video)} videos with "
        f"a clip of {args.clip_length} frames, {len(source)} clips; {args.draws} draws"
    )
    print(table.to_string(float_format=lambda value: f"{value:.4f}"))
    print(
        f"effective number of videos 1/sum(p^2): {1.0 / float((per_video['share'] ** 2).sum()):.1f} "
        f"of {len(per_video)}"
    )
    return table


if __name__ == "__main__":
    main()
