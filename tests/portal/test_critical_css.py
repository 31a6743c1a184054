"""Customer pages carry their CSS inline, allowed by its hash; staff pages link the whole file."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from portal.critical_css import STAFF_MARKER, STYLESHEET, customer_part, hash_source, minify
from tests.factories import make_order
from tests.portal.helpers import open_short_link

TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"
CUSTOMER_TEMPLATES = [
    *sorted((TEMPLATES / "customer").glob("*.html")),
    TEMPLATES / "base.html",
    TEMPLATES / "_macros.html",
    TEMPLATES / "error.html",
]


def style_sources(policy: str) -> list[str]:
    directive = next(d.strip() for d in policy.split(";") if d.strip().startswith("style-src"))
    return directive.split()[1:]


def inline_styles(html: str) -> list[str]:
    return re.findall(r"<style>(.*?)</style>", html, re.DOTALL)


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_tracking_page_paints_from_its_html_the_inline_css_allowed_by_its_hash(
    client, database
):
    order = make_order(database)
    page = client.get(open_short_link(client, database, order.id).headers["location"])
    assert page.status_code == 200
    [style] = inline_styles(page.text)
    assert sha256_source(style) in style_sources(page.headers["content-security-policy"])
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert 'rel="stylesheet"' not in page.text  # nothing to wait for before the first paint
    scripts = re.findall(r"<script [^>]*>", page.text)
    assert scripts and all(" defer" in tag for tag in scripts)


@pytest.mark.parametrize("path", ["/lookup", "/t/23456789", "/orders/nothing-here"])
def test_pages_without_a_session_and_error_pages_carry_the_same_allowed_css(client, path):
    page = client.get(path)
    [style] = inline_styles(page.text)
    assert sha256_source(style) in style_sources(page.headers["content-security-policy"])
    assert ".bar{" in style and ".table" not in style  # customer rules only


def test_staff_pages_link_the_whole_stylesheet(client):
    page = client.get("/admin/login")
    assert page.status_code == 200
    assert inline_styles(page.text) == []
    assert re.search(r'<link rel="stylesheet" href="/static/portal.css">', page.text)
    whole = client.get("/static/portal.css").text
    assert STAFF_MARKER in whole and ".table" in whole.partition(STAFF_MARKER)[2]


def names_in_customer_templates() -> set[str]:
    names = set()
    for template in CUSTOMER_TEMPLATES:
        html = template.read_text(encoding="utf-8")
        for attribute in re.findall(r'(?:class|id)="([^"]*)"', html):
            names.update(re.findall(r"[a-zA-Z][\w-]*", attribute))
    return names


def test_every_rule_of_the_staff_part_names_something_no_customer_page_has():
    staff_part = minify(STYLESHEET.read_text(encoding="utf-8").partition(STAFF_MARKER)[2])
    selectors = [
        selector
        for rule in re.findall(r"([^{}]+)\{", staff_part)
        if not rule.startswith("@")
        for selector in rule.split(",")
    ]
    customer_names = names_in_customer_templates()
    # Rules under the marker never reach a customer page: one that could match there would
    # leave that page unstyled. So each must need a class or id only staff pages have.
    customer_matches = [
        selector
        for selector in selectors
        if set(re.findall(r"[.#]([a-zA-Z][\w-]*)", selector)) <= customer_names
    ]
    assert len(selectors) > 40 and customer_matches == []


def test_minify_drops_comments_and_spaces_but_keeps_strings_and_combinators():
    css = '/* why */\n.a > .b  li::before {\n  content: "· ";\n  top: calc(50% - 5px);\n}\n'
    assert minify(css) == '.a > .b li::before{content:"· ";top:calc(50% - 5px)}'


def test_the_hash_source_is_the_sha256_the_csp_names():
    assert hash_source("a{color:red}") == sha256_source("a{color:red}")


def test_a_stylesheet_without_its_marker_is_refused_at_start():
    with pytest.raises(ValueError, match="staff marker"):
        customer_part(".a{color:red}")
