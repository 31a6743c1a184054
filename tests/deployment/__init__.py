"""Tests of what a deployment runs: the image, the compose file, the wheel."""
