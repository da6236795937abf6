"""Wire the Teams adapter: Bot Framework authentication, the bot, its route and its notifier.

With no MicrosoftAppId the bot runs in local no-credential mode (for Microsoft's Agents
Playground), and then only on a loopback address: anywhere else it refuses to start, because an
unauthenticated endpoint would let anyone act as anyone. With one, inbound tokens are checked by
our own validator against keys fetched off the request path (adapters/teams/auth.py says why);
the SDK's authentication still does everything outbound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import AuthenticationConstants

from adapters.teams.auth import ChannelTokenValidator, TeamsAuthentication
from adapters.teams.bot import TeamsBot
from adapters.teams.connector_http import SharedSession
from adapters.teams.files import DocumentRenderer, FileConsent, TeamsFiles
from adapters.teams.notifier import CHANNEL_PREFIX, TeamsNotifier
from adapters.teams.route import TeamsEndpoint
from adapters.teams.signing_keys import SigningKeys
from bot.bootstrap import App
from bot.settings import Settings, SettingsError, is_loopback
from dialogs.conversation import ConversationService
from dialogs.people import Directory
from dialogs.reach import TEAMS


class _BotFrameworkConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password
        self.APP_TYPE = app_type(settings)
        self.APP_TENANTID = settings.microsoft_app_tenant_id


APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")  # the SDK's, read case-blind


def app_type(settings: Settings) -> str:
    """MicrosoftAppType in the SDK's spelling. The SDK reads any other value as MultiTenant, so a
    typo would silently run a single-tenant bot as a multi-tenant one."""
    raw = settings.microsoft_app_type or "MultiTenant"  # set but empty: the SDK's default
    for known in APP_TYPES:
        if raw.lower() == known.lower():
            return known
    raise SettingsError(
        f"MicrosoftAppType={raw!r} is not one of {', '.join(APP_TYPES)}; set it to how the bot"
        " is registered in Azure, or unset it for MultiTenant."
    )


def check_credentials(settings: Settings) -> None:
    """Refuse, naming the variable, what the SDK would end in a traceback or accept silently."""
    kind = app_type(settings)
    openid_metadata_url(settings)
    if not settings.microsoft_app_id:
        if kind != "MultiTenant":
            raise SettingsError(
                f"MicrosoftAppType={kind} needs MicrosoftAppId: set it to the bot's app id."
            )
        if settings.microsoft_app_password:
            raise SettingsError(
                "MicrosoftAppPassword is set but MicrosoftAppId is not: set MicrosoftAppId too,"
                " or unset MicrosoftAppPassword for local no-credential mode."
            )
        if not is_loopback(settings.host):
            raise SettingsError(
                "MicrosoftAppId is not set, so requests cannot be authenticated; local"
                " no-credential mode only listens on 127.0.0.1 or ::1, not"
                f" {settings.host}. Set MicrosoftAppId and MicrosoftAppPassword, or bind to"
                " loopback."
            )
        return
    if kind in ("SingleTenant", "UserAssignedMSI") and not settings.microsoft_app_tenant_id:
        raise SettingsError(
            f"MicrosoftAppType={kind} needs MicrosoftAppTenantId: set it to your Entra ID"
            " tenant id, or set MicrosoftAppType=MultiTenant if the bot is registered so."
        )
    if kind != "UserAssignedMSI" and not settings.microsoft_app_password:
        raise SettingsError(
            f"MicrosoftAppPassword is empty: a {kind} bot signs in with its client secret. Set"
            " MicrosoftAppPassword, or MicrosoftAppType=UserAssignedMSI for a managed identity."
        )


def openid_metadata_url(settings: Settings) -> str:
    """Where the Bot Connector's signing keys are published. Whoever controls this document
    decides which tokens are genuine, so an override must be https, or http on loopback."""
    url = settings.openid_metadata_url
    if not url:
        return str(AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL)
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return url
    raise SettingsError(
        f"ESCALATION_BOT_OPENID_METADATA_URL={url!r} must be an https:// URL (or http:// on"
        " 127.0.0.1, for tests); unset it to use Microsoft's."
    )


@dataclass
class Teams:
    endpoint: TeamsEndpoint
    notifier: TeamsNotifier
    aad_for_email: Callable[[str], str | None]
    signing_keys: SigningKeys | None  # None in local no-credential mode
    session: SharedSession  # what the connector clients send through

    async def close(self) -> None:
        if self.signing_keys is not None:
            await self.signing_keys.close()
        await self.session.close()


def build_teams(
    app: App,
    settings: Settings,
    after_turn: Callable[[], None],
    render: DocumentRenderer | None = None,
) -> Teams:
    """``render`` draws forms (bot.delivery.form_renderer); without one, forms are not sent as
    files in Teams and each card says how to get them."""
    check_credentials(settings)
    # the directory in the store: configured accounts and those learned from first messages.
    # Entra ID object ids are GUIDs: the same id in either case, kept lower-case
    directory = Directory(app.store)

    def email_for_aad(aad: str) -> str | None:
        return directory.email_for_account(TEAMS, aad.lower())

    def aad_for_email(email: str) -> str | None:
        return directory.account(TEAMS, email)

    keys, validator = None, None
    if settings.microsoft_app_id:
        keys = SigningKeys(
            openid_metadata_url(settings),
            app.clock,
            timeout_seconds=settings.openid_timeout_seconds,
        )
        validator = ChannelTokenValidator(settings.microsoft_app_id, keys)
    sdk = ConfigurationBotFrameworkAuthentication(_BotFrameworkConfig(settings))
    authentication = TeamsAuthentication(sdk, validator)
    adapter = CloudAdapter(authentication)
    conversation = ConversationService(
        app.engine, app.store, today=lambda: app.clock.now().date(), platform="teams"
    )
    alert_channels = {
        destination.removeprefix(CHANNEL_PREFIX)
        for partnership in app.config.partnerships
        for destination in [partnership.alerts.business_team, *partnership.alerts.stages.values()]
        if destination.startswith(CHANNEL_PREFIX)
    }
    files = (
        TeamsFiles(render, formats=settings.teams_file_formats, local=not settings.microsoft_app_id)
        if render
        else None
    )
    consent = FileConsent(files, app.store, email_for_aad, app.clock) if files else None
    bot = TeamsBot(
        conversation, app.store, email_for_aad, after_turn, alert_channels, consent, directory
    )
    notifier = TeamsNotifier(
        adapter,
        settings.microsoft_app_id,
        app.store,
        aad_for_email,
        tenant_id=settings.microsoft_app_tenant_id,
        files=files,
    )
    endpoint = TeamsEndpoint(adapter, bot, local=not settings.microsoft_app_id)
    return Teams(endpoint, notifier, aad_for_email, keys, authentication.kept.session)
