"""Booking e-waybills (电子面单) from carriers: one interface, one adapter per provider."""
