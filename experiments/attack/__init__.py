"""The adversarial background-patch attack on the student (docs/attack.md) and `tbt attack`'s table."""
