"""Evaluation, reports, benchmarks and the `tbt` command line."""
