"""Readers that turn benchmark folders into `Sequence` objects."""
