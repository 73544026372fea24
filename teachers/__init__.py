"""Off-the-shelf trackers that the student learns from, behind the GOT-10k toolkit's tracker interface."""
