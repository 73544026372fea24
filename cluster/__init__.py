"""Cluster launch configs and job submission (built in step 6)."""
