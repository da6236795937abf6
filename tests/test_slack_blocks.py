"""Neutral cards as Block Kit within Slack's limits, and modals' values read back as Teams
sends them. Pure translation: no server needed."""

from __future__ import annotations

import json

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import SectionBlock

from adapters.slack.blocks import message_blocks, mrkdwn, read_button_value
from adapters.slack.inputs import values_of
from adapters.slack.modals import modal, read_metadata
from dialogs import texts
from dialogs.cards import Card, CardAction, CardInput, Fact, InputKind, RecordBlock


def test_long_texts_are_split_and_titles_and_labels_fitted() -> None:
    card = Card(title="T" * 400, text=("word " * 100 + "\n") * 30,
                actions=[CardAction(command="resolve", label="L" * 120)],
                case_id="c1", case_version=3)
    blocks = message_blocks(card)
    assert len(blocks[0]["text"]["text"]) == 150
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) > 1 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    (row,) = [b for b in blocks if b["type"] == "actions"]
    (button,) = row["elements"]
    assert len(button["text"]["text"]) == 75
    assert read_button_value(button["value"]) == ("resolve", {"case_id": "c1", "version": "3"})


def test_a_card_too_long_for_one_message_keeps_its_head_and_its_buttons() -> None:
    record = [RecordBlock(title=f"Stage {n}", lines=["said"], collapsed=True) for n in range(80)]
    card = Card(title="Case NB-0001", text="Yours to act on.", record=record,
                actions=[CardAction(command="acknowledge", label="Acknowledge")], case_id="c")
    blocks = message_blocks(card)
    assert len(blocks) == 50
    assert blocks[0]["type"] == "header" and blocks[1]["text"]["text"] == "Yours to act on."
    assert blocks[-1]["type"] == "actions"
    assert texts.SLACK_CUT_SHORT.split(":")[0] in json.dumps(blocks[-2])


def test_channel_posts_have_no_buttons_and_text_is_escaped() -> None:
    card = Card(title="Alert", facts=[Fact(label="Case", value="<NB-0001> & **due**")],
                actions=[CardAction(command="resolve", label="Resolve")], case_id="c")
    blocks = message_blocks(card, with_buttons=False)
    assert all(b["type"] != "actions" for b in blocks)
    assert "&lt;NB-0001&gt; &amp; *due*" in json.dumps(blocks)
    assert mrkdwn("**escalate**: raise") == "*escalate*: raise"


def test_slack_limits_are_checked_before_sending() -> None:
    with pytest.raises(SlackObjectFormationError):
        SectionBlock(text="x" * 3001).to_dict()  # what message_blocks relies on


def test_a_modal_reads_back_as_a_teams_card_would_send() -> None:
    card = Card(title="Raise", inputs=[
        CardInput(id="when", label="When", kind=InputKind.DATE, value="2027-02-01"),
        CardInput(id="who", label="Who", kind=InputKind.CHOICE, choices=[("a", "A"), ("b", "B")],
                  value="b", required=True),
        CardInput(id="many", label="Many", kind=InputKind.MULTI_CHOICE,
                  choices=[("x", "X"), ("y", "Y")]),
        CardInput(id="risk", label="Risk?", kind=InputKind.BOOLEAN, error="Answer yes or no."),
        CardInput(id="n", label="N", kind=InputKind.NUMBER),
        CardInput(id="what", label="What", kind=InputKind.LONG_TEXT),
    ], actions=[CardAction(command="intake", label="Send", submits_inputs=True,
                           data={"intake_id": "i1"})])
    view = modal(card)
    assert view["callback_id"] == "escalation-form" and view["submit"]["text"] == "Send"
    assert read_metadata(view["private_metadata"]) == ("intake", {"intake_id": "i1"})
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert inputs["who"]["optional"] is False and inputs["when"]["optional"] is True
    assert inputs["when"]["element"]["initial_date"] == "2027-02-01"
    assert inputs["who"]["element"]["initial_option"]["value"] == "b"
    assert inputs["risk"]["hint"]["text"] == "Answer yes or no."
    state = {"values": {
        "when": {"value": {"type": "datepicker", "selected_date": "2027-02-03"}},
        "who": {"value": {"type": "static_select", "selected_option": {"value": "a"}}},
        "many": {"value": {"type": "multi_static_select",
                           "selected_options": [{"value": "x"}, {"value": "y"}]}},
        "risk": {"value": {"type": "radio_buttons", "selected_option": None}},
        "n": {"value": {"type": "number_input", "value": "2"}},
        "what": {"value": {"type": "plain_text_input", "value": None}},
    }}
    assert values_of({"state": state}) == {"when": "2027-02-03", "who": "a", "many": "x,y",
                                            "risk": "", "n": "2", "what": ""}


@pytest.mark.parametrize("raw", [None, "", "{", "[]", '{"v": 1}', '{"v": "x", "d": []}'])
def test_values_the_bot_never_sends_are_refused(raw: object) -> None:
    assert read_button_value(raw) is None
    assert read_metadata(raw) is None


def test_repeating_rows_become_inputs_with_their_buttons_and_errors_land_on_inputs() -> None:
    from adapters.slack.inputs import field_errors
    from dialogs.cards import InputRow

    send = CardAction(command="resolve", label="Send", submits_inputs=True, data={"submit": "1"})
    row = InputRow(title="Action 1", inputs=[
        CardInput(id="acts.1.what", label="What", required=True),
        CardInput(id="acts.1.due", label="By when", kind=InputKind.DATE, required=True,
                  error="Give a date."),
    ], remove=CardAction(command="resolve", label="Remove 1", data={"edit": "remove"}))
    rows = CardInput(id="acts", label="Agreed actions", kind=InputKind.ROWS, rows=[row],
                     error="At least one action is needed.",
                     add=CardAction(command="resolve", label="Add", data={"edit": "add"}))
    card = Card(title="Resolve", inputs=[rows], actions=[send], case_id="c", case_version=2)
    view = modal(card, redraw=3)
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert inputs == ["acts.1.what~3", "acts.1.due~3"]
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [read_button_value(b["value"]) for b in buttons] == [
        ("resolve", {"case_id": "c", "version": "2", "edit": "remove"}),
        ("resolve", {"case_id": "c", "version": "2", "edit": "add"}),
    ]
    assert field_errors(card, 3) == {
        "acts.1.what~3": "At least one action is needed.", "acts.1.due~3": "Give a date."}
