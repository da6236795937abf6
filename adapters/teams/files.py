"""Forms as files in a person's 1:1 chat: Teams' file consent flow for bots.

A notification to a person that files forms (``Notification.documents``) is followed, in the same
chat, by one FileConsentCard per form and format. When the person presses Allow, Teams creates
an empty file in their OneDrive and sends the bot a ``fileConsent/invoke`` with an upload URL;
the bot draws the form, PUTs its bytes there, and posts a file info card that opens it.

No copy of the form is kept for this: the card's ``acceptContext`` names only the notification's
key, the document's index and the format, and on Allow the bytes are drawn again from the
notification in the outbox, which already holds the ``FormDocument`` the engine decided. Only
the person the notification was for can have it uploaded. Drawing the form is another adapter's
job (``adapters.documents``): this module takes a renderer, which the composition root injects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from botbuilder.core import InvokeResponse, MessageFactory, TurnContext
from botbuilder.schema import Activity, Attachment

from adapters.teams.inbound import is_loopback_name
from dialogs import texts
from dialogs.audit import CaseRead, ReadKind
from dialogs.documents import FormDocument, document_file_name
from dialogs.notifications import Notification, RecipientKind
from dialogs.ports import Clock, Store

log = logging.getLogger("escalation_bot.teams")

DocumentRenderer = Callable[[FormDocument, str], bytes]
"""Draw ``document`` in one format ("pdf" or "docx") and return the file's bytes."""

FILE_CONSENT = "fileConsent/invoke"
CONSENT_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.info"
FORMAT_NAMES = {"pdf": "PDF", "docx": "Word"}
UPLOAD_TIMEOUT_SECONDS = 8.0  # with drawing and the file card, well inside Teams' 15 s for invokes


@dataclass(frozen=True)
class TeamsFiles:
    """What the notifier and the bot share: the renderer, and which formats go into a chat."""

    render: DocumentRenderer
    formats: tuple[str, ...] = ("pdf",)
    local: bool = False  # no-credential mode: an upload URL must be on loopback too
    upload_timeout_seconds: float = UPLOAD_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMAT_NAMES]
        if unknown:
            raise ValueError(f"no file format known for {', '.join(unknown)}")

    async def draw(self, document: FormDocument, fmt: str) -> bytes:
        """CPU work (0.1-0.3 s a PDF): off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            None, partial(self.render, document, fmt)
        )

    async def consent_cards(self, notification: Notification) -> list[Attachment]:
        """One FileConsentCard per form and format, for a person's 1:1 chat. Its description,
        name and contexts carry the case reference and the form's name, never the child."""
        if notification.recipient.kind is not RecipientKind.PERSON:
            return []  # forms hold a child's details: never into a channel
        cards = []
        for index, document in enumerate(notification.documents):
            for fmt in self.formats:
                size = len(await self.draw(document, fmt))
                context = {"notification": notification.key, "document": index, "format": fmt}
                cards.append(
                    Attachment(
                        content_type=CONSENT_CONTENT_TYPE,
                        name=document_file_name(document, fmt),
                        content={
                            "description": texts.TEAMS_FILE_DESCRIPTION.format(
                                form=document.title,
                                reference=document.case_reference,
                                format=FORMAT_NAMES[fmt],
                            ),
                            "sizeInBytes": size,
                            "acceptContext": context,
                            "declineContext": context,
                        },
                    )
                )
        return cards

    def upload_url_ok(self, url: str) -> bool:
        """https (OneDrive's); in no-credential mode, where nothing authenticates the invoke,
        only loopback, as for the serviceUrl."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return False
        if self.local:
            return parts.scheme in ("http", "https") and is_loopback_name(host)
        return parts.scheme == "https" and bool(host)

    async def upload(self, url: str, data: bytes) -> None:
        """One PUT of the whole file, as Teams' upload session takes it. Raises on failure."""
        size = len(data)
        headers = {"Content-Length": str(size), "Content-Range": f"bytes 0-{size - 1}/{size}"}
        timeout = aiohttp.ClientTimeout(total=self.upload_timeout_seconds)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.put(url, data=data, headers=headers) as response,
        ):
            await response.read()
            response.raise_for_status()


@dataclass(frozen=True)
class ConsentRequest:
    """A ``fileConsent/invoke`` as Teams sends it, with the context our card carried."""

    action: str
    notification_key: str
    document: int
    fmt: str
    upload: dict[str, Any]


