"""Minted tokens shared by every process of a connection through its ``redis_url``, sealed with its secret.

Without sharing, every worker task and triggerer mints its own OAuth token or logs in on its own, and a
vendor that limits mints (Insider: about 10 a minute) refuses some of them. With ``redis_url`` one
process mints under a Redis lock and the others read the result. Redis only ever holds the tokens
sealed (AES-GCM) with a key derived from the connection's own secret (client secret, password): a
reader of Redis without that secret learns nothing, and a changed secret never reuses old tokens.
When Redis cannot be reached every process mints for itself, as without ``redis_url``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from airflow_provider_whatsapp_campaigns._http.state import STATE

log = logging.getLogger(__name__)

#: How long a process minting a token holds the lock others wait on (seconds), and how long they wait.
MINT_LOCK_SECONDS = 30.0
MINT_WAIT_SECONDS = 15.0
#: How long a shared token whose lifetime nobody stated is kept in Redis (a 401 renews it anyway).
UNSTATED_LIFETIME_SECONDS = 900.0
_PREFIX = "whatsapp-campaigns:token:"


@dataclass(frozen=True)
class Sealed:
    """What is stored: the tokens and their wall-clock expiry (monotonic clocks differ between hosts)."""

    access: str
    refresh: str | None
    refresh_cookie: str | None
    expires_at_wall: float | None


class TokenShare:
    """Where one account's tokens live in Redis (entry and mint lock names) and how they are sealed there."""

    def __init__(self, redis_url: str, key: Hashable, secret: str, conn_id: str) -> None:
        self.redis_url, self.conn_id = redis_url, conn_id
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        self.name, self.lock_name = _PREFIX + digest, _PREFIX + digest + ":minting"
        self.secret = secret

    # ---- sealing
    def _aead(self) -> Any:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        key = HKDF(hashes.SHA256(), 32, salt=None, info=self.name.encode()).derive(self.secret.encode())
        return AESGCM(key)

    def seal(self, tokens: Sealed) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps(tokens.__dict__).encode()
        return base64.b64encode(nonce + self._aead().encrypt(nonce, plain, self.name.encode()))

    def open(self, stored: bytes | None) -> Sealed | None:
        """The tokens, or None when absent, expired, unreadable or sealed with another secret."""
        if not stored:
            return None
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(stored)
            fields = json.loads(self._aead().decrypt(raw[:12], raw[12:], self.name.encode()))
            tokens = Sealed(**fields)
        except (InvalidTag, ValueError, TypeError):
            return None
        if not isinstance(tokens.access, str) or not tokens.access:
            return None
        if tokens.expires_at_wall is not None and tokens.expires_at_wall <= time.time():
            return None
        return tokens

    def ttl_ms(self, tokens: Sealed) -> int:
        left = UNSTATED_LIFETIME_SECONDS if tokens.expires_at_wall is None else tokens.expires_at_wall - time.time()
        return max(1, int(left * 1000))

    def unreachable(self, exc: Exception) -> None:
        if STATE.first_time("token-share-unreachable", self.conn_id):
            log.warning(
                "connection %r: Redis for sharing tokens is unreachable (%s); this process mints its own tokens",
                self.conn_id,
                type(exc).__name__,
            )


def sealed_from(access: str, refresh: str | None, refresh_cookie: str | None, expires_at: float) -> Sealed:
    """Tokens as stored: a monotonic deadline becomes a wall-clock one (or None when unstated)."""
    wall = None if math.isinf(expires_at) else time.time() + (expires_at - time.monotonic())
    return Sealed(access, refresh, refresh_cookie, wall)


def monotonic_deadline(tokens: Sealed) -> float:
    """The wall-clock expiry read from Redis as this process's monotonic deadline."""
    if tokens.expires_at_wall is None:
        return math.inf
    return time.monotonic() + (tokens.expires_at_wall - time.time())

