"""Aliyun's two request signatures as the gateway checks them: RPC HMAC-SHA1 and ACS3 (V3).

Written out here rather than borrowed from the adapter, so that the emulator is a second
reading of the scheme. The V3 (ACS3-HMAC-SHA256) scheme is what Aliyun's current SDKs send
by default: docs/protocols.md, "Aliyun SMS / SMS signature".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_RPC_SIGNING = ("AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce")
_RPC_COMMON = (*_RPC_SIGNING, "SignatureVersion", "Action", "Timestamp", "Version")
ACS3_ALGORITHM = "ACS3-HMAC-SHA256"
# Every header the gateway requires under V3, and so requires to be signed.
_ACS3_REQUIRED = (
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)
_ACS3_AUTHORIZATION = re.compile(
    r"(?P<algorithm>ACS3-[A-Z0-9-]+) Credential=(?P<key>[^,]+),"
    r"SignedHeaders=(?P<headers>[^,]*),Signature=(?P<signature>[0-9a-f]+)"
)

NONCONFORMING = "The request signature does not conform to Aliyun standards."
Refusal = tuple[int, str, str]  # HTTP status, Aliyun Code, Message


@dataclass(frozen=True)
class SignedCall:
    """What the gateway knows about one verified call, whichever scheme signed it."""

    access_key_id: str
    action: str
    version: str
    timestamp: str  # yyyy-MM-ddTHH:mm:ssZ
    nonce: str
    signature_method: str  # HMAC-SHA1 | ACS3-HMAC-SHA256


@dataclass(frozen=True)
class Acs3Authorization:
    algorithm: str
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def pop_encode(text: str) -> str:
    """Aliyun's percent-encoding, byte by byte: RFC 3986 unreserved characters stay."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    names = sorted(name for name in params if name != "Signature")
    canonical = "&".join(f"{pop_encode(name)}={pop_encode(params[name])}" for name in names)
    return f"{method.upper()}&{pop_encode('/')}&{pop_encode(canonical)}"


def aliyun_signature(string_to_sign: str, secret: str) -> str:
    mac = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def check_rpc(
    method: str, params: Mapping[str, str], secrets: Mapping[str, str]
) -> SignedCall | Refusal:
    """The RPC (V2) signature: HMAC-SHA1 over every parameter, query and form alike."""
    for name in _RPC_COMMON:
        if not params.get(name):
            return 400, f"Missing{name}", f"{name} is mandatory."
    secret = secrets.get(params["AccessKeyId"])
    if secret is None:
        return 404, "InvalidAccessKeyId.NotFound", "Specified key not found."
    string_to_sign = aliyun_string_to_sign(method, params)
    expected = aliyun_signature(string_to_sign, secret)
    if not hmac.compare_digest(params["Signature"].encode(), expected.encode()):
        message = f"Signature does not match. server string to sign is:{string_to_sign}"
        return 400, "SignatureDoesNotMatch", message
    return SignedCall(
        params["AccessKeyId"],
        params["Action"],
        params["Version"],
        params["Timestamp"],
        params["SignatureNonce"],
        params["SignatureMethod"],
    )


def parse_acs3_authorization(header: str) -> Acs3Authorization | None:
    match = _ACS3_AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        return None
    names = tuple(name for name in match["headers"].split(";") if name)
    return Acs3Authorization(match["algorithm"], match["key"], names, match["signature"])


def acs3_canonical_request(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
) -> str:
    """METHOD, URI, sorted encoded query, signed headers (lower-case, trimmed), their
    names, and the payload hash, one per line."""
    canonical_query = "&".join(f"{pop_encode(k)}={pop_encode(v)}" for k, v in sorted(query))
    canonical_uri = "/".join(pop_encode(part) for part in (path or "/").split("/"))
    lines = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    payload = headers.get("x-acs-content-sha256", "")
    return "\n".join(
        [method.upper(), canonical_uri, canonical_query, lines, ";".join(signed_headers), payload]
    )


def acs3_signature(algorithm: str, canonical_request: str, secret: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    string_to_sign = f"{algorithm}\n{digest}"
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def check_acs3(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
) -> SignedCall | Refusal:
    """The V3 signature: the Authorization header over a canonical request.

    `headers` must have lower-case names. Error codes other than SignatureDoesNotMatch
    and InvalidAccessKeyId.NotFound are from SDK issue threads.
    """
    fields = parse_acs3_authorization(headers.get("authorization", ""))
    if fields is None or fields.algorithm != ACS3_ALGORITHM:
        return 400, "IncompleteSignature", NONCONFORMING
    unsigned = [
        name
        for name in headers
        if (name in _ACS3_REQUIRED or name.startswith("x-acs-") or name == "content-type")
        and name not in fields.signed_headers
    ]
    missing = [name for name in _ACS3_REQUIRED if not headers.get(name)]
    if missing or unsigned or list(fields.signed_headers) != sorted(fields.signed_headers):
        detail = ", ".join(missing + unsigned) or "SignedHeaders order"
        return 400, "IncompleteSignature", f"{NONCONFORMING} ({detail})"
    secret = secrets.get(fields.access_key_id)
    if secret is None:
        return 404, "InvalidAccessKeyId.NotFound", "Specified key not found."
    canonical = acs3_canonical_request(method, path, query, headers, fields.signed_headers)
    expected = acs3_signature(fields.algorithm, canonical, secret)
    body_hash = hashlib.sha256(body).hexdigest()
    if not (
        hmac.compare_digest(fields.signature, expected)
        and hmac.compare_digest(headers["x-acs-content-sha256"], body_hash)
    ):
        message = f"Signature does not match. server canonical request is:{canonical}"
        return 400, "SignatureDoesNotMatch", message
    return SignedCall(
        fields.access_key_id,
        headers["x-acs-action"],
        headers["x-acs-version"],
        headers["x-acs-date"],
        headers["x-acs-signature-nonce"],
        fields.algorithm,
    )
