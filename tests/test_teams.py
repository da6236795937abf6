"""Teams end to end through the real botbuilder adapter and our route, over real HTTP on loopback,
with fake Bot Connectors (the activities' serviceUrl) capturing everything the bot sends
(``teams_harness.py``).

Time moves only through the simulated clock; the scheduler's tick is run explicitly.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import CHILD_NAME, FAR_FUTURE, derived_config
from teams_harness import (
    BEA,
    CAL,
    CONFIG,
    DANA,
    GUS,
    HANA,
    IVO,
    STRANGER,
    Harness,
    card_text,
    in_tenant,
    intake_values,
    open_harness,
    tenant_of_request,
)

from bot.demo import demo_answers, outcome_answers
from bot.settings import Settings, SettingsError
from bot.teams import check_credentials
from dialogs.case import Case, CaseStatus
from dialogs.commands import ActionInput, RecordInput, Resolve
from dialogs.events import EventType
from dialogs.texts import TEAMS_GROUP_REFUSAL


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(tmp_path) as h:
        yield h


# ---- a whole case -------------------------------------------------------------------------------


async def test_a_case_from_escalate_to_resolution(harness: Harness) -> None:
    h, connector = harness, harness.connector
    dana_chat = f"a:chat-with-{DANA[1]}"

    # /escalate: the form as one card, and its first question as text for typing instead
    assert await h.say(DANA, "/escalate") == 201  # accepted; replies go to the connector
    (form,) = connector.cards_to(dana_chat)
    assert form["version"] == "1.5" and form["type"] == "AdaptiveCard"
    assert {a["verb"] for a in form["actions"]} == {"intake"}
    ids = [element.get("id") for element in form["body"]]
    assert ids.index("immediate_risk") < ids.index("counterpart")  # risk comes first
    assert any("Fill in the card, or answer here" in t for t in connector.texts_to(dana_chat))

    # an invalid submission comes back in the same card with the field's error
    bad = {**intake_values(h.app), "child_dob": "31/02/2016", "summary": ""}
    card = await h.click(DANA, "intake", bad)
    assert "'31/02/2016' is not a date I can read" in card_text(card)
    assert "This is needed." in card_text(card)
    assert h.app.store.open_cases() == []

    # a good one raises the case: Dana sees it, Hana gets a new 1:1 chat with a card
    card = await h.click(DANA, "intake", intake_values(h.app))
    assert "Case NB-0001 raised: Hana Moss is being told now." in card_text(card)
    assert card["refresh"]["userIds"] == [f"29:{DANA[1]}"]
    assert [c["members"][0]["id"] for c in connector.created] == [HANA[1]]
    assert [tenant_of_request(c) for c in connector.created] == ["tenant-1"]
    ping = connector.cards_to(f"a:chat-with-{HANA[1]}")
    assert any("has raised a professional difference with you" in card_text(c) for c in ping)
    verbs = {a["verb"] for a in ping[-1]["actions"]}
    assert {"resolve", "escalate", "handover", "acknowledge"} <= verbs
    case = h.case()

    # Hana cannot agree: the escalate button opens its own small form, then stage 2 starts
    form = await h.click(HANA, "escalate", {"case_id": case.id, "version": str(case.version)})
    assert [e["id"] for e in form["body"] if e.get("id")] == ["unresolved"]
    card = await h.click(HANA, "escalate", {"case_id": case.id, "version": str(case.version),
                                            "submit": "1", "unresolved": "Whether it is needed"})
    assert "moved to stage 2" in card_text(card)
    assert h.case().stage == 2
    created = {c["members"][0]["id"] for c in connector.created}
    assert {CAL[1], GUS[1]} <= created  # both line managers prompted in new chats

    # a stale click (the card Hana had before) changes nothing and says so
    stale = await h.click(HANA, "acknowledge", {"case_id": case.id, "version": str(case.version)})
    assert "has changed since this was shown to you" in card_text(stale)
    assert "Nothing was changed" in card_text(stale)
    assert EventType.ACKNOWLEDGED not in [e.type for e in h.app.store.history(case.id)]

    # Bea (council senior manager) is not on the case yet: she may neither see nor act, and is
    # not even told that there is such a case
    refused = await h.click(BEA, "refresh", {"case_id": case.id})
    assert "I can't find that case" in card_text(refused)
    assert "NB-0001" not in card_text(refused)
    refused = await h.click(BEA, "escalate", {"case_id": case.id, "version": "2"})
    assert "I can't find that case" in card_text(refused)

    # nobody acts at stage 2: the deadline lapses through the clock, the scheduler escalates
    h.clock.set(h.case().stage_due_at + timedelta(minutes=1))
    await h.tick()
    case = h.case()
    assert case.stage == 3
    assert "escalated: deadline lapsed" in [e.summary for e in h.app.store.history(case.id)]

    # Friday morning: the prompts held overnight go out with the due-day reminder (stage 3 is due
    # Fri 17:00); Bea records the resolution from the card as it now stands
    h.clock.set(datetime(2027, 2, 5, 9, 30, tzinfo=UTC))
    await h.tick()
    assert "reminder for stage 3" in [e.summary for e in h.app.store.history(case.id)]
    case = h.case()
    # Bea messaged the bot earlier, so her prompt goes to that chat rather than a new one
    prompts = connector.cards_to(f"a:chat-with-{BEA[1]}")
    assert any("stage 3, Senior managers, is yours" in card_text(c) for c in prompts)
    values = {"case_id": case.id, "version": str(case.version), "submit": "1",
              "summary": "Agreed a joint assessment.",
              "agreed_actions.1.what": "Joint visit", "agreed_actions.1.who": BEA[0],
              "agreed_actions.1.due": "ASAP"}
    card = await h.click(BEA, "resolve", values)
    assert "'ASAP' is not a date" in card_text(card)
    values["agreed_actions.1.due"] = "2027-02-12"
    card = await h.click(BEA, "resolve", values)
    assert "resolved at stage 3" in card_text(card)
    assert h.app.store.get_case(case.id).status is CaseStatus.RESOLVED  # type: ignore[union-attr]
    assert "actions" not in card  # the case is closed: its buttons are gone

    # every copy redraws from the refresh: Dana's card now shows the closed case, no buttons
    redrawn = await h.click(DANA, "refresh", {"case_id": case.id})
    assert "resolved" in redrawn["body"][0]["text"] and "actions" not in redrawn


async def test_a_refused_proactive_delivery_is_recorded_and_reported(harness: Harness) -> None:
    h = harness
    h.connector.refuse.add(HANA[1])  # the app is not installed for Hana: Teams answers 403
    await h.say(DANA, "escalate")
    await h.click(DANA, "intake", intake_values(h.app))
    case = h.case()
    failures = [e for e in h.app.store.history(case.id) if e.type is EventType.DELIVERY_FAILED]
    assert failures and all("403" in e.summary for e in failures)
    assert HANA[0] in failures[0].summary
    # the business team's alert about it, in the outbox (the key names its transition)
    (found,) = [h.app.store.notification(k) for k in _keys(h, case) if h.app.store.notification(k)]
    assert found is not None
    notification, _ = found
    assert notification.recipient.address == "console:northbay-business-team"
    assert "could not be delivered" in notification.card.title
    assert "Jamie" not in notification.card.all_text()


def _keys(h: Harness, case: Case) -> list[str]:
    return [
        f"{case.id}:v{v}:delivery-failed:channel:console:northbay-business-team"
        for v in range(1, case.version + 1)
    ]


async def test_typing_instead_of_using_the_card(harness: Harness) -> None:
    h = harness
    await h.say(DANA, "escalate")
    answers = ["no", HANA[0], "Jamie Example", "12/04/2016", "-", "1", "About the assessment",
               "Jamie is missing school", "A joint assessment", "-", "-", "yes"]
    for answer in answers:
        assert await h.say(DANA, answer) == 201
    texts = h.connector.texts_to(f"a:chat-with-{DANA[1]}")
    assert any("Send this?" in t for t in texts)
    assert any("Case NB-0001 raised" in t for t in texts)
    assert h.case().reference == "NB-0001"


async def test_status_help_and_strangers(harness: Harness) -> None:
    h = harness
    await h.say(DANA, "help")
    assert any("**escalate**" in t for t in h.connector.texts_to(f"a:chat-with-{DANA[1]}"))
    stranger = ("nobody@nowhere.example", "99999999-0000-0000-0000-000000000000")
    await h.say(stranger, "escalate")
    assert any("partnership's directory" in t
               for t in h.connector.texts_to(f"a:chat-with-{stranger[1]}"))
    await h.say(DANA, "status")
    assert any("no open cases" in t for t in h.connector.texts_to(f"a:chat-with-{DANA[1]}"))


# ---- the route: bad requests get clear status codes, never 500 ---------------------------------


async def test_malformed_requests(harness: Harness) -> None:
    h = harness
    async with h.http.post(h.bot_url, data="hello", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    async with h.http.post(h.bot_url, data="{not json",
                           headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
    assert (await h.post([1, 2]))[0] == 400
    assert (await h.post({"text": "no type"}))[0] == 400


def test_no_credentials_only_on_loopback(tmp_path: Path) -> None:
    local = Settings(config_path=CONFIG, database_path=tmp_path / "x", extra_packs=None)
    check_credentials(local)
    check_credentials(Settings(config_path=CONFIG, database_path=tmp_path / "x",
                               extra_packs=None, host="::1"))
    refusal = re.escape("only listens on 127.0.0.1 or ::1, not 0.0.0.0")
    with pytest.raises(SettingsError, match=refusal):
        check_credentials(Settings(config_path=CONFIG, database_path=tmp_path / "x",
                                   extra_packs=None, host="0.0.0.0"))
    check_credentials(Settings(config_path=CONFIG, database_path=tmp_path / "x",
                               extra_packs=None, host="0.0.0.0", microsoft_app_id="id",
                               microsoft_app_password="secret"))


def _credentials(tmp_path: Path, **fields: str) -> Settings:
    return Settings(config_path=CONFIG, database_path=tmp_path / "x", extra_packs=None,
                    **{"host": "0.0.0.0", **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"microsoft_app_id": "id", "microsoft_app_password": "s",
          "microsoft_app_type": "SingelTenant"},
         "MicrosoftAppType='SingelTenant' is not one of MultiTenant, SingleTenant,"
         " UserAssignedMSI"),
        ({"microsoft_app_id": "id", "microsoft_app_password": "s",
          "microsoft_app_type": "SingleTenant"},
         "MicrosoftAppType=SingleTenant needs MicrosoftAppTenantId"),
        ({"microsoft_app_id": "id", "microsoft_app_type": "UserAssignedMSI"},
         "MicrosoftAppType=UserAssignedMSI needs MicrosoftAppTenantId"),
        ({"microsoft_app_id": "id"}, "MicrosoftAppPassword is empty"),
        ({"microsoft_app_id": "id", "microsoft_app_tenant_id": "t",
          "microsoft_app_type": "SingleTenant"}, "MicrosoftAppPassword is empty"),
        ({"microsoft_app_type": "UserAssignedMSI", "microsoft_app_tenant_id": "t"},
         "MicrosoftAppType=UserAssignedMSI needs MicrosoftAppId"),
        ({"microsoft_app_password": "s", "host": "127.0.0.1"},
         "MicrosoftAppPassword is set but MicrosoftAppId is not"),
        ({"microsoft_app_id": "id", "microsoft_app_password": "s",
          "openid_metadata_url": "http://keys.example/openid"},
         "ESCALATION_BOT_OPENID_METADATA_URL='http://keys.example/openid' must be an https://"),
    ],
)
def test_unusable_credentials_are_refused_with_the_variable_named(
    tmp_path: Path, fields: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(named)):
        check_credentials(_credentials(tmp_path, **fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"microsoft_app_type": "multitenant"},  # the SDK reads the type case-insensitively
        {"microsoft_app_type": ""},  # set but empty: the SDK's default, MultiTenant
        {"microsoft_app_type": "singletenant", "microsoft_app_tenant_id": "t"},
        {"microsoft_app_type": "UserAssignedMSI", "microsoft_app_tenant_id": "t",
         "microsoft_app_password": ""},  # a managed identity has no secret
        {"openid_metadata_url": "https://login.botframework.example/v1/openid"},
        {"openid_metadata_url": "http://127.0.0.1:8080/v1/openid"},
    ],
)
def test_usable_credentials_are_accepted(tmp_path: Path, fields: dict[str, str]) -> None:
    check_credentials(_credentials(tmp_path, **{"microsoft_app_id": "id",
                                                "microsoft_app_password": "s", **fields}))


PARTNERSHIPS = {"nsscp": "northbay", "st-helens": "havenport", "sp-jersey": "carrow",
                "jersey-spb-2014": "carrow-board"}


@pytest.mark.parametrize("policy_id", sorted(PARTNERSHIPS))
async def test_every_procedure_from_escalate_to_a_recorded_resolution(
    harness: Harness, policy_id: str
) -> None:
    h = harness
    partnership = PARTNERSHIPS[policy_id]
    policy = h.app.policies.get(policy_id)
    people = h.app.engine.people(partnership)
    agencies = [a.id for a in h.app.config.agencies if a.partnership == partnership]
    raiser, counterpart = (
        next(p for p in people.values() if p.agency == agency and p.role == policy.raiser_role)
        for agency in agencies
    )
    raiser_id = (raiser.email, raiser.teams_aad_object_id or "")
    counterpart_id = (counterpart.email, counterpart.teams_aad_object_id or "")
    values = {**demo_answers(policy, counterpart), "child_dob": "2016-04-12"}
    if policy.pathway is not None:
        values["pathway"] = next(o.id for o in policy.pathway.options if o.continues_to_procedure)
    await h.say(raiser_id, "escalate")
    card = await h.click(raiser_id, "intake", values)
    assert "raised" in card_text(card), card_text(card)[:400]
    (case,) = h.app.store.open_cases(partnership)
    ping = h.connector.cards_to(f"a:chat-with-{counterpart_id[1]}")
    assert any("has raised a professional difference with you" in card_text(c) for c in ping)
    card = await h.click(counterpart_id, "resolve", {
        "case_id": case.id, "version": str(case.version), "submit": "1",
        "summary": "We agreed the next steps together.",
        "agreed_actions": f"Joint visit; {counterpart.name}; 15/02/2027",
        **outcome_answers(policy),  # e.g. St Helens' purple Resolution Outcome Form
    })
    assert f"Case {case.reference} resolved at stage 1" in card_text(card), card_text(card)[:600]
    done = h.app.store.get_case(case.id)
    assert done is not None and done.status is CaseStatus.RESOLVED
    assert done.record_for(1).agreed_actions[0].due.isoformat() == "2027-02-15"


async def test_cases_are_never_run_in_a_team_channel(harness: Harness) -> None:
    h = harness
    activity = h.activity(DANA, text="escalate")
    activity["conversation"] = {"id": "19:team-channel", "conversationType": "channel",
                                "tenantId": "tenant-1"}
    status, _ = await h.post(activity)
    assert status == 201
    replies = [a for a in h.connector.sent if a["_conversation"] == "19:team-channel"]
    assert replies[0].get("text", "").startswith("To keep the child's details private")
    assert not any(r.get("attachments") for r in replies)  # no intake card in the channel


@pytest.mark.parametrize("kind", ["channel", "groupChat"])
async def test_a_card_click_in_a_channel_or_group_chat_never_draws_the_case_there(
    harness: Harness, kind: str
) -> None:
    """A typed line in a team or group chat is refused; a card button pressed there (a copied
    card, or a crafted invoke) must be too: its answer replaces the card for everyone in that
    conversation, and a case card names the child."""
    h = harness
    await h.click(DANA, "intake", intake_values(h.app))
    case = h.case()
    body = h.activity(DANA, type="invoke", name="adaptiveCard/action",
                      value={"action": {"type": "Action.Execute", "verb": "refresh",
                                        "data": {"case_id": case.id}}})
    body["conversation"] = {"id": "19:shared", "conversationType": kind, "tenantId": "tenant-1"}
    status, response = await h.post(body)
    assert status == 200
    assert CHILD_NAME not in json.dumps(response)
    assert response["value"] == TEAMS_GROUP_REFUSAL


async def test_a_new_chat_takes_the_tenant_teams_sends_in_channel_data(harness: Harness) -> None:
    # Teams names the tenant in channelData.tenant.id (and conversation.tenantId, which botbuilder
    # does not read): a new 1:1 chat must be requested in that tenant, or Teams refuses it
    h = harness
    activity = h.activity(DANA, text="escalate")
    del activity["conversation"]["tenantId"]
    assert (await h.post(activity))[0] == 201
    await h.click(DANA, "intake", intake_values(h.app))
    (created,) = h.connector.created
    assert created["members"][0]["id"] == HANA[1]
    assert tenant_of_request(created) == "tenant-1"
    assert created["channelData"]["tenant"]["id"] == "tenant-1"


# ---- whose service URL and tenant a new chat uses (issue 7, defect 3) --------------------------


async def raise_with_hana(h: Harness) -> Case:
    await h.say(DANA, "escalate")
    await h.click(DANA, "intake", intake_values(h.app))
    return h.case()


async def lapse_stage_1(h: Harness, case: Case) -> None:
    """Stage 1 lapses at Tue 17:00; the stage-2 prompts wait for Wednesday 09:00."""
    h.clock.set(case.stage_due_at + timedelta(minutes=1))
    await h.tick()
    assert h.case().stage == 2


async def test_a_strangers_message_does_not_re_point_new_chats(harness: Harness) -> None:
    h = harness
    case = await raise_with_hana(h)
    await lapse_stage_1(h, case)
    # 08:59: a stranger's "hi" through another service URL
    h.clock.set(datetime(2027, 2, 3, 8, 59, tzinfo=UTC))
    status, _ = await h.post(h.activity(STRANGER, text="hi", serviceUrl=h.other_url))
    assert status == 201
    assert h.app.store.conversation_reference("teams", STRANGER[1]) is None
    # 09:00: the stage-2 prompts (with the child's details) go to Cal's and Gus's new chats
    h.clock.set(datetime(2027, 2, 3, 9, 0, tzinfo=UTC))
    await h.tick()
    assert h.other.created == []
    assert [a["_conversation"] for a in h.other.sent] == [f"a:chat-with-{STRANGER[1]}"]
    assert {CAL[1], GUS[1]} <= {c["members"][0]["id"] for c in h.connector.created}


async def test_a_new_chat_uses_the_persons_own_tenant(harness: Harness) -> None:
    h = harness
    case = await raise_with_hana(h)
    # Bea (in the directory) talks to the bot from tenant-2, through another service URL; Gus is
    # seen there too, in a group chat (so the bot has no 1:1 chat with him yet)
    await h.post(in_tenant(h.activity(BEA, text="status", serviceUrl=h.other_url), "tenant-2"))
    group = {"id": "19:group-chat", "conversationType": "groupChat", "tenantId": "tenant-2"}
    await h.post(in_tenant(h.activity(GUS, text="hi", serviceUrl=h.other_url,
                                      conversation=group), "tenant-2"))
    await lapse_stage_1(h, case)
    h.clock.set(datetime(2027, 2, 3, 9, 0, tzinfo=UTC))
    await h.tick()
    # Cal has never been seen: the configured tenant (tenant-1) and its service URL
    (cal,) = [c for c in h.connector.created if c["members"][0]["id"] == CAL[1]]
    assert tenant_of_request(cal) == "tenant-1"
    # Gus was seen in tenant-2: his new chat is opened there, through tenant-2's service URL
    (gus,) = [c for c in h.other.created if c["members"][0]["id"] == GUS[1]]
    assert tenant_of_request(gus) == "tenant-2"
    assert all(c["members"][0]["id"] != GUS[1] for c in h.connector.created)


async def test_with_no_tenant_known_a_new_chat_waits(tmp_path: Path) -> None:
    async with open_harness(tmp_path, microsoft_app_tenant_id="") as h:
        # an older database's single "_service" reference, pointing elsewhere: ignored
        legacy = {"serviceUrl": h.other_url, "channelId": "msteams", "bot": {"id": "28:bot"},
                  "conversation": {"id": "x", "tenantID": "tenant-9"}}
        h.app.store.save_conversation_reference("teams", "_service", json.dumps(legacy))
        case = await raise_with_hana(h)
        assert h.connector.created == [] and h.other.created == []
        with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
            rows = db.execute(
                "SELECT status, last_error FROM outbox WHERE key LIKE ?",
                (f"%person:{HANA[0]}",),
            ).fetchall()
        assert rows and all(status == "pending" for status, _ in rows)  # retried, not failed
        assert all("no Teams tenant known" in error for _, error in rows)
        # each try is on the case's history; the business team hears only after the last
        failures = [e for e in h.app.store.history(case.id)
                    if e.type is EventType.DELIVERY_FAILED]
        assert failures and all("no Teams tenant known" in e.summary for e in failures)
        assert not [n for n in h.app.store.due_notifications(FAR_FUTURE, 1000)
                    if n.notification.kind == "delivery-failed"]


def config_with_teams_channel(tmp_path: Path) -> Path:
    text = CONFIG.read_text().replace(
        "business_team: console:northbay-business-team",
        "business_team: teams:19:northbay-business@thread.tacv2",
    )
    path = tmp_path / "partnerships.yaml"
    path.write_text(text)
    return path


async def test_channel_references_only_for_configured_alert_channels(tmp_path: Path) -> None:
    async with open_harness(tmp_path, config_with_teams_channel(tmp_path)) as h:
        for channel in ("19:somewhere-else@thread.tacv2",
                        "19:northbay-business@thread.tacv2;messageid=1700000000000"):
            conversation = {"id": channel, "conversationType": "channel", "tenantId": "tenant-1"}
            await h.post(h.activity(IVO, text="hi", conversation=conversation))
        saved = h.app.store.conversation_reference
        assert saved("teams-channel", "19:somewhere-else@thread.tacv2") is None
        assert saved("teams-channel", "19:northbay-business@thread.tacv2")
        await raise_with_hana(h)
        alerts = h.connector.cards_to("19:northbay-business@thread.tacv2")
        assert any("New professional difference NB-0001" in card_text(c) for c in alerts)
        assert "Jamie" not in str(alerts)


# ---- local no-credential mode cannot be driven from a web page (issue 7, defect 2) -------------


async def test_a_web_page_cannot_drive_no_credential_mode(harness: Harness) -> None:
    h = harness
    await raise_with_hana(h)
    hanas_chat = h.app.store.conversation_reference("teams", HANA[1])
    assert hanas_chat and h.connector_url in hanas_chat
    # what a page Hana visits can POST cross-site without a preflight: text/plain, its Origin,
    # and a serviceUrl on a port of its own
    attack = json.dumps(h.activity(HANA, text="status", serviceUrl=h.other_url))
    for headers in (
        {"Content-Type": "text/plain;x=application/json", "Origin": "http://evil.example"},
        {"Content-Type": "text/plain;x=application/json"},
        {"Content-Type": "application/json", "Origin": "http://evil.example"},
        {"Content-Type": "application/json", "Host": "evil.example:3978"},  # DNS rebinding
    ):
        assert await h.post_raw(attack, headers) in {403, 415, 421}, headers
    assert h.other.sent == [] and h.other.created == []
    assert h.app.store.conversation_reference("teams", HANA[1]) == hanas_chat


CONTENT_TYPES = {
    "application/json": 201,
    "application/json; charset=utf-8": 201,
    'Application/JSON;Charset="UTF-8"': 201,
    "text/plain;x=application/json": 415,
    "text/plain": 415,
    "application/x-www-form-urlencoded": 415,
    "multipart/form-data; boundary=application/json": 415,
    "application/json;charset=latin-1": 415,
    "application/json;charset=application/json": 415,
    "application/json; x=1": 415,
    "application/json-seq": 415,
    "application/json, text/plain": 415,
    "application/json;": 415,
    "": 415,
}
HOSTS = {
    "127.0.0.1": 201, "127.0.0.1:3978": 201, "127.9.9.9:1": 201, "localhost:3978": 201,
    "LOCALHOST": 201, "[::1]:3978": 201,
    "evil.example": 421, "evil.example:3978": 421, "127.0.0.1.evil.example": 421,
    "localhost.evil.example:3978": 421, "0.0.0.0:3978": 421, "10.0.0.1:3978": 421,
    "[::1]:x": 421, "": 421,
}
ORIGINS = {
    "http://evil.example": 403, "null": 403, "http://127.0.0.1:56150": 403,
    "http://localhost:3978": 403,
}


async def test_no_credential_mode_checks_content_type_host_and_origin(harness: Harness) -> None:
    h = harness
    body = json.dumps(h.activity(DANA, text="help"))
    results = {}
    for content_type, expected in CONTENT_TYPES.items():
        results[f"Content-Type: {content_type}"] = (
            await h.post_raw(body, {"Content-Type": content_type}), expected)
    for host, expected in HOSTS.items():
        results[f"Host: {host}"] = (
            await h.post_raw(body, {"Content-Type": "application/json", "Host": host}), expected)
    for origin, expected in ORIGINS.items():
        results[f"Origin: {origin}"] = (
            await h.post_raw(body, {"Content-Type": "application/json", "Origin": origin}),
            expected)
    assert {k: v for k, v in results.items() if v[0] != v[1]} == {}


SERVICE_URLS = [
    "http://10.0.0.5:3978/", "https://smba.trafficmanager.net/emea/", "http://evil.example",
    "http://127.0.0.1.evil.example:80", "http://localhost.evil.example", "ftp://127.0.0.1/",
    "file:///etc/passwd", "127.0.0.1:3978", "http://user@evil.example@127.0.0.1/",
    "http://[::ffff:10.0.0.1]/", "",
]


async def test_no_credential_mode_accepts_only_loopback_service_urls(harness: Harness) -> None:
    h = harness
    for service_url in SERVICE_URLS:
        status, _ = await h.post(h.activity(HANA, text="status", serviceUrl=service_url))
        assert status == 400, service_url
    assert h.app.store.conversation_reference("teams", HANA[1]) is None
    port = h.connector_url.rsplit(":", 1)[1]
    for service_url in (h.connector_url, f"http://localhost:{port}/"):
        status, _ = await h.post(h.activity(DANA, text="help", serviceUrl=service_url))
        assert status == 201, service_url


async def test_with_credentials_only_json_is_read(tmp_path: Path) -> None:
    async with open_harness(tmp_path, microsoft_app_id="11111111-2222-3333-4444-555555555555",
                            microsoft_app_password="not-a-real-secret") as h:
        body = json.dumps(h.activity(DANA, text="help"))
        for content_type in ("text/plain;x=application/json",
                             "application/json;charset=application/json",
                             "application/json; charset=latin-1"):
            assert await h.post_raw(body, {"Content-Type": content_type}) == 415, content_type
        # the token is the authentication here: a proxy's Host or a Teams web client's Origin
        # is no reason to refuse, but no token is
        for headers in ({"Content-Type": "application/json; charset=utf-8"},
                        {"Content-Type": "application/json", "Host": "bot.example"},
                        {"Content-Type": "application/json", "Origin": "https://teams.example"}):
            assert await h.post_raw(body, headers) == 401, headers
        # nothing is remembered from a request that did not authenticate
        saved = h.app.store.conversation_reference
        assert saved("teams", DANA[1]) is None and saved("teams", "_service:tenant-1") is None
        assert saved("teams-tenant", DANA[1]) is None


# ---- a card action without a valid version is stale (issue 7, defect 9) ------------------------

BAD_VERSIONS: list[dict[str, Any]] = [
    {}, {"version": "abc"}, {"version": ""}, {"version": "\u00b2"}, {"version": "-1"},
    {"version": "1.0"}, {"version": "\u0661"}, {"version": " 1"}, {"version": "9" * 5000},
]


async def test_a_card_action_without_a_valid_version_is_refused_as_stale(
    harness: Harness,
) -> None:
    h = harness
    case = await raise_with_hana(h)
    before = [e.type for e in h.app.store.history(case.id)]
    for extra in BAD_VERSIONS:
        for verb, data in (("acknowledge", {}), ("escalate", {}),
                           ("escalate", {"submit": "1", "unresolved": "Whether it is needed"})):
            card = await h.click(HANA, verb, {"case_id": case.id, **data, **extra})
            assert "has changed since this was shown to you" in card_text(card), (verb, extra)
            assert "Nothing was changed" in card_text(card)
    # the same through Action.Submit (a message whose value names the verb)
    status, _ = await h.post(h.activity(HANA, value={"verb": "acknowledge", "case_id": case.id,
                                                     "version": "abc"}))
    assert status == 201
    assert any("has changed since this was shown to you" in (a.get("text") or "")
               for a in h.connector.sent if a["_conversation"] == f"a:chat-with-{HANA[1]}")
    assert [e.type for e in h.app.store.history(case.id)] == before
    assert h.case().version == case.version and h.case().stage == 1
    # a refresh carries no version, and still redraws the card; a valid version still acts
    assert "Case NB-0001" in card_text(await h.click(HANA, "refresh", {"case_id": case.id}))
    card = await h.click(HANA, "acknowledge", {"case_id": case.id, "version": str(case.version)})
    assert "has acknowledged case NB-0001" in card_text(card)


# ---- malformed input gets a 4xx and one log line, never a 5xx (issue 7, defect 8) --------------


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_malformed_bodies_are_4xx(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h = harness
    json_type = {"Content-Type": "application/json"}
    activity = json.dumps(h.activity(DANA, text="help"))
    cases = {
        "5,000 levels deep": activity[:-1] + ', "value": ' + "[" * 5000 + "]" * 5000 + "}",
        "Latin-1": activity.encode()[:-1] + ', "text": "caf\u00e9"}'.encode("latin-1"),
        "a lone surrogate": activity[:-1] + ', "text": "\\ud800"}',
        "NaN": activity[:-1] + ', "value": NaN}',
        "a 5,000-digit number": activity[:-1] + ', "value": ' + "9" * 5000 + "}",
        "truncated": activity[:40],
        "a byte-order mark": "\ufeff" + activity,
    }
    for name, body in cases.items():
        caplog.clear()
        assert await h.post_raw(body, json_type) == 400, name
        assert len([r for r in caplog.records if r.name.startswith("escalation_bot")]) == 1, name
        assert tracebacks(caplog) == [], name
    caplog.clear()
    too_large = activity[:-1] + ', "value": "' + "x" * (1024 * 1024) + '"}'
    assert await h.post_raw(too_large, json_type) == 413
    assert len([r for r in caplog.records if r.name.startswith("escalation_bot")]) == 1
    assert h.connector.sent == []


async def test_malformed_activities_are_4xx(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    case = await raise_with_hana(h)
    sent = len(h.connector.sent)

    def invoke(value: Any) -> dict[str, Any]:
        return h.activity(HANA, type="invoke", name="adaptiveCard/action", value=value)

    cases = {
        "no conversation": {k: v for k, v in h.activity(DANA, text="help").items()
                            if k != "conversation"},
        "a conversation that is a string": h.activity(DANA, text="help", conversation="c"),
        "no serviceUrl": {k: v for k, v in h.activity(DANA, text="help").items()
                          if k != "serviceUrl"},
        "a serviceUrl that is a number": h.activity(DANA, text="help", serviceUrl=5),
        "a serviceUrl without a host": h.activity(DANA, text="help", serviceUrl="http://"),
        "a serviceUrl with a bad port": h.activity(DANA, text="help",
                                                   serviceUrl="http://127.0.0.1:99999"),
        "a card action whose value is a string": invoke("abc"),
        "a card action whose action is a list": invoke({"action": [1]}),
        "a card action whose data is a string": invoke(
            {"action": {"type": "Action.Execute", "verb": "acknowledge", "data": "x"}}),
        "a card action whose verb is an object": invoke(
            {"action": {"type": "Action.Execute", "verb": {}, "data": {}}}),
        "an invoke the bot does not handle": h.activity(HANA, type="invoke", name="task/fetch"),
    }
    for name, body in cases.items():
        caplog.clear()
        started = time.monotonic()
        status, _ = await h.post(body)
        assert 400 <= status < 500, (name, status)
        assert time.monotonic() - started < 2, name  # no retrying some public host
        assert len([r for r in caplog.records if r.name.startswith("escalation_bot")]) == 1, name
        assert tracebacks(caplog) == [], name
    assert len(h.connector.sent) == sent
    assert h.case().version == case.version


async def test_odd_numbers_and_mentions_are_not_faults(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    # "²" passes str.isdigit() but not int(): the intake reads it as no later start
    card = await h.click(DANA, "intake", {**intake_values(h.app), "start_stage": "\u00b2"})
    assert "Case NB-0001 raised" in card_text(card)
    # mention entities as a client might mangle them: the text still reaches the bot
    mention = {"type": "mention", "mentioned": {"id": "28:bot", "name": "Escalation bot"},
               "text": "<at>Escalation bot</at>"}
    for entities in ([None], [{"type": None}], [{"type": "mention"}],
                     [{"type": "mention", "mentioned": 5}],
                     [{**mention, "text": None}], [{**mention, "text": "<at>(</at>"}],
                     [{**mention, "mentioned": {"id": "28:bot", "name": None}, "text": 7}],
                     [mention]):
        caplog.clear()
        activity = h.activity(DANA, text="<at>Escalation bot</at> help", entities=entities)
        status, _ = await h.post(activity)
        assert status in {201, 400}, entities
        assert tracebacks(caplog) == [], entities
    helps = [t for t in h.connector.texts_to(f"a:chat-with-{DANA[1]}") if "**escalate**" in t]
    assert helps  # the well-formed mention was removed and "help" understood
    # a recipient without an id, no recipient at all, no sender; a null among new members
    for fields in ({"recipient": {}}, {"recipient": None}, {"from": None}, {"from": {}},
                   {"type": "conversationUpdate", "membersAdded": [None, {"id": "29:x"}]}):
        caplog.clear()
        status, _ = await h.post(h.activity(DANA, text="<at>Escalation bot</at> help",
                                            entities=[mention], **fields))
        assert status in {201, 400}, fields
        assert tracebacks(caplog) == [], fields


# ---- a notification sent twice carries the same activity id (issue 7, defect 10) ---------------


async def test_a_notification_sent_again_after_a_crash_has_the_same_activity_id(
    harness: Harness,
) -> None:
    h = harness
    sent = h.connector.sent
    await h.say(DANA, "escalate")
    before = len(sent)
    await h.click(DANA, "intake", intake_values(h.app))  # Hana is told, in a new chat
    case = h.case()
    await h.click(HANA, "acknowledge", {"case_id": case.id, "version": str(case.version)})
    proactive = sent[before:]  # Hana's card, then Dana's (told of the acknowledgement)
    assert {a["_conversation"] for a in proactive} == {f"a:chat-with-{HANA[1]}",
                                                       f"a:chat-with-{DANA[1]}"}
    first = {a.get("id"): a["_conversation"] for a in proactive}
    assert all(first) and len(first) == len(proactive)  # an id each, none shared
    # the process dies after Teams took the messages and before the outbox marked them sent:
    # after the lease they are due again, and go again
    with sqlite3.connect(h.app.store.path) as db:  # type: ignore[attr-defined]
        db.execute("UPDATE outbox SET status = 'pending', sent_at = NULL WHERE status = 'sent'")
    h.clock.set(h.clock.now() + timedelta(seconds=61))  # the lease (60 s) has run out
    before = len(sent)
    await h.tick()
    again = {a.get("id"): a["_conversation"] for a in sent[before:]}
    assert again == first  # each repeat carries its first copy's id, to the same chat
    assert not any(HANA[0] in i or DANA[0] in i or case.id in i for i in again)


# ---- the same intake twice (issue 7, defect 7) -------------------------------------------------


async def test_the_same_intake_card_sent_twice_through_teams_raises_one_case(
    harness: Harness,
) -> None:
    h = harness
    await h.say(DANA, "/escalate")
    (form,) = h.connector.cards_to(f"a:chat-with-{DANA[1]}")
    (send,) = form["actions"]
    first = await h.click(DANA, "intake", {**send["data"], **intake_values(h.app)})
    again = await h.click(DANA, "intake", {**send["data"], **intake_values(h.app)})
    assert "Case NB-0001 raised" in card_text(first)
    assert "already sent: it is case NB-0001" in card_text(again)
    assert len(h.app.store.open_cases()) == 1


async def test_the_same_activity_twice_raises_one_case(harness: Harness) -> None:
    """A platform retry: the very same activity (same id), from a card without its own id."""
    h = harness
    body = h.activity(DANA, type="invoke", name="adaptiveCard/action",
                      value={"action": {"type": "Action.Execute", "verb": "intake",
                                        "data": intake_values(h.app)}})
    for _ in range(2):
        status, _ = await h.post(body)
        assert status == 200
    assert len(h.app.store.open_cases()) == 1


async def test_an_upper_case_teams_id_in_the_config_still_finds_its_person(
    tmp_path: Path,
) -> None:
    """config check compares Entra ids ignoring case; so does the bot."""
    def shout(data: dict[str, Any]) -> None:
        for person in data["people"]:
            if person.get("teams_aad_object_id") == DANA[1]:
                person["teams_aad_object_id"] = DANA[1].upper()

    async with open_harness(tmp_path, derived_config(tmp_path, shout)) as h:
        await h.say(DANA, "/escalate")
        assert h.connector.cards_to(f"a:chat-with-{DANA[1]}"), "Dana was not recognised"


# ---- show, history and status in Teams ----------------------------------------------------------


async def test_show_history_and_status_buttons_in_teams(harness: Harness) -> None:
    """A card lost from the chat comes back: typed (`show`), or from the status card's button;
    the history names people; an outsider hears what they would for no such case."""
    h, connector = harness, harness.connector
    await h.click(DANA, "intake", intake_values(h.app))
    case = h.case()
    hana_chat, ivo_chat, bea_chat = (f"a:chat-with-{who[1]}" for who in (HANA, IVO, BEA))

    # Hana lost her card: `show` draws it again, with its buttons and its refresh
    await h.say(HANA, f"show {case.reference.lower()}")
    shown = connector.cards_to(hana_chat)[-1]
    assert shown["body"][0]["text"] == f"Case {case.reference}: open"
    assert {"resolve", "escalate", "acknowledge"} <= {a["verb"] for a in shown["actions"]}
    assert shown["refresh"]["action"]["data"] == {"case_id": case.id}
    ack = next(a for a in shown["actions"] if a["verb"] == "acknowledge")
    card = await h.click(HANA, "acknowledge", ack["data"])  # the card brought back works
    assert EventType.ACKNOWLEDGED in [e.type for e in h.app.store.history(case.id)]
    assert "Nothing was changed" not in card_text(card)

    # the business team sees the card with what it may do, but no Acknowledge (a party's)
    await h.say(IVO, f"/show {case.reference}")
    seen = connector.cards_to(ivo_chat)[-1]
    assert seen["body"][0]["text"] == f"Case {case.reference}: open"
    offered = {a["verb"] for a in seen.get("actions", [])}
    assert "acknowledge" not in offered and {"escalate", "record"} <= offered

    # history: names, never the directory's email addresses
    await h.say(IVO, f"history {case.reference}")
    history = card_text(connector.cards_to(ivo_chat)[-1])
    assert "History of case NB-0001" in history
    assert "Dana Marsh" in history and "Hana Moss" in history
    for email in h.app.engine.people("northbay"):
        assert email not in history

    # Bea is not on the case: the same words as for a reference that does not exist
    before = len(connector.cards_to(bea_chat))
    for verb in ("show", "history"):
        for reference in (case.reference, "NB-0999"):
            await h.say(BEA, f"{verb} {reference}")
            assert connector.texts_to(bea_chat)[-1] == (
                f"I can't find case {reference}. Check the reference with `status`."
            )
    assert len(connector.cards_to(bea_chat)) == before

    # status: a button per case, which opens the case card in place of the list
    await h.say(DANA, "status")
    status = connector.cards_to(f"a:chat-with-{DANA[1]}")[-1]
    (button,) = status["actions"]
    assert (button["verb"], button["title"]) == ("refresh", f"Open {case.reference}")
    opened = await h.click(DANA, button["verb"], button["data"])
    assert opened["body"][0]["text"] == f"Case {case.reference}: open"
    assert "Jamie Example" in card_text(opened)
    assert {"resolve", "escalate"} <= {a["verb"] for a in opened["actions"]}


# ---- agreed actions followed up in Teams --------------------------------------------------------


async def test_an_agreed_action_is_followed_up_in_the_owners_chat(harness: Harness) -> None:
    h, connector = harness, harness.connector
    hana_chat, dana_chat = f"a:chat-with-{HANA[1]}", f"a:chat-with-{DANA[1]}"
    await h.click(DANA, "intake", intake_values(h.app))
    case = h.case()
    actions = [ActionInput(description="Send the chronology", owner="Hana Moss",
                           due="2027-02-05")]
    h.app.engine.handle(Resolve(
        actor=DANA[0], case_id=case.id, expected_version=case.version,
        record=RecordInput(summary="Agreed a joint plan.", agreed_actions=actions),
        outcome_answers=outcome_answers(h.app.policies.get("nsscp"))))
    await h.tick()
    asked_before = len(connector.cards_to(hana_chat))

    # Friday 5 February, 09:00 in London: Hana is asked in her chat
    h.clock.set(datetime(2027, 2, 5, 9, 0, tzinfo=UTC))
    await h.tick()
    question = connector.cards_to(hana_chat)[asked_before:]
    (card,) = [c for c in question if "is agreed action" in card_text(c)]
    assert "Send the chronology" in card_text(card)
    buttons = {a["verb"]: a["data"] for a in card["actions"]}
    assert set(buttons) == {"action_done", "action_not_yet"}

    # Not yet: a small form, its errors shown back, then a new date and a reason
    form = await h.click(HANA, "action_not_yet", buttons["action_not_yet"])
    assert [e["id"] for e in form["body"] if e.get("id")] == ["new_due", "reason"]
    submit = next(a for a in form["actions"] if a["verb"] == "action_not_yet")["data"]
    shown = await h.click(HANA, "action_not_yet", {**submit, "new_due": "", "reason": ""})
    assert "Say why it is not done yet" in card_text(shown)
    done = await h.click(HANA, "action_not_yet", {**submit, "new_due": "10/02/2027",
                                                  "reason": "Waiting for the GP letter."})
    assert "is now due Wed 10/02/2027" in card_text(done)
    await h.tick()
    told = [c for c in connector.cards_to(dana_chat) if "is not done yet" in card_text(c)]
    assert len(told) == 1 and "Waiting for the GP letter." in card_text(told[0])

    # Wednesday 10 February: asked again; Done; a second Done changes nothing and says so
    h.clock.set(datetime(2027, 2, 10, 9, 0, tzinfo=UTC))
    await h.tick()
    again = [c for c in connector.cards_to(hana_chat) if "is agreed action" in card_text(c)]
    assert len(again) == 2
    data = {a["verb"]: a["data"] for a in again[-1]["actions"]}["action_done"]
    card = await h.click(HANA, "action_done", data)
    assert "is marked done" in card_text(card)
    card = await h.click(HANA, "action_done", data)
    assert "already marked done" in card_text(card) and "Nothing was changed" in card_text(card)
    assert h.app.store.deadlines_for_case(case.id) == []
# ---- immediate risk: the line manager's message raises a Teams alert, at any hour (issue 9) ----


async def test_an_urgent_message_raises_a_teams_alert_out_of_hours(harness: Harness) -> None:
    h = harness
    h.clock.set(datetime(2027, 2, 1, 20, 0, tzinfo=UTC))  # Monday evening
    await h.say(DANA, "escalate")
    await h.click(DANA, "intake", {**intake_values(h.app), "immediate_risk": "yes"})
    assert h.case().stage == 2  # NSSCP: no peer discussion when the child is at risk

    def to(who: tuple[str, str]) -> list[dict[str, Any]]:
        return [a for a in h.connector.sent if a["_conversation"] == f"a:chat-with-{who[1]}"]

    alerted = [a for a in to(CAL) if (a.get("channelData") or {}).get("notification")]
    assert [a["channelData"]["notification"] for a in alerted] == [{"alert": True}]
    title = alerted[0]["attachments"][0]["content"]["body"][0]["text"]
    assert title.startswith("Urgent: Dana Marsh")
    # the case's other messages go at once too, but only the urgent one alerts
    assert to(HANA) and not any((a.get("channelData") or {}).get("notification") for a in to(HANA))
