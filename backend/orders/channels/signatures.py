"""Sales-channel signatures (Shopify, TOP, PDD, JD, Douyin): build_* to sign, verify_* to check."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Mapping

# How sure each scheme is, and where it comes from, is in docs/protocols.md: Shopify, JD and
# Pinduoduo are official (their worked examples are reproduced in the tests); TOP md5
# reproduces TOP's example output from remembered inputs, its hmac variants have no
# example; Douyin is third-party only, with hex case and hmac-sha256 unconfirmed.

TOP_SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
# JD's worked example signed neither parameter, so they are left out; unconfirmed beyond
# that example (docs/protocols.md, "JD / JD signature").
JD_UNSIGNED = frozenset({"sign", "format", "sign_method"})
DOUYIN_SIGNED = ("app_key", "method", "param_json", "timestamp", "v")


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def _same(expected: str, received: object) -> bool:
    """Constant-time equality of two ASCII strings; anything else in `received` is a mismatch."""
    if not isinstance(received, str) or not received.isascii():
        return False
    return hmac.compare_digest(expected.encode("ascii"), received.encode("ascii"))


# X-Shopify-Hmac-Sha256 = Base64(HMAC-SHA256(client secret, raw request body)):
# docs/protocols.md, "Shopify / Webhook signature".
def build_shopify_hmac(raw_body: bytes, secret: str | bytes) -> str:
    digest = hmac.new(_secret_bytes(secret), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_shopify_hmac(raw_body: bytes, header_value: str | None, secret: str | bytes) -> bool:
    """Check the header against the body exactly as received (re-serialised JSON never matches).

    During a client-secret rotation Shopify may sign with the old secret for up to an hour, so
    a caller rotating secrets tries both.
    """
    if not header_value or not header_value.isascii():
        return False
    try:
        received = base64.b64decode(header_value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(_secret_bytes(secret), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, received)


def build_sorted_concatenation(
    params: Mapping[str, str | None],
    excluded: Collection[str] = ("sign",),
    skip_empty: bool = False,
) -> str:
    """k1v1k2v2… with names sorted by code point (ASCII for every real parameter name)."""
    return "".join(
        name + value
        for name, value in sorted(params.items())
        if name not in excluded and value is not None and not (skip_empty and value == "")
    )


def _upper_md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def _top_md5(secret: str, base: str) -> str:
    return _upper_md5(secret + base + secret)


def _top_hmac_md5(secret: str, base: str) -> str:
    return hmac.new(secret.encode("utf-8"), base.encode("utf-8"), hashlib.md5).hexdigest().upper()


def _top_hmac_sha256(secret: str, base: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), base.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest().upper()


# TOP: sorted name+value with empty values skipped; md5 wraps with the secret, hmac keys it
# (docs/protocols.md, "Taobao and Tmall / TOP signature").
_TOP_DIGESTS: Mapping[str, Callable[[str, str], str]] = {
    "md5": _top_md5,
    "hmac": _top_hmac_md5,
    "hmac-sha256": _top_hmac_sha256,
}


def build_top_signature(
    params: Mapping[str, str | None], secret: str, sign_method: str | None = None
) -> str:
    """The TOP `sign` for Taobao/Tmall; the method is `sign_method` in params unless given."""
    method = sign_method or params.get("sign_method") or "md5"
    if method not in _TOP_DIGESTS:
        raise ValueError(f"unsupported TOP sign_method {method!r}")
    base = build_sorted_concatenation(params, skip_empty=True)
    return _TOP_DIGESTS[method](secret, base)


def verify_top_signature(params: Mapping[str, str | None], secret: str) -> bool:
    """Check `sign` with the request's own sign_method (md5 when absent); unknown methods fail."""
    method = params.get("sign_method") or "md5"
    if method not in _TOP_DIGESTS:
        return False
    # Hex case carries no secret; SDKs differ in it, so it is not held against a caller.
    return _same(build_top_signature(params, secret, method), (params.get("sign") or "").upper())


def build_wrapped_md5(
    params: Mapping[str, str | None], secret: str, excluded: Collection[str] = ("sign",)
) -> str:
    """UPPER(MD5(secret + k1v1k2v2… + secret)), the scheme PDD and JD share."""
    return _upper_md5(secret + build_sorted_concatenation(params, excluded) + secret)


# PDD signs every parameter but `sign`; whether empty values are skipped is unconfirmed
# (docs/protocols.md, "Pinduoduo / Pinduoduo signature").
def build_pdd_signature(params: Mapping[str, str | None], client_secret: str) -> str:
    return build_wrapped_md5(params, client_secret)


def verify_pdd_signature(params: Mapping[str, str | None], client_secret: str) -> bool:
    received = params.get("sign")
    return _same(build_pdd_signature(params, client_secret), (received or "").upper())


# JD: `360buy_param_json` sorts first because "3" < "a" (docs/protocols.md, "JD / JD
# signature").
def build_jd_signature(params: Mapping[str, str | None], app_secret: str) -> str:
    return build_wrapped_md5(params, app_secret, JD_UNSIGNED)


def verify_jd_signature(params: Mapping[str, str | None], app_secret: str) -> bool:
    received = params.get("sign")
    return _same(build_jd_signature(params, app_secret), (received or "").upper())


def build_douyin_param_json(business: Mapping[str, object]) -> str:
    """Compact JSON with keys sorted; the same string must be both signed and sent.

    Non-ASCII is sent as UTF-8 rather than \\u escapes, which is unconfirmed: verify it
    against the sandbox (docs/protocols.md, "Douyin / Douyin signature").
    """
    return json.dumps(business, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Douyin: MD5(secret + "app_key"… + "method"… + "param_json"… + "timestamp"… + "v"… + secret),
# in that fixed order. Lower-case hex is unconfirmed (the blog's code); an hmac-sha256
# variant is mentioned but undocumented, so only md5 is built (docs/protocols.md,
# "Douyin / Douyin signature").
def _douyin_digest(values: Mapping[str, str], app_secret: str) -> str:
    body = "".join(name + values[name] for name in DOUYIN_SIGNED)
    raw = (app_secret + body + app_secret).encode("utf-8")
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def build_douyin_signature(
    app_key: str, method: str, param_json: str, timestamp: str, app_secret: str, v: str = "2"
) -> str:
    values = {"app_key": app_key, "method": method, "param_json": param_json}
    return _douyin_digest(values | {"timestamp": timestamp, "v": v}, app_secret)


def verify_douyin_signature(params: Mapping[str, str | None], app_secret: str) -> bool:
    """Check a request's `sign` (md5 only); hex case is unconfirmed, so either is accepted."""
    if params.get("sign_method") not in (None, "", "md5"):
        return False
    values = {name: value for name in DOUYIN_SIGNED if (value := params.get(name)) is not None}
    if len(values) != len(DOUYIN_SIGNED):
        return False
    return _same(_douyin_digest(values, app_secret), (params.get("sign") or "").lower())
