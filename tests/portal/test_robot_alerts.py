"""The robots are built from the settings, and every alert's link opens a staff page."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from backend.robots import alerting
from backend.robots.dingtalk import DingTalkRobot
from backend.robots.wecom import WeComRobot
from backend.staff.models import Role
from portal.integrations import robots
from tests.portal.helpers import staff_login


def test_each_robot_is_built_only_when_configured(settings):
    with httpx.Client() as http:
        assert robots(settings, http) == {}
        both = robots(
            replace(
                settings,
                wecom_robot_key="k",
                dingtalk_robot_token="t",
                dingtalk_robot_secret="SECs",
            ),
            http,
        )
    assert isinstance(both["wecom"], WeComRobot) and isinstance(both["dingtalk"], DingTalkRobot)


def test_a_dingtalk_token_without_its_secret_is_refused_at_start(settings):
    with httpx.Client() as http, pytest.raises(ValueError, match="DINGTALK_ROBOT_SECRET"):
        robots(replace(settings, dingtalk_robot_token="t"), http)


def test_every_alert_links_to_a_page_the_supervisor_opens(client, database):
    staff_login(client, database, Role.SUPERVISOR)
    for kind, path in alerting.PAGES.items():
        assert client.get(path).status_code == 200, kind
