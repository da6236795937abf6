"""People on Teams known only by their work email: the bot learns their account from their first
message, through the real botbuilder endpoint and a fake Bot Connector that answers member
look-ups (GET /v3/conversations/{id}/members/{userId}) as Teams does; and people it does not know
are told how to be added while their partnership's business team is told who asked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from support import derived_config
from teams_harness import (
    DANA,
    HANA,
    IVO,
    TICKER_KEY,
    Harness,
    card_text,
    intake_values,
    open_harness,
)

from bot.delivery import RoutingNotifier
from dialogs.cards import Card
from dialogs.case import Case
from dialogs.notifications import Notification, Recipient

BUSINESS = "19:northbay-business@thread.tacv2"
PAT = ("pat.quill@health.northbay.example", "00000000-0000-0000-0000-0000000000777")


def hana_by_email_only(tmp_path: Path, business_on_teams: bool = False) -> Path:
    """The example directory with Hana's Entra ID object id removed (and, if asked, Northbay's
    business team on a Teams channel)."""

    def edit(data: dict[str, Any]) -> None:
        for person in data["people"]:
            if person["email"] == HANA[0]:
                person.pop("teams_aad_object_id")
        if business_on_teams:
            data["partnerships"][0]["alerts"]["business_team"] = f"teams:{BUSINESS}"

    return derived_config(tmp_path, edit)


def chat(who: tuple[str, str]) -> str:
    return f"a:chat-with-{who[1]}"


def seen_by(h: Harness, who: tuple[str, str]) -> str:
    """Every text and card sent into someone's chat."""
    cards = [card_text(card) for card in h.connector.cards_to(chat(who))]
    return " ".join([*h.connector.texts_to(chat(who)), *cards])


def routing(h: Harness) -> RoutingNotifier:
    notifier = h.web_app[TICKER_KEY].notifier
    assert isinstance(notifier, RoutingNotifier)
    return notifier


def to_hana(case: Case) -> Notification:
    """Any person notification will do: where it would go is all that is asked."""
    return Notification(key="probe", case_id=case.id, recipient=Recipient.person(HANA[0]),
                        card=Card(title="probe"), deliver_at=case.raised_at, kind="probe")


async def raise_about_hana(h: Harness, reference: str) -> Case:
    await h.say(DANA, "escalate")
    await h.click(DANA, "intake", intake_values(h.app))
    case = h.app.store.find_case_by_reference(reference)
    assert case is not None
    return case


async def test_someone_known_only_by_email_is_learned_and_then_reached_on_teams(
    tmp_path: Path,
) -> None:
    config = hana_by_email_only(tmp_path)
    async with open_harness(tmp_path, config) as h:
        assert h.app.store.identity("teams", HANA[0]) is None
        first = await raise_about_hana(h, "NB-0001")
        # not yet on Teams: her message went by email (none configured here, so it failed)
        assert routing(h).platform_for(to_hana(first)) == "email"
        assert h.connector.cards_to(chat(HANA)) == []

        # her first message: the bot asks Teams who she is and finds her work email
        h.connector.add_member(HANA, name="Hana Moss", upn=HANA[0].upper())
        assert await h.say(HANA, "help") == 201
        assert h.connector.member_lookups == [(chat(HANA), f"29:{HANA[1]}")]
        assert any("**escalate**" in t for t in h.connector.texts_to(chat(HANA)))
        assert h.app.store.identity("teams", HANA[0]) == HANA[1]
        assert h.app.store.last_platform(HANA[0]) == "teams"
        await h.say(HANA, "status")  # known now: no second look-up
        assert len(h.connector.member_lookups) == 1
        assert "NB-0001" in seen_by(h, HANA)

        # a later case reaches her in her own Teams chat, rendered as a Teams card
        second = await raise_about_hana(h, "NB-0002")
        assert routing(h).platform_for(to_hana(second)) == "teams"
        cards = h.connector.cards_to(chat(HANA))
        assert any("NB-0002" in card_text(card) for card in cards)

    # learned ids live in the store: a restarted bot knows her without asking Teams again
    async with open_harness(tmp_path, config) as h:
        assert h.app.store.identity("teams", HANA[0]) == HANA[1]
        await h.say(HANA, "status")
        assert h.connector.member_lookups == []
        assert "NB-0002" in seen_by(h, HANA)


async def test_an_account_claiming_someone_elses_address_takes_nothing_over(
    tmp_path: Path,
) -> None:
    config = hana_by_email_only(tmp_path)
    async with open_harness(tmp_path, config) as h:
        impostor = (DANA[0], "00000000-0000-0000-0000-00000000dead")
        h.connector.add_member(impostor, name="Not Dana")
        await h.say(impostor, "status")
        (answer,) = h.connector.texts_to(chat(impostor))
        assert "with another Teams account" in answer
        assert h.app.store.identity("teams", DANA[0]) == DANA[1]  # as configured
        assert h.app.store.email_for_identity("teams", impostor[1]) is None


async def test_a_stranger_is_told_how_to_be_added_and_the_business_team_who_asked(
    tmp_path: Path,
) -> None:
    config = hana_by_email_only(tmp_path, business_on_teams=True)
    async with open_harness(tmp_path, config) as h:
        channel = {"id": BUSINESS, "conversationType": "channel", "tenantId": "tenant-1"}
        await h.post(h.activity(IVO, text="hi", conversation=channel))  # the bot is installed
        h.connector.add_member(PAT, name="Pat Quill")
        await h.say(PAT, "escalate")
        (answer,) = h.connector.texts_to(chat(PAT))
        assert "I don't know you yet" in answer and PAT[0] in answer
        assert "business team" in answer
        alerts = [card_text(c) for c in h.connector.cards_to(BUSINESS)]
        assert len(alerts) == 1
        assert "Pat Quill" in alerts[0] and PAT[0] in alerts[0]
        # her domain is Northbay's: the other partnerships' business teams are not told
        assert h.app.store.notification(f"directory_request:havenport:{PAT[0]}:2027-02-01") is None

        await h.say(PAT, "status")  # again the same day: answered, the team not told again
        assert len(h.connector.texts_to(chat(PAT))) == 2
        assert len(h.connector.cards_to(BUSINESS)) == 1

        h.clock.advance(timedelta(days=1))
        await h.say(PAT, "hello?")
        assert len(h.connector.cards_to(BUSINESS)) == 2
        assert h.app.store.identity("teams", PAT[0]) is None
