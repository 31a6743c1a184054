"""A process started by another rebuilds exactly the settings its parent decided on."""

from __future__ import annotations

from dataclasses import replace

from portal.settings import load_settings, settings_environment


def test_settings_written_into_the_environment_load_back_equal():
    decided = replace(
        load_settings({}, secret_keys=("old-key-0123456789", "new-key-0123456789")),
        embedded_worker=False,
        sandbox_speed=2.5,
        web_workers=3,
        sms_templates="shipped=SMS_1,delivered=SMS_2",
        kuaidi100_poll_url="http://127.0.0.1:8100",
    )
    assert load_settings(settings_environment(decided)) == decided


def test_a_setting_turned_off_stays_off_though_its_default_is_on():
    decided = load_settings({}, fast_refund=False, staff_second_factor_required=False)
    environment = settings_environment(decided)
    assert environment["PORTAL_FAST_REFUND"] == "0"
    assert load_settings(environment).staff_second_factor_required is False
