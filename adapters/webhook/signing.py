"""HMAC signatures on outgoing webhooks, so a receiver can tell our POSTs from anyone else's.

Header ``X-Escalation-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">``. Signing the
timestamp with the body lets a receiver refuse replays older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Escalation-Signature"
KEY_HEADER = "X-Escalation-Key"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, now: int, tolerance_seconds: int = 300) -> bool:
    """True when ``header`` is our signature of ``body`` and no older than the tolerance."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)
