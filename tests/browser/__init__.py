"""Browser tests: Debian's Chromium as a phone against a live portal."""
