"""Carrier adapters: one module per carrier behind the `Carrier` protocol."""
