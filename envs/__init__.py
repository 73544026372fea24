"""The tracking MDP and everything it is built from: box geometry, state crops, sequences and datasets."""
