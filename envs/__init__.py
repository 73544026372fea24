"""The tracking MDP and everything it is built from: box geometry, state crops, sequences and datasets.

Importing this package registers the environment ``TrackingMDP-v0`` with Gymnasium.
"""

import gymnasium

ENV_ID = "TrackingMDP-v0"

if ENV_ID not in gymnasium.registry:
    # No max_episode_steps: episodes end when their clip ends (see TrackingEnv's "Episode End").
    gymnasium.register(id=ENV_ID, entry_point="tracking_by_trackers.envs.tracking_env:TrackingEnv")
