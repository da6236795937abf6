"""Forms as files in Teams: the file consent flow, played by the fake Bot Connector and its fake
OneDrive upload endpoint (``teams_harness.py``), through the real botbuilder adapter and our
route over real HTTP on loopback.

NSSCP copies Appendix 1 to the business manager (Ivo Fell, who has Teams) when a case is
resolved at stage 2, so that is what sends him a form.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import docx
import pytest
from pypdf import PdfReader
from teams_harness import CAL, DANA, HANA, IVO, Harness, card_text, intake_values, open_harness

from adapters.documents.fonts import FontMissing
from adapters.teams.files import TeamsFiles
from bot.delivery import render_form
from bot.settings import Settings, SettingsError
from dialogs.audit import ReadKind
from dialogs.documents import FormDocument

IVO_CHAT = f"a:chat-with-{IVO[1]}"
CHILD_NAME = "Zoë Ó'Brien"  # a name that must never reach a log, file name or card context


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as h:
        yield h


async def resolve_at_stage_2(h: Harness) -> None:
    await h.say(DANA, "escalate")
    card = await h.click(DANA, "intake", {**intake_values(h.app), "child_name": CHILD_NAME})
    assert "raised" in card_text(card)
    case = h.case()
    await h.click(HANA, "escalate", {"case_id": case.id, "version": str(case.version),
                                     "submit": "1", "unresolved": "Whether it is needed"})
    assert h.case().stage == 2
    case = h.case()
    card = await h.click(CAL, "resolve", {"case_id": case.id, "version": str(case.version),
                                          "submit": "1", "summary": "Agreed a joint assessment.",
                                          "agreed_actions": "Joint visit; Cal Birch; 12/02/2027"})
    assert "resolved at stage 2" in card_text(card)


def consent_card(h: Harness) -> dict[str, Any]:
    cards = h.connector.consent_cards_to(IVO_CHAT)
    assert len(cards) == 1, cards  # one form, offered as PDF only
    return cards[0]


async def test_a_form_reaches_its_person_as_a_pdf_in_their_chat(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.DEBUG)
    await resolve_at_stage_2(h)
    case = h.case()

    # after the form's card, one FileConsentCard: a safe name, no child data anywhere in it
    card = consent_card(h)
    assert card["name"] == f"{case.reference}-appendix-1-stage-2.pdf"
    content = card["content"]
    assert content["sizeInBytes"] > 1000
    assert case.reference in content["description"] and "(PDF)" in content["description"]
    assert content["acceptContext"]["document"] == 0
    assert content["acceptContext"]["format"] == "pdf"
    assert set(content["acceptContext"]) == {"notification", "document", "format"}
    assert CHILD_NAME not in json.dumps(card)
    order = [a["contentType"] for activity in h.connector.sent
             if activity["_conversation"] == IVO_CHAT for a in activity["attachments"]]
    assert order.index("application/vnd.microsoft.card.adaptive") < order.index(
        "application/vnd.microsoft.teams.card.file.consent")

    # Allow: the bot draws the form again from the outbox and uploads it to Ivo's OneDrive
    status, _, file_id = await h.consent(IVO, card)
    assert status == 200
    pdf = h.connector.uploads[file_id]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert CHILD_NAME in text and case.reference in text
    assert "Agreed a joint assessment." in text and "Joint visit (Cal Birch" in text

    # and posts a file info card that opens it
    (info,) = h.connector.file_info_cards_to(IVO_CHAT)
    assert info["name"] == card["name"]
    assert info["contentUrl"].endswith(file_id)
    assert info["content"] == {"uniqueId": file_id, "fileType": "pdf"}
    assert CHILD_NAME not in caplog.text

    # the upload put the child's details in Ivo's OneDrive: the case's read log says so
    (read,) = h.app.store.reads(case.id)
    assert (read.reader, read.kind, read.platform, read.detail) == (
        IVO[0], ReadKind.DOCUMENT, "teams", "appendix-1 pdf")
    assert h.case().version == case.version  # a read moves no card out of date


async def test_decline_says_how_to_get_the_form(harness: Harness) -> None:
    h = harness
    await resolve_at_stage_2(h)
    status, _, _ = await h.consent(IVO, consent_card(h), action="decline")
    assert status == 200
    reference = h.case().reference
    assert any(f"escalation-bot record {reference}" in t for t in h.connector.texts_to(IVO_CHAT))
    assert h.connector.uploads == {}


async def test_someone_else_accepting_is_refused_and_nothing_is_uploaded(harness: Harness) -> None:
    h = harness
    await resolve_at_stage_2(h)
    sent_before = len(h.connector.sent)
    status, _, _ = await h.consent(DANA, consent_card(h))  # Dana's click on Ivo's card
    assert status == 403
    assert h.connector.uploads == {}
    assert len(h.connector.sent) == sent_before  # nothing posted anywhere
    assert h.app.store.reads(h.case().id) == []  # and nobody saw anything
    assert h.connector.file_info_cards_to(f"a:chat-with-{DANA[1]}") == []


async def test_a_failed_upload_says_how_to_get_the_form(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    await resolve_at_stage_2(h)
    h.connector.upload_status = 500
    caplog.set_level(logging.WARNING)
    status, _, _ = await h.consent(IVO, consent_card(h))
    assert status == 200  # answered: Teams would otherwise show its own error
    assert h.connector.uploads == {}
    assert h.connector.file_info_cards_to(IVO_CHAT) == []  # no file card for a file not there
    reference = h.case().reference
    assert any("could not save the file" in t and f"record {reference}" in t
               for t in h.connector.texts_to(IVO_CHAT))
    failures = [r for r in caplog.records if "upload failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelname == "WARNING"
    assert "500" in failures[0].getMessage()
    assert CHILD_NAME not in caplog.text and "upload/" not in caplog.text


async def test_an_upload_url_off_loopback_is_refused_in_no_credential_mode(
    harness: Harness,
) -> None:
    h = harness
    await resolve_at_stage_2(h)
    card = consent_card(h)
    body = h.activity(IVO, type="invoke", name="fileConsent/invoke", value={
        "type": "fileUpload", "action": "accept", "context": card["content"]["acceptContext"],
        "uploadInfo": {"uploadUrl": "https://elsewhere.example/upload", "name": card["name"],
                       "contentUrl": "https://elsewhere.example/f", "uniqueId": "x",
                       "fileType": "pdf"}})
    status, _ = await h.post(body)
    assert status == 400
    assert h.connector.file_info_cards_to(IVO_CHAT) == []


def _no_font(document: FormDocument, fmt: str) -> bytes:
    """What rendering does on a machine without the PDF font."""
    raise FontMissing("the PDF font is not installed")


async def test_a_form_that_cannot_be_drawn_is_not_offered_and_the_card_says_how_to_get_it(
    tmp_path: Path,
) -> None:
    async with open_harness(tmp_path, render=_no_font) as h:
        await resolve_at_stage_2(h)
        assert h.connector.consent_cards_to(IVO_CHAT) == []
        reference = h.case().reference
        assert any(f"escalation-bot record {reference}" in card_text(c)
                   for c in h.connector.cards_to(IVO_CHAT))


async def test_docx_too_when_both_formats_are_offered(tmp_path: Path) -> None:
    async with open_harness(tmp_path, teams_file_formats=("pdf", "docx")) as h:
        await resolve_at_stage_2(h)
        cards = h.connector.consent_cards_to(IVO_CHAT)
        assert [c["name"].rsplit(".", 1)[1] for c in cards] == ["pdf", "docx"]
        status, _, file_id = await h.consent(IVO, cards[1])
        assert status == 200
        opened = docx.Document(io.BytesIO(h.connector.uploads[file_id]))
        cells = "\n".join(c.text for t in opened.tables for r in t.rows for c in r.cells)
        assert CHILD_NAME in cells and "Agreed a joint assessment." in cells
        (info,) = h.connector.file_info_cards_to(IVO_CHAT)
        assert info["content"]["fileType"] == "docx"


def test_upload_urls_with_credentials_must_be_https() -> None:
    render = render_form
    files = TeamsFiles(render)
    assert files.upload_url_ok("https://contoso-my.sharepoint.com/personal/x/upload")
    assert not files.upload_url_ok("http://contoso-my.sharepoint.com/upload")
    assert not files.upload_url_ok("file:///etc/passwd")
    with pytest.raises(ValueError):
        TeamsFiles(render, formats=("exe",))


def test_which_formats_go_to_a_chat_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESCALATION_BOT_TEAMS_FILE_FORMATS", raising=False)
    assert Settings.from_env().teams_file_formats == ("pdf",)
    monkeypatch.setenv("ESCALATION_BOT_TEAMS_FILE_FORMATS", "PDF, docx")
    assert Settings.from_env().teams_file_formats == ("pdf", "docx")
    monkeypatch.setenv("ESCALATION_BOT_TEAMS_FILE_FORMATS", "pdf,exe")
    with pytest.raises(SettingsError, match="ESCALATION_BOT_TEAMS_FILE_FORMATS"):
        Settings.from_env()
