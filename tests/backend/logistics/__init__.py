"""Tests of shipments, tracking and the carrier adapters."""
