"""Exchanges (换货): another variant of a delivered line's product; the old unit comes back."""
