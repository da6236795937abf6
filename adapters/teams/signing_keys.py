"""The Bot Connector's token-signing keys, fetched without ever holding up the event loop.

The SDK fetches them with a blocking `requests.get`, without a timeout, inside the event loop: one
key endpoint that never answered froze the whole process, /healthz included. Here the OpenID
metadata and its JWKS are fetched with aiohttp under one time limit, kept in memory, and refreshed
beside the requests that use them: a day-old list still serves while its replacement is fetched.
All requests waiting for keys share one fetch, and after a failed fetch they are answered at once
for a short while instead of each waiting out the time limit again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from dialogs.ports import Clock

log = logging.getLogger("escalation_bot.teams.keys")


class KeysUnavailable(Exception):
    """No usable signing keys right now, so no token can be checked: not the sender's fault."""


@dataclass(frozen=True)
class SigningKey:
    public_key: RSAPublicKey
    endorsements: frozenset[str]  # the channels this key may sign for; empty: any


class _Unusable(ValueError):
    """A document from the key endpoints that is not what the OpenID / JWKS formats promise."""


class SigningKeys:
    def __init__(
        self,
        metadata_url: str,
        clock: Clock,
        *,
        timeout_seconds: float = 5.0,
        refresh_after: timedelta = timedelta(hours=24),
        keep_for: timedelta = timedelta(hours=48),
        unknown_kid_refresh: timedelta = timedelta(minutes=5),
        retry_after: timedelta = timedelta(seconds=30),
    ) -> None:
        """`keep_for` bounds how long a list we cannot refresh is trusted (a withdrawn key must
        stop working); `unknown_kid_refresh` bounds how often a token naming a key we do not
        know can make us refetch, so forged kids cannot turn us into a load on Microsoft."""
        self.metadata_url = metadata_url
        self._clock = clock
        self._timeout = timeout_seconds
        self._refresh_after = refresh_after
        self._keep_for = keep_for
        self._unknown_kid_refresh = unknown_kid_refresh
        self._retry_after = retry_after
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: datetime | None = None
        self._attempted_at: datetime | None = None
        self._last_failed = False
        self._fetch: asyncio.Task[bool] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def get(self, kid: str) -> SigningKey | None:
        """The key named `kid`, or None if the current list has no such key.

        Raises KeysUnavailable when there is no list we can trust.
        """
        now = self._clock.now()
        if self._fetched_at is not None and now - self._fetched_at > self._keep_for:
            log.warning("signing keys dropped: not refreshed for %s", self._keep_for)
            self._keys, self._fetched_at = {}, None
        if self._fetched_at is None:
            if self._fetch is None and self._failed_recently(now):
                raise KeysUnavailable("the last attempt to fetch the signing keys failed")
            if not await self._wait(self._fetch or self._start()):
                raise KeysUnavailable("the signing keys could not be fetched")
        elif now - self._fetched_at > self._refresh_after and not self._failed_recently(now):
            self._start()  # in the background: the current list serves meanwhile
        key = self._keys.get(kid)
        if key is None and (self._fetch is not None or self._may_refetch_for_unknown_kid(now)):
            await self._wait(self._fetch or self._start())  # Microsoft may have rolled its keys
            key = self._keys.get(kid)
        return key

    async def close(self) -> None:
        if self._fetch is not None:
            self._fetch.cancel()
            await asyncio.gather(self._fetch, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _failed_recently(self, now: datetime) -> bool:
        return (
            self._last_failed
            and self._attempted_at is not None
            and now - self._attempted_at < self._retry_after
        )

    def _may_refetch_for_unknown_kid(self, now: datetime) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._unknown_kid_refresh

    def _start(self) -> asyncio.Task[bool]:
        if self._fetch is None:
            self._attempted_at = self._clock.now()
            self._fetch = asyncio.get_running_loop().create_task(self._refresh())
        return self._fetch

    async def _wait(self, fetch: asyncio.Task[bool]) -> bool:
        # shielded: a caller that gives up (its client hung up) must not cancel everyone's fetch
        return await asyncio.shield(fetch)

    async def _refresh(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                keys = await self._download()
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError covers JSON that does not parse and documents of the wrong shape
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("signing keys not fetched from %s: %s", self.metadata_url, reason)
            self._last_failed = True
            return False
        finally:
            self._fetch = None
        self._keys, self._fetched_at, self._last_failed = keys, self._clock.now(), False
        log.info("signing keys fetched", extra={"keys": len(keys)})
        return True

    async def _download(self) -> dict[str, SigningKey]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        metadata = await self._json(self.metadata_url)
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise _Unusable("the OpenID metadata has no jwks_uri")
        entries = (await self._json(jwks_uri)).get("keys")
        if not isinstance(entries, list):
            raise _Unusable("the JWKS has no list of keys")
        keys = {kid: key for kid, key in map(_parse, entries) if key is not None}
        if not keys:
            raise _Unusable("the JWKS holds no usable RSA signing key")
        return keys

    async def _json(self, url: str) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(url, raise_for_status=True) as response:
            document = json.loads(await response.read())
        if not isinstance(document, dict):
            raise _Unusable(f"{url} is not a JSON object")
        return document


def _parse(entry: Any) -> tuple[str, SigningKey | None]:
    """One JWKS entry; a malformed one is skipped rather than spoiling the whole list."""
    if not isinstance(entry, dict):
        return "", None
    kid, n, e = entry.get("kid"), entry.get("n"), entry.get("e")
    endorsements = entry.get("endorsements", [])
    if (
        not (isinstance(kid, str) and kid and isinstance(n, str) and isinstance(e, str))
        or entry.get("kty") != "RSA"
        or entry.get("use", "sig") != "sig"
        or not (isinstance(endorsements, list) and all(isinstance(x, str) for x in endorsements))
    ):
        return "", None
    try:
        public_key = RSAAlgorithm.from_jwk({"kty": "RSA", "n": n, "e": e})
    except (InvalidKeyError, ValueError):
        return "", None
    if not isinstance(public_key, RSAPublicKey):
        return "", None
    return kid, SigningKey(public_key, frozenset(endorsements))
