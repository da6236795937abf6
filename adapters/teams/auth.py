"""Who may post to /api/messages: the Bot Connector, proven by a token it signed for this bot.

The SDK's inbound validation (JwtTokenValidation → ChannelValidation / EmulatorValidation →
JwtTokenExtractor) let forged tokens escape as KeyError, IndexError, bare Exception and
requests' ConnectionError, which became 500s, and it fetched keys blocking the event loop. So
the inbound check is ours, behind the SDK's own extension point: CloudAdapter takes any
`BotFrameworkAuthentication`, and this one validates the token itself and leaves everything
outbound (connector clients, user tokens, credentials) to the SDK's implementation.

Accepted: RS256 tokens issued by the public Bot Framework (`https://api.botframework.com`),
signed by a published key endorsed for the activity's channel, for this bot's app id, unexpired,
naming the activity's serviceUrl. Emulator and skill tokens are not: this bot is a Teams bot.
Every failure is `Unauthorized`, with a short reason for the log; a missing key list is
`KeysUnavailable`, because then nobody's token can be checked.

Outbound clients are kept: the SDK's factories build a new ConnectorClient and UserTokenClient
for every turn, and each one rebuilds msrest's configuration (its ClientRetryPolicy alone costs
5-7 ms, twice per turn). ``ReusedConnectors`` keeps one per app id, service URL and audience, as
botbuilder's own BotFrameworkAdapter does with its connector-client cache; the credentials in
them refresh their tokens themselves. Each kept connector client sends through one shared
aiohttp session on the event loop instead of msrest's ``requests`` in the thread pool
(connector_http.py).
"""

from __future__ import annotations

from typing import Any

import jwt
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    SkillValidation,
    UserTokenClient,
)
from botframework.connector.skills import BotFrameworkClient

from adapters.teams.connector_http import SharedSession, on_shared_session
from adapters.teams.signing_keys import SigningKeys

ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
ALGORITHM = "RS256"  # what Microsoft signs with; the SDK also decodes RS256 only
LEEWAY_SECONDS = 300  # the SDK's clock tolerance for exp and nbf


class Unauthorized(PermissionError):
    """The request does not carry a valid Bot Connector token for this bot; the message is a
    short reason for the log (never the token, never anything from the request body)."""


def _bearer(auth_header: str | None) -> str:
    parts = (auth_header or "").split(" ")
    if len(parts) != 2 or parts[0] != "Bearer" or not parts[1]:
        raise Unauthorized("no bearer token")
    return parts[1]


class ChannelTokenValidator:
    def __init__(self, app_id: str, keys: SigningKeys) -> None:
        self.app_id = app_id
        self.keys = keys

    async def claims(
        self, auth_header: str | None, channel_id: str | None, service_url: str | None
    ) -> dict[str, Any]:
        token = _bearer(auth_header)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed token ({type(exc).__name__})") from None
        # checks that need no key first: junk never makes us fetch keys
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("signing algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token names no signing key")
        if unverified.get("iss") != ISSUER:
            raise Unauthorized("not issued by the Bot Framework")
        key = await self.keys.get(kid)  # KeysUnavailable passes through: nobody can be checked
        if key is None:
            raise Unauthorized("signed with an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                audience=self.app_id,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:  # bad signature, expired, not yet valid, wrong audience
            raise Unauthorized(f"token rejected ({type(exc).__name__})") from None
        if claims.get("aud") != self.app_id:  # PyJWT also accepts a list that contains it
            raise Unauthorized("audience is not exactly this bot")
        if key.endorsements and channel_id and channel_id not in key.endorsements:
            raise Unauthorized("signing key not endorsed for this channel")
        if service_url and claims.get(AuthenticationConstants.SERVICE_URL_CLAIM) != service_url:
            raise Unauthorized("token was issued for another serviceUrl")
        if SkillValidation.is_skill_claim(claims):
            raise Unauthorized("skill tokens are not accepted")
        return claims


MAX_KEPT_CLIENTS = 256  # service URLs are a handful per region; a bound in case of churn


def _app_id(identity: ClaimsIdentity) -> str:
    """The SDK's own choice (``_BuiltinBotFrameworkAuthentication.get_app_id``)."""
    app_id = identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return str(app_id or "")


class KeptClients:
    """The connector and user-token clients built so far, shared by every turn of the process,
    and the one HTTP session the connector clients send through (connector_http.py). ``built``
    and ``served`` count what the factories did (the tests read them)."""

    def __init__(self) -> None:
        self.session = SharedSession()
        self.connectors: dict[tuple[str, str, str], ConnectorClient] = {}
        self.user_tokens: dict[str, UserTokenClient] = {}
        self.built = 0
        self.served = 0

    def keep(self, kept: dict[Any, Any], key: Any, client: Any) -> None:
        if len(kept) >= MAX_KEPT_CLIENTS:
            kept.pop(next(iter(kept)))
        kept[key] = client
        self.built += 1


class ReusedConnectors(ConnectorFactory):
    """The SDK's ConnectorFactory, building each client once (see the module's docstring)."""

    def __init__(self, inner: ConnectorFactory, app_id: str, kept: KeptClients) -> None:
        self.inner = inner
        self.app_id = app_id
        self.kept = kept

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self.app_id, service_url or "", audience or "")
        client = self.kept.connectors.get(key)
        if client is None:
            made = await self.inner.create(service_url, audience)
            client = on_shared_session(made, service_url, self.kept.session)
            self.kept.keep(self.kept.connectors, key, client)
        self.kept.served += 1
        return client


class TeamsAuthentication(BotFrameworkAuthentication):
    """Inbound: our validator (or, in local no-credential mode, the SDK's anonymous identity).
    Outbound: the SDK's own authentication, unchanged."""

    def __init__(
        self, sdk: BotFrameworkAuthentication, validator: ChannelTokenValidator | None
    ) -> None:
        self.sdk = sdk
        self.validator = validator
        self.kept = KeptClients()

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        if self.validator is None:
            if auth_header:
                raise Unauthorized("a token was sent, but no MicrosoftAppId is set to check it")
            anonymous = await self.sdk.authenticate_request(activity, auth_header)
            if anonymous.connector_factory is not None:
                anonymous.connector_factory = ReusedConnectors(
                    anonymous.connector_factory, _app_id(anonymous.claims_identity), self.kept
                )
            return anonymous
        claims = await self.validator.claims(
            auth_header, activity.channel_id, activity.service_url
        )
        identity = ClaimsIdentity(claims, True)
        result = AuthenticateRequestResult()
        result.claims_identity = identity
        result.audience = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        result.caller_id = CallerIdConstants.public_azure_channel
        result.connector_factory = self.create_connector_factory(identity)
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        raise Unauthorized("streaming connections are not served")

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        raise Unauthorized("skill requests are not served")

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return ReusedConnectors(
            self.sdk.create_connector_factory(claims_identity), _app_id(claims_identity), self.kept
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = _app_id(claims_identity)
        client = self.kept.user_tokens.get(app_id)
        if client is None:
            client = await self.sdk.create_user_token_client(claims_identity)
            self.kept.keep(self.kept.user_tokens, app_id, client)
        self.kept.served += 1
        return client

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self.sdk.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self.sdk.get_originating_audience())
