"""Procedurally generated tracking videos: the embedded default dataset."""
