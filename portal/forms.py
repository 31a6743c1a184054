"""Reading form fields: bounded, stripped of control characters (PostgreSQL refuses NUL)."""

from __future__ import annotations

from starlette.datastructures import FormData


def clean_text(raw: object, max_length: int, *, multiline: bool = False) -> str:
    text = raw if isinstance(raw, str) else ""
    allowed = {"\n"} if multiline else set()
    kept = "".join(ch for ch in text if ch.isprintable() or ch in allowed)
    return kept.strip()[:max_length]


def form_text(form: FormData, name: str, max_length: int, *, multiline: bool = False) -> str:
    return clean_text(form.get(name), max_length, multiline=multiline)
