"""WeChat's domain check files at the site root: exactly the configured ones, byte for byte."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from portal.app import create_app


def test_each_configured_check_file_answers_with_its_exact_text(settings, database):
    files = "MP_verify_Ab12Cd34.txt=Ab12Cd34Ef56, a1b2c3d4e5.txt=9f8e7d6c5b4a3210"
    with TestClient(create_app(replace(settings, wechat_verify_files=files), database)) as client:
        first = client.get("/MP_verify_Ab12Cd34.txt")
        second = client.get("/a1b2c3d4e5.txt")
        other = client.get("/MP_verify_other.txt")
    assert first.status_code == 200 and first.content == b"Ab12Cd34Ef56"
    assert first.headers["content-type"].startswith("text/plain")
    assert second.content == b"9f8e7d6c5b4a3210"
    assert other.status_code == 404


def test_without_the_setting_nothing_answers_at_the_root(client):
    assert client.get("/MP_verify_Ab12Cd34.txt").status_code == 404


@pytest.mark.parametrize("name", ["../secret.txt", "a/b.txt", "verify.html", "x.txt.exe"])
def test_a_name_that_is_not_a_plain_txt_file_stops_the_start(settings, database, name):
    with pytest.raises(ValueError, match="PORTAL_WECHAT_VERIFY_FILES"):
        create_app(replace(settings, wechat_verify_files=f"{name}=abc"), database)
