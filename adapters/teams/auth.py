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
"""

from __future__ import annotations

from typing import Any

import jwt
from botbuilder.schema import Activity, CallerIdConstants
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


class TeamsAuthentication(BotFrameworkAuthentication):
    """Inbound: our validator (or, in local no-credential mode, the SDK's anonymous identity).
    Outbound: the SDK's own authentication, unchanged."""

    def __init__(
        self, sdk: BotFrameworkAuthentication, validator: ChannelTokenValidator | None
    ) -> None:
        self.sdk = sdk
        self.validator = validator

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        if self.validator is None:
            if auth_header:
                raise Unauthorized("a token was sent, but no MicrosoftAppId is set to check it")
            return await self.sdk.authenticate_request(activity, auth_header)  # anonymous
        claims = await self.validator.claims(
            auth_header, activity.channel_id, activity.service_url
        )
        identity = ClaimsIdentity(claims, True)
        result = AuthenticateRequestResult()
        result.claims_identity = identity
        result.audience = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        result.caller_id = CallerIdConstants.public_azure_channel
        result.connector_factory = self.sdk.create_connector_factory(identity)
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        raise Unauthorized("streaming connections are not served")

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        raise Unauthorized("skill requests are not served")

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self.sdk.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        return await self.sdk.create_user_token_client(claims_identity)

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self.sdk.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self.sdk.get_originating_audience())
