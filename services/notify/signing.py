"""Webhook signatures: receivers can check a delivery came from us and is not a replay.

Each delivery carries `Railyard-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256 over `"<t>." + body` with the endpoint's secret. A receiver recomputes it,
compares in constant time, and refuses timestamps older than a few minutes; it
de-duplicates by the `Railyard-Event-Position` header.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Railyard-Signature"
POSITION_HEADER = "Railyard-Event-Position"
DELIVERY_HEADER = "Railyard-Delivery-Id"
TYPE_HEADER = "Railyard-Event-Type"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The signature is missing, malformed, wrong or too old."""


def derive_secret(master: bytes, purpose: str) -> str:
    """The signing secret for one endpoint (or person), derived, never stored."""
    return "whsec_" + hmac.new(master, purpose.encode(), hashlib.sha256).hexdigest()


def endpoint_secret(master: bytes, endpoint_id: str, version: int) -> str:
    return derive_secret(master, f"endpoint:{endpoint_id}:{version}")


def person_secret(master: bytes, username: str, version: int = 1) -> str:
    """A person's webhook secret; the first is the one people had before they could
    replace it (decision 0121), so their receivers keep verifying."""
    suffix = "" if version == 1 else f":{version}"
    return derive_secret(master, f"person:{username}{suffix}")


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return f"t={stamp},v1={digest.hexdigest()}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a delivery's signature; returns its timestamp or raises SignatureError."""
    if not header:
        raise SignatureError("no signature header")
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        stamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError) as exc:
        raise SignatureError("malformed signature header") from exc
    expected = sign(secret, body, stamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature does not match")
    if abs((time.time() if now is None else now) - stamp) > tolerance_s:
        raise SignatureError("signature timestamp outside the tolerance: a replay?")
    return stamp
