"""The outgoing webhook: signed so receivers can trust it, private by default, and honest about
failures (4xx is permanent, 5xx and network errors are retried)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from adapters.webhook.notifier import WebhookNotifier, WebhookTarget
from adapters.webhook.signing import KEY_HEADER, SIGNATURE_HEADER, sign, verify
from bot.bootstrap import bootstrap
from bot.demo import demo_answers
from dialogs.cards import Card, Fact
from dialogs.clock import SimulatedClock
from dialogs.commands import RaiseConcern
from dialogs.notifications import Notification, Recipient, RecipientKind
from dialogs.ports import DeliveryFailed

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-for-tests"


# ---- signing ---------------------------------------------------------------------------------


def test_a_signature_verifies_and_tampering_does_not() -> None:
    body = b'{"key": "k"}'
    header = sign(SECRET, body, 1_800_000_000)
    assert verify(SECRET, body, header, now=1_800_000_010)
    assert not verify(SECRET, body + b" ", header, now=1_800_000_010)
    assert not verify("another secret", body, header, now=1_800_000_010)
    assert not verify(SECRET, body, header, now=1_800_000_000 + 301)  # replayed too late
    assert not verify(SECRET, body, "t=abc,v1=00", now=1_800_000_000)
    assert not verify(SECRET, body, "garbage", now=1_800_000_000)


# ---- a real receiver on loopback --------------------------------------------------------------


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, object]]] = []
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(SECRET, body, request.headers.get(SIGNATURE_HEADER, ""), int(time.time())):
            return web.Response(status=401)
        self.received.append((dict(request.headers), json.loads(body)))
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/hook", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


def note(recipient: Recipient, *, copy_of: Recipient | None = None) -> Notification:
    card = Card(title="Case NB-0001 moved to stage 2", facts=[Fact(label="Child", value="Jamie")])
    return Notification(
        key="case:v2:moved-on:person:a@b.example:webhook:receiver",
        case_id="case",
        recipient=recipient,
        card=card,
        deliver_at=datetime(2027, 2, 1, 10, tzinfo=UTC),
        kind="moved-on",
        copy_of=copy_of,
    )


async def test_copies_of_1to1_messages_leave_the_childs_details_out(
    receiver: tuple[Receiver, str],
) -> None:
    state, url = receiver
    notifier = WebhookNotifier({"receiver": WebhookTarget(url, SECRET)})
    person = Recipient.person("a@b.example")
    await notifier.deliver(note(Recipient.webhook("receiver"), copy_of=person))
    await notifier.close()
    ((headers, payload),) = state.received
    assert headers[KEY_HEADER] == "case:v2:moved-on:person:a@b.example:webhook:receiver"
    assert payload["recipient"] == {"kind": "person", "address": "a@b.example"}
    assert payload["title"] == "Case NB-0001 moved to stage 2"
    assert "card" not in payload
    assert "Jamie" not in json.dumps(payload)


async def test_a_receiver_trusted_with_child_data_gets_the_card(
    receiver: tuple[Receiver, str],
) -> None:
    state, url = receiver
    notifier = WebhookNotifier({"receiver": WebhookTarget(url, SECRET, include_child_data=True)})
    await notifier.deliver(
        note(Recipient.webhook("receiver"), copy_of=Recipient.person("a@b.example"))
    )
    await notifier.close()
    ((_, payload),) = state.received
    assert payload["card"]["facts"] == [{"label": "Child", "value": "Jamie"}]  # type: ignore[index]


async def test_channel_copies_always_carry_their_card(receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    notifier = WebhookNotifier({"receiver": WebhookTarget(url, SECRET)})
    channel = Recipient.channel("console:team")
    await notifier.deliver(note(Recipient.webhook("receiver"), copy_of=channel))
    await notifier.close()
    ((_, payload),) = state.received
    assert payload["recipient"] == {"kind": "channel", "address": "console:team"}
    assert "card" in payload


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (410, True), (429, False), (500, False), (503, False)]
)
async def test_failures_say_whether_to_retry(
    receiver: tuple[Receiver, str], status: int, permanent: bool
) -> None:
    state, url = receiver
    state.status = status
    notifier = WebhookNotifier({"receiver": WebhookTarget(url, SECRET)})
    with pytest.raises(DeliveryFailed) as failure:
        await notifier.deliver(note(Recipient.webhook("receiver")))
    await notifier.close()
    assert failure.value.permanent is permanent
    assert str(status) in failure.value.reason


async def test_an_unreachable_receiver_is_retried() -> None:
    notifier = WebhookNotifier({"receiver": WebhookTarget("http://127.0.0.1:9/hook", SECRET)})
    with pytest.raises(DeliveryFailed) as failure:
        await notifier.deliver(note(Recipient.webhook("receiver")))
    await notifier.close()
    assert failure.value.permanent is False


async def test_an_unknown_webhook_is_a_permanent_failure() -> None:
    notifier = WebhookNotifier({})
    with pytest.raises(DeliveryFailed) as failure:
        await notifier.deliver(note(Recipient.webhook("nowhere")))
    assert failure.value.permanent is True


# ---- the engine queues one copy per webhook, at once -------------------------------------------


def test_every_notification_gets_an_immediate_webhook_copy(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "examples/partnerships.yaml").read_text())
    data["webhooks"] = [
        {"id": "flow", "url": "http://127.0.0.1:9/flow", "secret_env": "FLOW_SECRET"},
        {
            "id": "other",
            "url": "http://127.0.0.1:9/o",
            "secret_env": "O_SECRET",
            "partnerships": ["havenport"],
        },
    ]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    # Raised at 20:00: people and channels wait for 09:00, machines do not.
    evening = datetime(2027, 2, 1, 20, tzinfo=UTC)
    app = bootstrap(config, tmp_path / "db.sqlite3", SimulatedClock(evening))
    try:
        people = app.engine.people("northbay")
        policy = app.policies.get("nsscp")
        counterpart = people["hana.moss@health.northbay.example"]
        outcome = app.engine.handle(
            RaiseConcern(
                actor="dana.marsh@council.northbay.example",
                partnership_id="northbay",
                answers=demo_answers(policy, counterpart),
            )
        )
    finally:
        app.close()
    originals = [n for n in outcome.notifications if n.recipient.kind is not RecipientKind.WEBHOOK]
    copies = [n for n in outcome.notifications if n.recipient.kind is RecipientKind.WEBHOOK]
    assert {c.recipient.address for c in copies} == {"flow"}  # 'other' is for havenport only
    assert sorted(c.key for c in copies) == sorted(f"{o.key}:webhook:flow" for o in originals)
    assert all(c.deliver_at == evening for c in copies)
    assert all(
        c.copy_of == o.recipient
        for c, o in zip(
            sorted(copies, key=lambda n: n.key), sorted(originals, key=lambda n: n.key), strict=True
        )
    )
    deferred = [
        o for o in originals if o.recipient.address != "dana.marsh@council.northbay.example"
    ]
    assert deferred and all(o.deliver_at == datetime(2027, 2, 2, 9, tzinfo=UTC) for o in deferred)
