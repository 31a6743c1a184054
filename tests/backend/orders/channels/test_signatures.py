"""Channel signatures: official vectors reproduced, tampering and bad input refused."""

import hashlib
import hmac

import pytest

from backend.orders.channels.signatures import (
    build_douyin_param_json,
    build_douyin_signature,
    build_jd_signature,
    build_pdd_signature,
    build_shopify_hmac,
    build_sorted_concatenation,
    build_top_signature,
    verify_douyin_signature,
    verify_jd_signature,
    verify_pdd_signature,
    verify_shopify_hmac,
    verify_top_signature,
)

# Shopify: computed with the documented algorithm (docs/protocols.md, "Shopify / Webhook
# signature").
SHOPIFY_BODY = b'{"id":820982911946154508,"email":"jon@example.com"}'
SHOPIFY_HMAC = "oP+WUOeW/bj0Rfyjlbw7Odl0jaHsZZryiuyPvq93VNM="

# PDD's official worked example: pdd.order.number.list.get, secret testSecret.
PDD_PARAMS = {
    "access_token": "asd78172s8ds9a921j9qqwda12312w1w21211",
    "client_id": "1",
    "data_type": "XML",
    "order_status": "1",
    "page": "1",
    "page_size": "10",
    "timestamp": "1480411125",
    "type": "pdd.order.number.list.get",
}
PDD_SIGN = "E4DE3ED21002510DED352819E7AE6775"

# JD's official worked example: jingdong.pop.order.search, secret yourappSecret.
JD_PARAMS = {
    "360buy_param_json": '{"end_date":null,"optional_fields":null,"order_state":'
    '"WAIT_SELLER_STOCK_OUT","page":"1","page_size":"200","start_date":null}',
    "access_token": "yourtoken",
    "app_key": "yourappkey",
    "method": "jingdong.pop.order.search",
    "timestamp": "2021-05-07 09:20:39.683+0800",
    "v": "2.0",
}
JD_SIGN = "D70825340F4084360B9362B60DFD7930"

# TOP's official md5 example: secret helloworld -> 66987CB1…. Only the output was at hand;
# these are the taobao.item.seller.get example parameters of the TOP signing guide as
# remembered (docs/protocols.md, "Taobao and Tmall / TOP signature").
TOP_PARAMS = {
    "method": "taobao.item.seller.get",
    "app_key": "12345678",
    "session": "test",
    "timestamp": "2016-01-01 12:00:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "fields": "num_iid,title,nick,price,num",
    "num_iid": "11223344",
}
TOP_SIGN = "66987CB115214E59E6EC978214934FB8"
TOP_BASE = (
    "app_key12345678fieldsnum_iid,title,nick,price,numformatjson"
    "methodtaobao.item.seller.getnum_iid11223344sessiontestsign_methodmd5"
    "timestamp2016-01-01 12:00:00v2.0"
)


def test_the_shopify_documented_example_verifies():
    assert build_shopify_hmac(SHOPIFY_BODY, "test_secret") == SHOPIFY_HMAC
    assert verify_shopify_hmac(SHOPIFY_BODY, SHOPIFY_HMAC, "test_secret")
    assert verify_shopify_hmac(SHOPIFY_BODY, SHOPIFY_HMAC, b"test_secret")


@pytest.mark.parametrize(
    ("body", "header", "secret"),
    [
        (SHOPIFY_BODY + b" ", SHOPIFY_HMAC, "test_secret"),
        (SHOPIFY_BODY, SHOPIFY_HMAC, "other_secret"),
        (SHOPIFY_BODY, SHOPIFY_HMAC.lower(), "test_secret"),
        (SHOPIFY_BODY, "", "test_secret"),
        (SHOPIFY_BODY, None, "test_secret"),
        (SHOPIFY_BODY, "not base64!", "test_secret"),
        (SHOPIFY_BODY, "ｏP+WUOeW/bj0Rfyjlbw7Odl0jaHsZZryiuyPvq93VNM=", "test_secret"),
        (SHOPIFY_BODY, SHOPIFY_HMAC[:-4], "test_secret"),
    ],
)
def test_a_shopify_delivery_that_does_not_match_is_refused(body, header, secret):
    assert not verify_shopify_hmac(body, header, secret)


def test_the_official_pdd_vector_is_reproduced_and_verifies():
    assert build_pdd_signature(PDD_PARAMS, "testSecret") == PDD_SIGN
    assert verify_pdd_signature(PDD_PARAMS | {"sign": PDD_SIGN}, "testSecret")


def test_the_official_jd_vector_is_reproduced_and_verifies():
    assert build_jd_signature(JD_PARAMS, "yourappSecret") == JD_SIGN
    assert verify_jd_signature(JD_PARAMS | {"sign": JD_SIGN}, "yourappSecret")


def test_jd_leaves_format_and_sign_method_out_of_the_signature():
    signed = JD_PARAMS | {"format": "json", "sign_method": "md5", "sign": JD_SIGN}

    assert verify_jd_signature(signed, "yourappSecret")


