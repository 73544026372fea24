"""Torch RLModules for the student network."""
