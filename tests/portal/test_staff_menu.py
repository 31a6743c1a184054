"""Every link in a role's staff menu opens for that role: no menu entry answers 403."""

from __future__ import annotations

import re

import pytest

from backend.staff.models import Role
from tests.portal.helpers import staff_login

NAV = re.compile(r'<nav class="bar-nav">(.*?)</nav>', re.S)
LINK = re.compile(r'href="(/[^"]*)"')


@pytest.mark.parametrize("role", list(Role))
def test_every_menu_link_opens_for_the_role_that_sees_it(client, database, role):
    staff_login(client, database, role)
    page = client.get("/admin/orders")
    assert page.status_code == 200
    links = sorted(set(LINK.findall(NAV.search(page.text).group(1))))
    assert links
    refused = [link for link in links if client.get(link).status_code != 200]
    assert refused == [], (role, refused)
