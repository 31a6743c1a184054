"""Loopback emulators of outside APIs, written from the protocol docs, for tests and demos.

They deliberately re-implement signing instead of importing the adapters, so a test
against them checks the adapters against the protocol rather than against themselves.
"""
