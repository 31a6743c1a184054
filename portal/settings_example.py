"""The .env.example file, written from the Settings fields (`portal settings --env-example`)."""

from __future__ import annotations

import textwrap
from dataclasses import fields

from portal.settings import VAR_DIR, Settings, shown_default
from portal.settings_checks import variable_of

HEADER = """\
# Every setting of the portal, its default and what it does. Made from portal/settings.py by
# `portal settings --env-example > .env.example`; edit the help lines there, not here.
# Copy what you need to the environment (a systemd EnvironmentFile, compose's env_file) and
# take out the leading '#'. A PORTAL_* name that is not listed here stops the start.
"""


def env_value(default: object) -> str:
    """The default as the environment gives it: 1/0, comma-separated, var/ relative to the
    working directory (where the real default is too)."""
    if isinstance(default, bool):
        return "1" if default else "0"
    text = ",".join(default) if isinstance(default, tuple) else str(default)
    return text.replace(str(VAR_DIR), "var")


def build_env_example() -> str:
    blocks = [HEADER]
    for spec in fields(Settings):
        text, value = spec.metadata.get("help", ""), env_value(spec.default)
        if spec.metadata.get("shown"):  # a default made at start: nothing to copy
            text, value = f"{text} (default: {shown_default(spec).strip('()')})", ""
        comment = textwrap.fill(text, width=96, initial_indent="# ", subsequent_indent="# ")
        blocks.append(f"{comment}\n#{variable_of(spec.name)}={value}\n")
    return "\n".join(blocks)
