"""The Bot Connector calls (replies, proactive messages, new chats, member look-ups) over one
shared aiohttp session, on the event loop.

botbuilder's ConnectorClient sends through msrest's ``requests`` driver: every call a hand-off to
the thread pool, proxy variables read again each time, a connection pool per client. msrest's own
aiohttp sender cannot replace it: it sends neither the request's headers nor its body. The SDK's
extension point is the client's pipeline (``ConnectorClient(..., pipeline_type=...)``, which
``BotFrameworkConnectorConfiguration`` calls with the client's configuration), so ours is a
pipeline of msrest's own policies with two parts of our own:

- ``BearerPolicy`` signs each request as msrest's requests-credentials policy does, through the
  SDK's public ``AppCredentials.signed_session``: a bearer token from the app's credentials (none
  in local no-credential mode), set on a requests session that is never used to send, then copied
  onto the request.
- ``SessionSender`` sends it with the shared ``aiohttp.ClientSession``, with the configuration's
  connect and read timeout (msrest's 100 s each, as requests applied them), its redirect policy
  and its proxy (the configuration's, else the environment's, read once per client). A transport
  failure raises msrest's ``ClientRequestError`` as the requests driver does; an HTTP error status
  comes back to the SDK's operations, which raise ``ErrorResponseException`` as before, with
  ``.response`` the aiohttp response (``.status``).

Retries are the requests driver's: a connection that could not be made is tried three more times
(at once, then after 1.6 and 3.2 s); an answered request is not (with urllib3 2 the driver never
retried a POST's 5xx either; it did retry a GET's, the member look-up, which now fails at once and
leaves the sender unknown for that turn). A proactive message that fails is retried by the outbox
on its own schedule, and a reply that fails is logged (route.py).
tests/test_teams_connector_http.py fails if the SDK stops taking a pipeline this way.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
from botframework.connector.aio import ConnectorClient
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPSender, AsyncPipeline, Request, Response, SansIOHTTPPolicy
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http import AsyncClientResponse, ClientRequest
from multidict import CIMultiDict

# What msrest's requests driver did when no connection could be made (urllib3's Retry: connect=3,
# back-off 0.8 s doubling, the first retry at once). It never retried a POST that was answered:
# urllib3 2 ignores msrest's method_whitelist, so a 5xx reply is the caller's to handle.
CONNECT_RETRY_DELAYS = (0.0, 1.6, 3.2)


class SharedSession:
    """One aiohttp session for every connector client of the process, opened on first use (on the
    running loop) and closed with the app. ``requests`` counts what was sent through it."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.sleep = sleep  # between connection attempts (tests pass one that records)

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()  # proxies: SessionSender
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as
    requests and aiohttp read it; None for none or a host NO_PROXY exempts."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    proxies = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass_environment(parts.hostname, proxies):
        return None
    return proxies.get(parts.scheme)


class BearerPolicy(SansIOHTTPPolicy):  # type: ignore[misc]
    """The app's bearer token on every request (see the module's docstring)."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials
        self._holder = requests.Session()  # only carries the header the SDK sets

    def on_request(self, request: Request, **kwargs: Any) -> None:
        signed = self._credentials.signed_session(self._holder)
        authorization = signed.headers.get("Authorization")
        if authorization:
            request.http_request.headers["Authorization"] = authorization
        else:
            request.http_request.headers.pop("Authorization", None)


class _Answer(AsyncClientResponse):  # type: ignore[misc]
    """The response as msrest's deserializers read it: the whole body already read."""

    def __init__(self, request: ClientRequest, raw: aiohttp.ClientResponse, body: bytes) -> None:
        super().__init__(request, raw)
        self.status_code = raw.status
        self.headers = CIMultiDict(raw.headers)
        self.reason = raw.reason
        self._body = body

    def body(self) -> bytes:
        return self._body


class SessionSender(AsyncHTTPSender):  # type: ignore[misc]
    """msrest's last pipeline step, sending with the shared session."""

    def __init__(self, config: Any, shared: SharedSession) -> None:
        self._shared = shared
        seconds = config.connection.timeout
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
        self._redirects = config.redirect_policy
        # the proxy for this client's service URL, read from the environment once (aiohttp's
        # trust_env reads the proxy variables and ~/.netrc again for every request, each in a
        # thread-pool hand-off); or the configuration's own, as requests would take it
        self._proxy = config.proxies().get(urlsplit(config.base_url).scheme) or (
            env_proxy(config.base_url) if config.proxies.use_env_settings else None
        )

    async def __aenter__(self) -> SessionSender:
        return self

    async def __aexit__(self, *exc_details: object) -> None:
        return None  # the session is shared: the app closes it

    def build_context(self) -> None:
        return None

    async def send(self, request: Request, **kwargs: Any) -> Response:
        http: ClientRequest = request.http_request
        if http.files:
            raise ClientRequestError("multipart requests are not sent by this bot")
        headers = {k: v for k, v in http.headers.items() if k.lower() != "content-length"}
        data = http.data.encode() if isinstance(http.data, str) else http.data
        session = self._shared.get()
        for delay in (*CONNECT_RETRY_DELAYS, None):
            self._shared.requests += 1
            try:
                async with session.request(
                    http.method,
                    http.url,
                    headers=headers,
                    data=data,
                    proxy=self._proxy,
                    timeout=self._timeout,
                    allow_redirects=bool(self._redirects),
                    max_redirects=int(self._redirects()) or 1,
                ) as raw:
                    body = await raw.read()
                return Response(request, _Answer(http, raw, body))
            except aiohttp.ClientConnectorError as exc:  # nothing was sent: safe to try again
                if delay is None:
                    raise ClientRequestError("Error occurred in request.", exc) from exc
                await self._shared.sleep(delay)
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise ClientRequestError("Error occurred in request.", exc) from exc
        raise AssertionError("unreachable")  # the loop returns or raises


class SessionPipeline(AsyncPipeline):  # type: ignore[misc]
    """msrest's default client pipeline (user agent, credentials, deserializer, HTTP log), with
    ``BearerPolicy`` and ``SessionSender`` for its requests-only parts."""

    def __init__(self, config: Any, shared: SharedSession, user_agent: Any = None) -> None:
        policies: list[Any] = [user_agent or config.user_agent_policy, RawDeserializer(),
                               config.http_logger_policy]
        if config.credentials:
            policies.insert(1, BearerPolicy(config.credentials))
        super().__init__(policies, SessionSender(config, shared))


def on_shared_session(
    made: ConnectorClient, service_url: str, shared: SharedSession
) -> ConnectorClient:
    """A client like ``made`` (the SDK factory's: same credentials, same service URL, same user
    agent) whose requests go through ``shared``."""
    pipeline = partial(SessionPipeline, shared=shared, user_agent=made.config.user_agent_policy)
    return ConnectorClient(made.config.credentials, base_url=service_url, pipeline_type=pipeline)
