"""Tests of the notification adapters and their loopback emulators."""
