"""The waybill bookers as the settings make them: routes, accounts, and a booking through them."""

from __future__ import annotations

import json

import pytest

from backend.logistics.waybills.base import WaybillNotConfigured
from emulators.kuaidi100 import Kuaidi100Emulator
from emulators.sf import SfGatewayEmulator
from portal.integrations import build_integrations
from portal.settings import load_settings
from tests.backend.logistics.live_servers import serve
from tests.backend.logistics.test_waybill_payloads import make_request

ACCOUNTS = json.dumps({"yuantong": {"partnerId": "P", "tempId": "T-YTO"}})


def test_the_environment_routes_carriers_to_kuaidi100_and_sf_and_they_book():
    k100 = Kuaidi100Emulator()
    gateway = SfGatewayEmulator(partner_id="TESTCUST", check_word="CW")
    with serve(k100.app) as k100_url, serve(gateway.app) as sf_url:
        settings = load_settings(
            {
                "PORTAL_KUAIDI100_KEY": k100.key,
                "PORTAL_KUAIDI100_SECRET": k100.secret,
                "PORTAL_KUAIDI100_API_URL": k100_url,
                "PORTAL_KUAIDI100_WAYBILL_ACCOUNTS": ACCOUNTS,
                "PORTAL_SF_PARTNER_ID": "TESTCUST",
                "PORTAL_SF_CHECK_WORD": "CW",
                "PORTAL_SF_URL": f"{sf_url}/std/service",
                "PORTAL_SF_MONTHLY_CARD": "7551234567",
                "PORTAL_WAYBILL_PROVIDERS": "shunfeng=sf,yuantong=kuaidi100",
            }
        )
        integrations = build_integrations(settings)
        try:
            bookers = integrations.waybills
            assert bookers is not None
            assert bookers.for_carrier("yuantong") is bookers.for_carrier("yuantong")
            yto = bookers.for_carrier("yuantong").book(make_request(carrier_code="yuantong"))
            sf = bookers.for_carrier("shunfeng").book(make_request(carrier_code="shunfeng"))
            assert yto.tracking_no.startswith("YT") and sf.tracking_no.startswith("SF")
            assert k100.bookings[0].param["tempId"] == "T-YTO"
            assert gateway.bookings[0].msg["monthlyCard"] == "7551234567"
            assert not bookers.can_book("zhongtong")  # not routed
        finally:
            integrations.close()


def test_without_credentials_no_carrier_can_book():
    integrations = build_integrations(load_settings({}))
    try:
        assert integrations.waybills is not None
        with pytest.raises(WaybillNotConfigured):
            integrations.waybills.for_carrier("shunfeng")
    finally:
        integrations.close()


def test_a_malformed_route_setting_stops_start_up_with_a_clear_error():
    with pytest.raises(ValueError, match="carrier=kuaidi100"):
        build_integrations(load_settings({"PORTAL_WAYBILL_PROVIDERS": "shunfeng=dhl"}))
