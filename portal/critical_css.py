"""The customer pages' CSS, read from portal.css at start, put inline and allowed by its hash.

On Slow 4G a linked stylesheet costs a round trip (150 ms or more) before the first paint;
inline, the page paints as soon as its HTML is in. portal.css holds the customer pages'
rules first and the staff pages' after STAFF_MARKER, so the inlined part carries nothing a
customer page does not use. The Content-Security-Policy lets in exactly this text by its
SHA-256 (portal/security.py), never 'unsafe-inline'.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

STYLESHEET = Path(__file__).parent / "static" / "portal.css"
STAFF_MARKER = "/* == staff and warehouse pages only: not inlined into customer pages == */"
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_SPACE = re.compile(r"\s+")
# Spaces a browser never needs around these; "a > b" and "a b" keep theirs, as do strings.
_AROUND_PUNCTUATION = re.compile(r"\s*([{};,:])\s*")


def customer_part(stylesheet: str) -> str:
    """Everything above the staff marker."""
    part, found, _ = stylesheet.partition(STAFF_MARKER)
    if not found:
        raise ValueError(f"{STYLESHEET.name} has lost its staff marker: {STAFF_MARKER}")
    return part


def minify(css: str) -> str:
    """Comments and needless spaces out; nothing in portal.css puts them inside a string."""
    text = _SPACE.sub(" ", _COMMENT.sub("", css))
    return _AROUND_PUNCTUATION.sub(r"\1", text).replace(";}", "}").strip()


def hash_source(text: str) -> str:
    """The CSP source that allows exactly this inline <style> text."""
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
    return f"'sha256-{digest}'"


CRITICAL_CSS = minify(customer_part(STYLESHEET.read_text(encoding="utf-8")))
CRITICAL_CSS_SOURCE = hash_source(CRITICAL_CSS)