def consent_request(value: Any) -> ConsentRequest | None:
    if not isinstance(value, dict) or value.get("type") != "fileUpload":
        return None
    action = value.get("action")
    context = value.get("context")
    if action not in ("accept", "decline") or not isinstance(context, dict):
        return None
    key, index, fmt = context.get("notification"), context.get("document"), context.get("format")
    if not isinstance(key, str) or not isinstance(fmt, str):
        return None
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    upload = value.get("uploadInfo")
    if action == "accept" and not isinstance(upload, dict):
        return None
    return ConsentRequest(action, key, index, fmt, upload if isinstance(upload, dict) else {})


class FileConsent:
    """The bot's side of the flow: Allow uploads and shows the file; Decline says how to get it."""

    def __init__(
        self, files: TeamsFiles, store: Store, email_for_aad: Callable[[str], str | None],
        clock: Clock,
    ) -> None:
        self.files, self.store, self.email_for_aad = files, store, email_for_aad
        self.clock = clock

    async def on_invoke(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        request = consent_request(activity.value)
        if request is None:
            return _answer(400, "malformed file consent")
        found = await asyncio.get_running_loop().run_in_executor(
            None, self.store.notification, request.notification_key
        )
        notification = found[0] if found else None
        sender = activity.from_property
        clicker = self.email_for_aad(sender.aad_object_id or "") if sender else None
        if (
            notification is None
            or clicker is None
            or notification.recipient.kind is not RecipientKind.PERSON
            or notification.recipient.address != clicker.lower()
        ):
            # someone else's card (or none of ours): nothing drawn, nothing uploaded
            log.warning("teams file consent refused", extra={"reason": "not the recipient"})
            return _answer(403, "not yours")
        # the reference queued with the message; older rows have none, their forms do
        documents = notification.documents
        reference = notification.reference or (documents[0].case_reference if documents else "")
        if request.action == "decline":
            await self._say(turn_context, texts.TEAMS_FILE_DECLINED.format(reference=reference))
            return _answer(200)
        if (
            request.document >= len(notification.documents)
            or request.fmt not in self.files.formats
        ):
            return _answer(400, "no such file")
        document = notification.documents[request.document]
        url = request.upload.get("uploadUrl")
        if not isinstance(url, str) or not self.files.upload_url_ok(url):
            log.warning("teams file consent refused", extra={"reason": "upload URL not allowed"})
            return _answer(400, "upload URL not allowed")
        try:
            data = await self.files.draw(document, request.fmt)
            await self.files.upload(url, data)
        except Exception as exc:  # drawing, the network, or OneDrive refusing alike
            # one line, naming only what failed: no URL (it names the person's OneDrive), no
            # file name or content
            log.warning("teams file upload failed: %s", _reason(exc))
            await self._say(
                turn_context, texts.TEAMS_FILE_NOT_UPLOADED.format(reference=reference)
            )
            return _answer(200)
        # the form, with the child's details, is now in their OneDrive: the case's read log says so
        read = CaseRead(case_id=notification.case_id, at=self.clock.now(), reader=clicker.lower(),
                        kind=ReadKind.DOCUMENT, platform="teams",
                        detail=f"{document.form_id} {request.fmt}")
        await asyncio.get_running_loop().run_in_executor(None, self.store.record_read, read, 0.0)
        info = request.upload
        card = Attachment(
            content_type=FILE_INFO_CONTENT_TYPE,
            name=str(info.get("name") or document_file_name(document, request.fmt)),
            content_url=str(info.get("contentUrl") or ""),
            content={"uniqueId": info.get("uniqueId"), "fileType": info.get("fileType")},
        )
        await self._say(turn_context, MessageFactory.attachment(card))
        return _answer(200)

    async def _say(self, turn_context: TurnContext, activity: Activity | str) -> None:
        try:
            await turn_context.send_activity(activity)
        except Exception as exc:  # the file is in their OneDrive either way; Teams shows it
            log.warning("teams reply not delivered", extra={"error": type(exc).__name__})


def _reason(error: Exception) -> str:
    if isinstance(error, aiohttp.ClientResponseError):
        return f"upload answered {error.status}"
    if isinstance(error, TimeoutError):
        return "upload timed out"
    return type(error).__name__


def _answer(status: int, reason: str = "") -> InvokeResponse:
    return InvokeResponse(status=status, body={"error": reason} if reason else None)
