"""A stand-in for Microsoft's Bot Framework OpenID endpoints on 127.0.0.1, and tokens to send it.

`FakeMicrosoft` publishes an OpenID metadata document and a JWKS holding real RSA keys generated
here, so a token signed with `mint` is as valid to the bot as one from the Bot Connector. It can
also fail the ways the real endpoints can (an error status, a malformed document). `HangingServer`
accepts connections and never answers, from its own thread, so it keeps "hanging" even when the
event loop under test is blocked.

Imported as ``from fake_openid import ...``, like ``support``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"
APP_ID = "11111111-2222-3333-4444-555555555555"
METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str, endorsements: list[str] | None) -> dict[str, Any]:
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    entry = {**public, "kid": kid, "use": "sig"}
    if endorsements is not None:
        entry["endorsements"] = endorsements
    return entry


def mint(
    key: rsa.RSAPrivateKey | str | None,
    kid: str | None,
    service_url: str,
    *,
    algorithm: str = "RS256",
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A token as the Bot Connector signs it; keyword claims override, `drop` removes."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": APP_ID,
        "serviceurl": service_url,
        "nbf": now - 60,
        "exp": now + 3600,
        **claims,
    }
    for name in drop:
        body.pop(name, None)
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(body, key, algorithm=algorithm, headers=headers)  # type: ignore[arg-type]


@dataclass
class FakeMicrosoft:
    """The metadata document and the keys; `fail` makes an endpoint misbehave on purpose."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    fail: str = ""  # "", "metadata-500", "metadata-not-json", "no-jwks-uri", "keys-not-json", ...
    metadata_hits: int = 0
    key_hits: int = 0
    base_url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    @property
    def metadata_url(self) -> str:
        return self.base_url + METADATA_PATH

    async def metadata(self, request: web.Request) -> web.Response:
        self.metadata_hits += 1
        if self.fail == "metadata-500":
            return web.Response(status=500, text="oops")
        if self.fail == "metadata-not-json":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        if self.fail == "no-jwks-uri":
            return web.json_response({"issuer": ISSUER})
        return web.json_response(
            {
                "issuer": ISSUER,
                "jwks_uri": self.base_url + KEYS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def signing_keys(self, request: web.Request) -> web.Response:
        self.key_hits += 1
        if self.fail == "keys-500":
            return web.Response(status=503)
        if self.fail == "keys-not-json":
            return web.Response(text="{not json")
        if self.fail == "keys-not-a-list":
            return web.json_response({"keys": "none today"})
        if self.fail == "keys-all-broken":
            return web.json_response({"keys": [{"kid": "x", "kty": "RSA", "n": "!", "e": "?"}]})
        return web.json_response({"keys": self.keys})

    def start(self) -> FakeMicrosoft:
        """Serve from a thread with its own event loop, so that code under test which blocked
        its loop on a fetch would fail on time rather than deadlock against this server."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_get(METADATA_PATH, self.metadata)
            app.router.add_get(KEYS_PATH, self.signing_keys)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def close(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


class HangingServer:
    """Accepts TCP connections and never answers; each is dropped after `hold_seconds` at most,
    so even code that waits forever on it gets unstuck and the test can end."""

    def __init__(self, hold_seconds: float = 6.0) -> None:
        self.hold_seconds = hold_seconds
        self.accepted = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self.port = int(self._listener.getsockname()[1])
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{METADATA_PATH}"

    def _serve(self) -> None:
        held: list[tuple[float, socket.socket]] = []
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
                self.accepted += 1
                held.append((time.monotonic() + self.hold_seconds, connection))
            except TimeoutError:
                pass
            now = time.monotonic()
            for entry in [e for e in held if e[0] <= now]:
                entry[1].close()
                held.remove(entry)
        for _, connection in held:
            connection.close()
        self._listener.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
