"""Shipments, the normalized tracking timeline and the carrier adapters behind it."""
