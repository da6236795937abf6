"""Wire the Teams adapter: Bot Framework authentication, the bot, its route and its notifier.

With no MicrosoftAppId the bot runs in local no-credential mode (for Microsoft's Agents
Playground), and then only on a loopback address: anywhere else it refuses to start, because an
unauthenticated endpoint would let anyone act as anyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

from adapters.teams.bot import TeamsBot
from adapters.teams.notifier import TeamsNotifier
from adapters.teams.route import TeamsEndpoint
from bot.bootstrap import App
from bot.settings import Settings, SettingsError, is_loopback
from dialogs.conversation import ConversationService


class _BotFrameworkConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password
        self.APP_TYPE = settings.microsoft_app_type
        self.APP_TENANTID = settings.microsoft_app_tenant_id


def check_credentials(settings: Settings) -> None:
    if not settings.microsoft_app_id and not is_loopback(settings.host):
        raise SettingsError(
            f"MicrosoftAppId is not set, so requests cannot be authenticated; local no-credential"
            f" mode only listens on 127.0.0.1 or ::1, not {settings.host}. Set MicrosoftAppId and"
            " MicrosoftAppPassword, or bind to loopback."
        )


@dataclass
class Teams:
    endpoint: TeamsEndpoint
    notifier: TeamsNotifier
    aad_for_email: Callable[[str], str | None]


def build_teams(app: App, settings: Settings, after_turn: Callable[[], None]) -> Teams:
    check_credentials(settings)
    email_to_aad = {
        p.email: p.teams_aad_object_id for p in app.config.people if p.teams_aad_object_id
    }
    aad_to_email = {aad: email for email, aad in email_to_aad.items()}
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_BotFrameworkConfig(settings)))
    conversation = ConversationService(app.engine, app.store, today=lambda: app.clock.now().date())
    bot = TeamsBot(conversation, app.store, aad_to_email.get, after_turn)
    notifier = TeamsNotifier(adapter, settings.microsoft_app_id, app.store, email_to_aad.get)
    return Teams(TeamsEndpoint(adapter, bot), notifier, email_to_aad.get)
