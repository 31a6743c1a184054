"""Exchanges (换货): another variant of the same product for a delivered line, the old one sent back."""