@pytest.mark.parametrize(
    ("verify", "params", "secret"),
    [
        (verify_pdd_signature, PDD_PARAMS | {"sign": PDD_SIGN}, "otherSecret"),
        (verify_pdd_signature, PDD_PARAMS | {"page": "2", "sign": PDD_SIGN}, "testSecret"),
        (verify_pdd_signature, PDD_PARAMS, "testSecret"),
        (verify_pdd_signature, PDD_PARAMS | {"sign": "签名"}, "testSecret"),
        (verify_jd_signature, JD_PARAMS | {"sign": JD_SIGN}, "otherSecret"),
        (verify_jd_signature, JD_PARAMS | {"v": "2.1", "sign": JD_SIGN}, "yourappSecret"),
        (verify_jd_signature, JD_PARAMS | {"sign": PDD_SIGN}, "yourappSecret"),
    ],
)
def test_a_wrapped_md5_request_that_does_not_match_is_refused(verify, params, secret):
    assert not verify(params, secret)


def test_the_official_top_md5_vector_is_reproduced():
    assert build_sorted_concatenation(TOP_PARAMS) == TOP_BASE
    assert build_top_signature(TOP_PARAMS, "helloworld") == TOP_SIGN
    assert verify_top_signature(TOP_PARAMS | {"sign": TOP_SIGN}, "helloworld")


@pytest.mark.parametrize(
    ("method", "digest"), [("hmac", hashlib.md5), ("hmac-sha256", hashlib.sha256)]
)
def test_top_hmac_methods_key_the_digest_with_the_secret(method, digest):
    params = TOP_PARAMS | {"sign_method": method}
    base = TOP_BASE.replace("sign_methodmd5", f"sign_method{method}")
    expected = hmac.new(b"helloworld", base.encode(), digest).hexdigest().upper()

    assert build_top_signature(params, "helloworld") == expected
    assert verify_top_signature(params | {"sign": expected}, "helloworld")
    assert verify_top_signature(params | {"sign": expected.lower()}, "helloworld")


def test_top_skips_empty_values_and_the_sign_itself():
    with_blanks = TOP_PARAMS | {"partner_id": "", "simplify": None, "sign": "X"}

    assert build_top_signature(with_blanks, "helloworld") == TOP_SIGN


@pytest.mark.parametrize(
    "params",
    [
        TOP_PARAMS | {"sign": TOP_SIGN, "num_iid": "11223345"},
        TOP_PARAMS | {"sign": TOP_SIGN, "sign_method": "hmac"},
        TOP_PARAMS | {"sign": TOP_SIGN, "sign_method": "sha1"},
        TOP_PARAMS,
    ],
)
def test_a_top_request_that_does_not_match_is_refused(params):
    assert not verify_top_signature(params, "helloworld")


def test_an_unknown_top_sign_method_cannot_be_built():
    with pytest.raises(ValueError, match="sha1"):
        build_top_signature(TOP_PARAMS, "helloworld", "sha1")


DOUYIN_PARAM_JSON = '{"shop_order_id":"6920000000000000001","z":"抖店"}'
DOUYIN_REQUEST = {
    "app_key": "7000000000000000001",
    "method": "order.orderDetail",
    "param_json": DOUYIN_PARAM_JSON,
    "timestamp": "2024-05-01 10:00:00",
    "v": "2",
    "sign_method": "md5",
}


def test_douyin_param_json_is_compact_with_sorted_keys():
    business = {"z": "抖店", "shop_order_id": "6920000000000000001"}

    assert build_douyin_param_json(business) == DOUYIN_PARAM_JSON


def test_douyin_signs_its_five_fields_in_fixed_order_wrapped_by_the_secret():
    concatenated = (
        "douyinSecret"
        "app_key7000000000000000001"
        "methodorder.orderDetail"
        f"param_json{DOUYIN_PARAM_JSON}"
        "timestamp2024-05-01 10:00:00"
        "v2"
        "douyinSecret"
    )
    expected = hashlib.md5(concatenated.encode(), usedforsecurity=False).hexdigest()

    signature = build_douyin_signature(
        "7000000000000000001",
        "order.orderDetail",
        DOUYIN_PARAM_JSON,
        "2024-05-01 10:00:00",
        "douyinSecret",
    )

    assert signature == expected
    assert verify_douyin_signature(DOUYIN_REQUEST | {"sign": expected}, "douyinSecret")
    # The hex case is unconfirmed, so either case is accepted.
    assert verify_douyin_signature(DOUYIN_REQUEST | {"sign": expected.upper()}, "douyinSecret")


@pytest.mark.parametrize(
    "changes",
    [
        {"param_json": '{"z":"抖店","shop_order_id":"6920000000000000001"}'},
        {"timestamp": "2024-05-01 10:00:01"},
        {"sign_method": "hmac-sha256"},
        {"v": None},
        {"sign": None},
    ],
)
def test_a_douyin_request_that_does_not_match_is_refused(changes):
    sign = build_douyin_signature(
        "7000000000000000001",
        "order.orderDetail",
        DOUYIN_PARAM_JSON,
        "2024-05-01 10:00:00",
        "douyinSecret",
    )
    params = DOUYIN_REQUEST | {"sign": sign} | changes

    assert not verify_douyin_signature(params, "douyinSecret")
