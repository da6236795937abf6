"""`escalation-bot serve` as a real process: health, readiness, metrics, the reconcile pass at
start, and clear refusals for bad settings."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fake_openid import APP_ID, HangingServer, mint, new_key

from adapters.storage.sqlite import SqliteStore
from bot.bootstrap import bootstrap
from bot.demo import demo_answers
from dialogs.clock import SimulatedClock
from dialogs.commands import RaiseConcern

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "partnerships.yaml"
RAISED = datetime(2027, 2, 1, 10, tzinfo=UTC)  # Mon; NSSCP stage 1 due Tue 2 Feb 17:00
STAGE_ONE_DUE = datetime(2027, 2, 2, 17, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            **env,
            "ESCALATION_BOT_PORT": str(self.port),
            "ESCALATION_BOT_TICK_SECONDS": "0.2",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"serve exited: {stderr}")
            try:
                if get(self.url + "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)  # polling a real process's readiness, not waiting on a deadline
        raise AssertionError("serve did not become ready")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.stderr.read() if self.process.stderr else ""


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


@pytest.fixture
def server(database: Path) -> Iterator[Server]:
    running = Server({"ESCALATION_BOT_DATABASE": str(database)})
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_health_readiness_and_metrics(server: Server) -> None:
    assert get(server.url + "/healthz") == (200, '{"status": "alive"}')
    status, body = get(server.url + "/readyz")
    assert status == 200 and json.loads(body) == {"status": "ready", "problems": []}
    assert get(server.url + "/nowhere")[0] == 404
    status, metrics = get(server.url + "/metrics")
    assert status == 200
    for name in (
        "escalation_deadlines_overdue 0.0",
        "escalation_scheduler_tick_lag_seconds_count",
        "escalation_scheduler_claim_seconds_count",
        "escalation_deadline_lag_seconds_count",
        'escalation_inbound_requests_total{route="/readyz",status="200"}',
        'escalation_inbound_requests_total{route="unmatched",status="404"} 1.0',
    ):
        assert name in metrics, name


def test_logs_are_one_json_object_per_line(server: Server) -> None:
    stderr = server.stop()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"] == "scheduler started" for e in entries)


def test_the_first_tick_processes_what_fell_due_while_down(database: Path) -> None:
    app = bootstrap(CONFIG, database, SimulatedClock(RAISED))
    try:
        counterpart = app.engine.people("northbay")["hana.moss@health.northbay.example"]
        case = app.engine.handle(
            RaiseConcern(
                actor="dana.marsh@council.northbay.example",
                partnership_id="northbay",
                answers=demo_answers(app.policies.get("nsscp"), counterpart),
            )
        ).case
    finally:
        app.close()
    assert case is not None and case.stage == 1
    # the bot "was down" over the deadline: it starts a minute after stage 1 lapsed
    start = (STAGE_ONE_DUE + timedelta(minutes=1)).isoformat()
    running = Server(
        {"ESCALATION_BOT_DATABASE": str(database), "ESCALATION_BOT_CLOCK_START": start}
    )
    try:
        running.wait_ready()
        # ready means able to serve, not done catching up: wait for the first tick's work
        store = SqliteStore(database)
        try:
            deadline = time.monotonic() + 30
            escalated = store.get_case(case.id)
            while escalated is not None and escalated.stage == 1 and time.monotonic() < deadline:
                time.sleep(0.05)  # polling a real process, not waiting on a deadline
                escalated = store.get_case(case.id)
            history = store.history(case.id)
        finally:
            store.close()
        assert escalated is not None and escalated.stage == 2
        assert escalated.stage_started_at == STAGE_ONE_DUE
        assert [e.summary for e in history].count("escalated: deadline lapsed") == 1
        metrics = get(running.url + "/metrics")[1]
        assert 'escalation_open_cases{partnership="northbay",stage="2"} 1.0' in metrics
        assert "escalation_deadline_lag_seconds_count 1.0" in metrics
    finally:
        running.stop()


def run_serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`serve` as an admin meets it, on a port of its own: 3978 may be another run's."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=ROOT,
        env={**os.environ, "ESCALATION_BOT_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_setting_is_named(tmp_path: Path) -> None:
    result = run_serve(
        {"ESCALATION_BOT_TICK_SECONDS": "often", "ESCALATION_BOT_DATABASE": str(tmp_path / "x.db")}
    )
    assert result.returncode == 1
    assert "ESCALATION_BOT_TICK_SECONDS='often' is not a number" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_webhook_secret_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load(CONFIG.read_text())
    data["webhooks"] = [{"id": "flow", "url": "http://127.0.0.1:9/", "secret_env": "FLOW_KEY"}]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    database = tmp_path / "x.db"
    env = {"ESCALATION_BOT_CONFIG": str(config), "ESCALATION_BOT_DATABASE": str(database)}
    os.environ.pop("FLOW_KEY", None)
    result = run_serve(env)
    assert result.returncode == 1
    # the same report as `config check`: file, field and fix
    assert result.stderr.startswith(f"{config}: 1 problem(s)\n")
    assert ", webhooks[0].secret_env: $FLOW_KEY is not set" in result.stderr
    assert "    fix: export FLOW_KEY=" in result.stderr
    assert "Traceback" not in result.stderr
    assert not database.exists()  # refused before the store was opened


def test_a_teams_id_on_two_people_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(CONFIG.read_text())
    people = data["people"]
    # issue 7: a line manager's (5) Teams id on the business manager (8); the later used to win
    people[8]["teams_aad_object_id"] = people[5]["teams_aad_object_id"]
    people[3]["line_manager"] = people[3]["email"]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    database = tmp_path / "x.db"
    result = run_serve(
        {"ESCALATION_BOT_CONFIG": str(config), "ESCALATION_BOT_DATABASE": str(database)}
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"{config}: 2 problem(s)\n")
    assert ", people[8].teams_aad_object_id: " in result.stderr
    assert "people[5].teams_aad_object_id" in result.stderr
    assert ", people[3].line_manager: " in result.stderr
    assert result.stderr.count("    fix: ") == 2
    assert "Traceback" not in result.stderr
    assert not database.exists()


def test_a_broken_config_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("partnerships: []\nagencies: []\n")
    result = run_serve(
        {"ESCALATION_BOT_CONFIG": str(config), "ESCALATION_BOT_DATABASE": str(tmp_path / "x.db")}
    )
    assert result.returncode == 1
    assert str(config) in result.stderr and "partnerships" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MicrosoftAppType": "SingleTenant"}, "MicrosoftAppTenantId"),
        ({"MicrosoftAppType": "UserAssignedMSI"}, "MicrosoftAppTenantId"),
        ({"MicrosoftAppType": "SingelTenant"}, "MicrosoftAppType='SingelTenant'"),
        ({"MicrosoftAppPassword": ""}, "MicrosoftAppPassword is empty"),
        ({"ESCALATION_BOT_OPENID_METADATA_URL": "http://keys.example/"},
         "ESCALATION_BOT_OPENID_METADATA_URL"),
    ],
)
def test_unusable_credentials_are_named(tmp_path: Path, env: dict[str, str], named: str) -> None:
    result = run_serve({
        "ESCALATION_BOT_DATABASE": str(tmp_path / "x.db"),
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": "not-a-real-secret",
        **env,
    })
    assert result.returncode == 1, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_redis_is_named(tmp_path: Path) -> None:
    result = run_serve(
        {
            "ESCALATION_BOT_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "ESCALATION_BOT_DATABASE": str(tmp_path / "x.db"),
        }
    )
    assert result.returncode == 1
    assert "cannot use Redis at redis://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ESCALATION_BOT_REDIS_URL": "notaurl"},
         "ESCALATION_BOT_REDIS_URL=notaurl is not a Redis address"),
        ({"ESCALATION_BOT_REDIS_URL": "http://127.0.0.1:6379/0"}, "redis://HOST:PORT/DB"),
        ({"ESCALATION_BOT_REDIS_URL": "redis://127.0.0.1:notaport/0"}, "not a Redis address"),
        ({"ESCALATION_BOT_REDIS_URL": "redis://127.0.0.1:6379/0",
          "ESCALATION_BOT_REDIS_PREFIX": "a{b}"}, "ESCALATION_BOT_REDIS_PREFIX='a{b}'"),
        ({"ESCALATION_BOT_REDIS_URL": "redis://127.0.0.1:6379/0",
          "ESCALATION_BOT_REDIS_PREFIX": ""}, "ESCALATION_BOT_REDIS_PREFIX=''"),
    ],
)
def test_a_malformed_redis_setting_is_named_not_a_traceback(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    """A fresh-clone trial: these were tracebacks from inside the Redis client at start."""
    result = run_serve({**env, "ESCALATION_BOT_DATABASE": str(tmp_path / "x.db")})
    assert result.returncode == 1, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url", ["redis://bot:S3cretPw@127.0.0.1:{port}/0",
                                 "redis://bot:S3cretPw@127.0.0.1:notaport/0"])
def test_a_redis_password_is_never_printed(tmp_path: Path, url: str) -> None:
    result = run_serve({"ESCALATION_BOT_REDIS_URL": url.format(port=free_port()),
                        "ESCALATION_BOT_DATABASE": str(tmp_path / "x.db")})
    assert result.returncode == 1, result.stderr
    assert "S3cretPw" not in result.stderr + result.stdout
    assert "redis://bot:***@127.0.0.1:" in result.stderr


def post_activity(url: str, token: str) -> tuple[int, float]:
    activity = {"type": "message", "text": "status", "channelId": "msteams",
                "serviceUrl": "http://127.0.0.1:9/", "conversation": {"id": "c"},
                "from": {"id": "29:x"}, "recipient": {"id": "28:bot"}}
    request = urllib.request.Request(
        url + "/api/messages", data=json.dumps(activity).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started


def test_a_hanging_key_endpoint_does_not_freeze_serve(tmp_path: Path) -> None:
    """The issue's symptom, on the real process: a key endpoint that accepts and never answers
    froze everything, /healthz included, because the SDK fetched keys blocking the loop."""
    hanging = HangingServer(hold_seconds=15)
    running = Server({
        "ESCALATION_BOT_DATABASE": str(tmp_path / "x.db"),
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": "not-a-real-secret",
        "ESCALATION_BOT_OPENID_METADATA_URL": hanging.url,
        "ESCALATION_BOT_OPENID_TIMEOUT_SECONDS": "2",
    })
    try:
        running.wait_ready()
        token = mint(new_key(), "teams-1", "http://127.0.0.1:9/")
        with ThreadPoolExecutor(1) as pool:
            message = pool.submit(post_activity, running.url, token)
            time.sleep(0.3)  # a short real wait: let the message reach the hung key fetch
            for _ in range(3):
                started = time.monotonic()
                assert get(running.url + "/healthz")[0] == 200
                assert time.monotonic() - started < 1.0
            assert not message.done()  # it really is waiting on the hung endpoint
            status, elapsed = message.result(timeout=10)
        assert status == 503 and 1.5 < elapsed < 4.0  # it waited for the 2 s limit, no longer
        assert hanging.accepted >= 1
    finally:
        stderr = running.stop()
        hanging.close()
    assert "Traceback" not in stderr


# ---- a broken pack among the installed ones (issue 9) ------------------------------------------


def _broken_pack(folder: Path) -> Path:
    data = yaml.safe_load((ROOT / "policy" / "packs" / "nsscp.yaml").read_text())
    data.update(id="harbour-scp", raiser_role="worker")
    folder.mkdir()
    path = folder / "harbour-scp.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_serve_refuses_to_start_on_a_broken_pack_the_configuration_uses(tmp_path: Path) -> None:
    pack = _broken_pack(tmp_path / "packs")
    data = yaml.safe_load(CONFIG.read_text())
    data["partnerships"][1]["policy"] = "harbour-scp"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    database = tmp_path / "x.db"
    result = run_serve(
        {
            "ESCALATION_BOT_CONFIG": str(config),
            "ESCALATION_BOT_DATABASE": str(database),
            "ESCALATION_BOT_PACKS": str(pack.parent),
        }
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"{config}: ")
    assert ", partnerships[1].policy: the pack for policy 'harbour-scp'" in result.stderr
    assert f"fix: escalation-bot policy check {pack}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not database.exists()


def test_serve_starts_beside_a_broken_pack_nobody_uses_and_logs_it(
    tmp_path: Path, database: Path
) -> None:
    pack = _broken_pack(tmp_path / "packs")
    running = Server(
        {"ESCALATION_BOT_DATABASE": str(database), "ESCALATION_BOT_PACKS": str(pack.parent)}
    )
    try:
        running.wait_ready()
    finally:
        stderr = running.stop()
    (warning,) = [json.loads(line) for line in stderr.splitlines() if "pack not loaded" in line]
    assert warning["level"] == "warning"
    assert warning["file"] == str(pack)
    assert warning["problems"] == 1


def test_a_deep_body_is_refused_before_the_parser_nears_the_recursion_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The JSON parser is only ever given text nested within MAX_DEPTH: at Python's recursion
    limit a collection's finalizers fail too ("RecursionError during GC")."""
    import json as stdlib_json

    from adapters.teams import inbound

    given: list[str] = []
    parse = stdlib_json.loads

    def loads(text: str, **kwargs: object) -> object:
        given.append(text)
        return parse(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(inbound.json, "loads", loads)
    for depth in (65, 900, 5000):
        body = ('{"a": "[[[[", "b": ' + "[" * depth + "]" * depth + "}").encode()
        with pytest.raises(inbound.Refused, match="nested deeper than 64"):
            inbound.parse_json(body)
    assert given == []  # refused before parsing
    # brackets inside strings are text, and 64 levels are still taken
    fine = '{"t": "' + "[" * 200 + '", "v": ' + "[" * 63 + "]" * 63 + "}"
    assert inbound.parse_json(fine.encode())["t"] == "[" * 200
    escaped = '{"t": "\\\\\\"[[[", "v": [1]}'
    assert inbound.parse_json(escaped.encode())["v"] == [1]
