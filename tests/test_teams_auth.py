"""Bot Framework authentication of POST /api/messages, against a fake Microsoft on 127.0.0.1.

The real server (`build_web_app`) over real HTTP, with credentials set and its OpenID metadata URL
pointed at `FakeMicrosoft`, which publishes real RSA keys generated here. A correctly signed token
runs the turn; every forged or broken one is refused with 401 before the bot sees the activity;
when the keys cannot be fetched the answer is a quick 503 and the process keeps serving.

"The turn ran" is observed, not mocked: the bot stores the sender's conversation reference first
thing in every turn, and an invoke is answered in the HTTP response. The key cache's ages move only
with the simulated clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from botframework.connector.auth import BotFrameworkAuthentication
from cryptography.hazmat.primitives.asymmetric import rsa
from fake_openid import APP_ID, FakeMicrosoft, HangingServer, jwk, mint, new_key

from adapters.teams.auth import TeamsAuthentication
from bot.bootstrap import App, bootstrap
from bot.server import build_web_app
from bot.settings import Settings
from dialogs.clock import SimulatedClock

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "partnerships.yaml"
MONDAY = datetime(2027, 2, 1, 10, tzinfo=UTC)
SERVICE_URL = "http://127.0.0.1:9/teams/"  # never contacted: an invoke is answered in the response
DANA = "00000000-0000-0000-0000-0000000000020"  # in the directory: the turn remembers her chat
FORGER = "99999999-0000-0000-0000-00000000dead"
QUICK = 1.5  # seconds: a refusal never waits on anything
EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"


@dataclass
class Keys:
    teams: rsa.RSAPrivateKey  # published, endorsed for msteams
    webchat: rsa.RSAPrivateKey  # published, endorsed only for webchat
    stranger: rsa.RSAPrivateKey  # never published


@dataclass
class Bot:
    app: App
    clock: SimulatedClock
    microsoft: FakeMicrosoft
    keys: Keys
    base_url: str
    http: ClientSession

    def activity(self, sender: str = DANA) -> dict[str, Any]:
        return {
            "type": "invoke",
            "name": "adaptiveCard/action",
            "id": "in-1",
            "channelId": "msteams",
            "serviceUrl": SERVICE_URL,
            "from": {"id": f"29:{sender}", "aadObjectId": sender, "name": "someone"},
            "recipient": {"id": "28:bot", "name": "Escalation bot"},
            "conversation": {"id": f"a:chat-{sender}", "conversationType": "personal",
                             "tenantId": "tenant-1"},
            "value": {"action": {"type": "Action.Execute", "verb": "refresh", "data": {}}},
        }

    async def post(
        self, authorization: str | None, activity: dict[str, Any] | None = None
    ) -> tuple[int, Any, float]:
        headers = {"Authorization": authorization} if authorization is not None else {}
        started = time.monotonic()
        async with self.http.post(f"{self.base_url}/api/messages",
                                  json=activity or self.activity(), headers=headers) as response:
            text = await response.text()
            elapsed = time.monotonic() - started
            return response.status, _parsed(text), elapsed

    async def healthz(self) -> tuple[int, float]:
        started = time.monotonic()
        async with self.http.get(f"{self.base_url}/healthz") as response:
            await response.read()
            return response.status, time.monotonic() - started

    def turn_ran(self, sender: str = DANA) -> bool:
        return self.app.store.conversation_reference("teams", sender) is not None

    def token(self, key: rsa.RSAPrivateKey | str | None = None, kid: str | None = "teams-1",
              **claims: Any) -> str:
        return "Bearer " + mint(key or self.keys.teams, kid, SERVICE_URL, **claims)


def _parsed(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text  # e.g. aiohttp's own "500 Internal Server Error"


def settings_for(tmp_path: Path, metadata_url: str, **overrides: Any) -> Settings:
    return Settings(config_path=CONFIG, database_path=tmp_path / "bot.sqlite3", extra_packs=None,
                    tick_seconds=3600, worker_id="test", microsoft_app_id=APP_ID,
                    microsoft_app_password="not-a-real-secret", openid_metadata_url=metadata_url,
                    openid_timeout_seconds=1.0, **overrides)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(new_key(), new_key(), new_key())


@asynccontextmanager
async def serving(
    tmp_path: Path, keys: Keys, metadata_url: str, microsoft: FakeMicrosoft | None = None
) -> AsyncIterator[Bot]:
    """The real web app with credentials, its key endpoint at `metadata_url`."""
    clock = SimulatedClock(MONDAY)
    app = bootstrap(CONFIG, tmp_path / "bot.sqlite3", clock)
    server = TestServer(build_web_app(app, settings_for(tmp_path, metadata_url)),
                        host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as http:
            yield Bot(app, clock, microsoft or FakeMicrosoft(), keys,
                      str(server.make_url("")).rstrip("/"), http)
    finally:
        await server.close()


def publishing(keys: Keys, fail: str = "") -> FakeMicrosoft:
    return FakeMicrosoft(
        [jwk(keys.teams, "teams-1", ["msteams", "emulator"]),
         jwk(keys.webchat, "webchat-1", ["webchat"])],
        fail=fail,
    ).start()


@pytest.fixture
async def bot(tmp_path: Path, keys: Keys) -> AsyncIterator[Bot]:
    microsoft = publishing(keys)
    try:
        async with serving(tmp_path, keys, microsoft.metadata_url, microsoft) as running:
            yield running
    finally:
        microsoft.close()


# ---- a genuine token ---------------------------------------------------------------------------


async def test_a_correctly_signed_token_runs_the_turn(bot: Bot) -> None:
    status, body, _ = await bot.post(bot.token())
    assert status == 200, body
    # the bot's own answer to a click on a card naming no case, straight from the turn
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "I can't find that case" in json.dumps(body["value"])
    assert bot.turn_ran()


async def test_keys_are_fetched_once_and_shared(bot: Bot) -> None:
    results = await asyncio.gather(*(bot.post(bot.token()) for _ in range(5)))
    assert [status for status, _, _ in results] == [200] * 5
    for _ in range(3):
        assert (await bot.post(bot.token()))[0] == 200
    assert bot.microsoft.key_hits == 1


# ---- forged and broken tokens: 401, quickly, and the bot never sees the activity ----------------


def _signed(key: rsa.RSAPrivateKey | str | None, algorithm: str) -> str:
    return "Bearer " + mint(key, "teams-1", SERVICE_URL, algorithm=algorithm)


FORGED: dict[str, Callable[[Bot], str | None]] = {
    "no header": lambda b: None,
    "empty header": lambda b: "",
    "not bearer": lambda b: "Basic dXNlcjpwYXNz",
    "bearer without token": lambda b: "Bearer ",
    "three parts": lambda b: "Bearer a b",
    "not a jwt": lambda b: "Bearer not.a.token",
    "not base64": lambda b: "Bearer !!!.###.$$$",
    "alg none": lambda b: _signed(None, "none"),
    "HS256 with a guessed secret": lambda b: _signed("a-guessed-secret-of-32-bytes-or-more",
                                                     "HS256"),
    "RS384": lambda b: _signed(b.keys.teams, "RS384"),
    "signed by an unknown key, known kid": lambda b: b.token(key=b.keys.stranger),
    "unknown kid": lambda b: b.token(key=b.keys.stranger, kid="stranger-1"),
    "no kid": lambda b: b.token(kid=None),
    "expired": lambda b: b.token(exp=int(time.time()) - 3600),
    "not yet valid": lambda b: b.token(nbf=int(time.time()) + 3600),
    "no exp": lambda b: b.token(drop=("exp",)),
    "no iss": lambda b: b.token(drop=("iss",)),
    "wrong issuer": lambda b: b.token(iss="https://evil.example"),
    "emulator issuer": lambda b: b.token(iss=EMULATOR_ISSUER),
    "wrong audience": lambda b: b.token(aud="00000000-0000-0000-0000-000000000000"),
    "no audience": lambda b: b.token(drop=("aud",)),
    "audience as a list": lambda b: b.token(aud=[APP_ID]),
    "other service url": lambda b: b.token(serviceurl="https://evil.example/teams/"),
    "no service url": lambda b: b.token(drop=("serviceurl",)),
    "key not endorsed for the channel": lambda b: b.token(key=b.keys.webchat, kid="webchat-1"),
    "a skill's token": lambda b: b.token(ver="1.0", appid="22222222-0000-0000-0000-000000000000"),
}


@pytest.mark.parametrize("variant", FORGED)
async def test_a_forged_token_is_refused(
    bot: Bot, variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await bot.post(bot.token()))[0] == 200  # the keys are in hand: only the token differs
    caplog.clear()
    with caplog.at_level(logging.INFO):
        status, body, elapsed = await bot.post(FORGED[variant](bot), bot.activity(FORGER))
    assert status == 401, body
    assert body == {"error": "unauthorized"}
    assert elapsed < QUICK
    assert not bot.turn_ran(FORGER)
    refusals = [r for r in caplog.records if r.name == "escalation_bot.teams"]
    assert len(refusals) == 1 and refusals[0].exc_info is None, caplog.text
    assert "Traceback" not in caplog.text


async def test_a_forged_token_is_refused_before_any_key_is_fetched(
    tmp_path: Path, keys: Keys
) -> None:
    """Checks that need no key come first, so junk cannot make us call Microsoft."""
    microsoft = publishing(keys, fail="metadata-500")
    try:
        async with serving(tmp_path, keys, microsoft.metadata_url, microsoft) as bot:
            assert (await bot.post(bot.token()))[0] == 503  # no keys: the next need fetches
            bot.clock.advance(timedelta(hours=1))
            hits = microsoft.metadata_hits
            for variant in ("not a jwt", "alg none", "HS256 with a guessed secret", "no iss",
                            "wrong issuer", "emulator issuer", "no kid"):
                assert (await bot.post(FORGED[variant](bot)))[0] == 401, variant
            assert microsoft.metadata_hits == hits
            assert (await bot.post(bot.token()))[0] == 503
            assert microsoft.metadata_hits == hits + 1  # a plausible token does fetch
    finally:
        microsoft.close()


async def test_an_unknown_kid_refreshes_the_keys_at_most_every_few_minutes(bot: Bot) -> None:
    assert (await bot.post(bot.token()))[0] == 200
    assert bot.microsoft.key_hits == 1
    # Microsoft rolls its keys over: the new one is not in our cache yet
    bot.microsoft.keys = [jwk(bot.keys.stranger, "teams-2", ["msteams"])]
    rolled = bot.token(key=bot.keys.stranger, kid="teams-2")
    assert (await bot.post(rolled))[0] == 401  # just fetched: a forger cannot make us refetch
    assert (await bot.post(rolled))[0] == 401
    assert bot.microsoft.key_hits == 1
    bot.clock.advance(timedelta(minutes=6))
    assert (await bot.post(rolled))[0] == 200  # an unknown kid now fetches once, then is known
    assert bot.microsoft.key_hits == 2
    assert (await bot.post(bot.token()))[0] == 401  # the old key is gone from the list
    assert bot.microsoft.key_hits == 2


async def test_day_old_keys_keep_working_while_they_refresh_in_the_background(bot: Bot) -> None:
    assert (await bot.post(bot.token()))[0] == 200
    bot.microsoft.keys = [jwk(bot.keys.stranger, "teams-2", ["msteams"])]
    bot.clock.advance(timedelta(hours=25))
    # served from the cache at once; the refresh it starts runs beside the request
    assert (await bot.post(bot.token()))[0] == 200
    # the new key's first request joins that refresh rather than starting another
    assert (await bot.post(bot.token(key=bot.keys.stranger, kid="teams-2")))[0] == 200
    assert bot.microsoft.key_hits == 2
    assert (await bot.post(bot.token()))[0] == 401


# ---- Microsoft's endpoints failing: 503 fast, never 500, and the process keeps answering -------


@pytest.mark.parametrize(
    "failure",
    ["metadata-500", "metadata-not-json", "no-jwks-uri", "keys-500", "keys-not-json",
     "keys-not-a-list", "keys-all-broken"],
)
async def test_unusable_key_endpoints_answer_503(
    tmp_path: Path, keys: Keys, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    microsoft = publishing(keys, fail=failure)
    try:
        with caplog.at_level(logging.INFO):
            async with serving(tmp_path, keys, microsoft.metadata_url, microsoft) as bot:
                status, body, elapsed = await bot.post(bot.token())
                assert status == 503, body
                assert body == {"error": "cannot verify the token right now"}
                assert elapsed < QUICK
                assert not bot.turn_ran()
                # a forged token is still 401 when it fails a check that needs no key
                assert (await bot.post(FORGED["alg none"](bot)))[0] == 401
                # Microsoft answers again: after a short pause (not a fetch per request) the
                # same token is accepted
                microsoft.fail = ""
                assert (await bot.post(bot.token()))[0] == 503
                bot.clock.advance(timedelta(seconds=31))
                assert (await bot.post(bot.token()))[0] == 200
        assert "Traceback" not in caplog.text
        assert all(r.exc_info is None for r in caplog.records), caplog.text
    finally:
        microsoft.close()


async def test_keys_that_cannot_be_refreshed_for_two_days_are_dropped(bot: Bot) -> None:
    assert (await bot.post(bot.token()))[0] == 200
    bot.microsoft.fail = "keys-500"
    bot.clock.advance(timedelta(hours=25))
    assert (await bot.post(bot.token()))[0] == 200  # a day old and unrefreshable: still used
    bot.clock.advance(timedelta(hours=24))
    assert (await bot.post(bot.token()))[0] == 503  # two days: no longer trusted


async def test_an_unreachable_key_endpoint_answers_503(tmp_path: Path, keys: Keys) -> None:
    closed = HangingServer()
    closed.close()  # nothing listens there any more: connection refused
    async with serving(tmp_path, keys, closed.url) as bot:
        status, body, elapsed = await bot.post(bot.token())
        assert status == 503, body
        assert elapsed < QUICK
        assert not bot.turn_ran()


async def test_a_hanging_key_endpoint_never_freezes_the_server(tmp_path: Path, keys: Keys) -> None:
    hanging = HangingServer()
    try:
        async with serving(tmp_path, keys, hanging.url) as bot:
            pending = asyncio.create_task(bot.post(bot.token()))
            await asyncio.sleep(0.2)  # a short real wait: let the request reach the hung fetch
            assert not pending.done()
            for _ in range(3):
                status, elapsed = await bot.healthz()
                assert status == 200 and elapsed < 1.0, elapsed
            status, body, elapsed = await asyncio.wait_for(pending, timeout=5)
            assert status == 503, body
            assert elapsed < 1.0 + QUICK  # the 1 s fetch limit, not the socket's 6 s
            assert not bot.turn_ran()
            assert hanging.accepted >= 1
            # the next request does not wait on the endpoint again
            status, _, elapsed = await bot.post(bot.token())
            assert status == 503 and elapsed < 0.5
    finally:
        hanging.close()


# ---- the SDK's shape -----------------------------------------------------------------------------


def test_every_sdk_authentication_method_is_ours_or_delegated() -> None:
    """CloudAdapter calls these on the authentication it is given. A method the SDK adds later
    would otherwise fall through to the base class (which raises) or bypass our inbound check:
    this fails until it is looked at."""
    public = {
        name for name, value in vars(BotFrameworkAuthentication).items()
        if callable(value) and not name.startswith("_")
    }
    assert public - {"generate_caller_id"} <= set(vars(TeamsAuthentication)), public
    assert public == {
        "authenticate_request", "authenticate_streaming_request", "create_connector_factory",
        "create_user_token_client", "create_bot_framework_client", "get_originating_audience",
        "authenticate_channel_request", "generate_caller_id",
    }


# ---- local no-credential mode -----------------------------------------------------------------


async def test_without_credentials_a_token_cannot_be_checked_and_is_refused(
    tmp_path: Path,
) -> None:
    app = bootstrap(CONFIG, tmp_path / "bot.sqlite3", SimulatedClock(MONDAY))
    settings = Settings(config_path=CONFIG, database_path=tmp_path / "bot.sqlite3",
                        extra_packs=None, tick_seconds=3600, worker_id="test")
    server = TestServer(build_web_app(app, settings), host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as http:
            bot = Bot(app, SimulatedClock(MONDAY), FakeMicrosoft(), Keys(*[new_key()] * 3),
                      str(server.make_url("")).rstrip("/"), http)
            status, _, elapsed = await bot.post("Bearer " + mint(new_key(), "k", SERVICE_URL))
            assert status == 401 and elapsed < QUICK
            assert not bot.turn_ran()
            status, body, _ = await bot.post(None)  # the Playground sends none
            assert status == 200 and "I can't find that case" in json.dumps(body["value"])
            assert bot.turn_ran()
    finally:
        await server.close()
