"""Tests for returns and refunds."""
