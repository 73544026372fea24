"""The student model and the KD-RL algorithm on RLlib's new API stack (built in step 3)."""
