"""End to end in Microsoft's own Teams client: the real bot (`escalation-bot serve`), Microsoft 365
Agents Playground (one per person, started by tools/playground.sh) and headless Chromium driven
with Playwright.

Alex Wilber (Dana Marsh, Northbay Council) raises a case with the intake card; Megan Bowen (Hana
Moss, Northbay Community Health, the counterpart) gets the bot's proactive card in her own chat and
acknowledges it, and Dana is told; Hana cannot agree and escalates, and Adele Vance (Cal Birch,
Dana's line manager) is prompted for stage 2 in her chat. The store is checked at each step.

The Playground cannot switch user in its page, so each person has a Playground of their own on
its own port, pointed at the same bot. Hana's and Cal's pages are opened first: that installs the
bot for them (the Playground sends installationUpdate and conversationUpdate), so the bot holds
their conversation references, as it would in Teams once the app is installed for them.

Needs node, `npm ci` at the repository root, Chromium (/usr/bin/chromium, or $CHROMIUM) and the
playwright package (no `playwright install`: the system Chromium is used). Without them the test
is skipped locally and fails under CI. Screenshots and logs go to a temporary folder, printed on
failure; set PLAYGROUND_E2E_DOCS=docs/images to also refresh the README's pictures.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.storage.sqlite import SqliteStore
from dialogs.events import EventType

ROOT = Path(__file__).resolve().parents[1]
PLAYGROUND_CLI = ROOT / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
PLAYGROUND_SCRIPT = ROOT / "tools" / "playground.sh"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Monday 30 Nov 2026, 10:00 in London: working time, so the counterpart is told at once rather
# than at 09:00 the next working day.
CLOCK_START = "2026-11-30T10:00:00+00:00"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
COMPOSE = 'div[data-lexical-editor="true"][role="textbox"]'  # the chat's compose box (Lexical)
SEND = 'button[aria-label="Send Message"]'
CARD = ".ac-adaptiveCard"
MESSAGE = "p"  # a text message in the chat pane (the log panel uses <span>)
LOCAL = re.compile(r"^https?://(127\.0\.0\.1|localhost)[:/]")
TIMEOUT_MS = 60_000  # generous: a loaded 2-core machine runs three Playgrounds and Chromium

pytestmark = pytest.mark.slow

DANA = "dana.marsh@council.northbay.example"
HANA = "hana.moss@health.northbay.example"
CAL = "cal.birch@council.northbay.example"
HANA_AAD = "00000000-0000-0000-0000-0000000000021"
CAL_AAD = "00000000-0000-0000-0000-0000000000022"


def _missing() -> list[str]:
    missing = []
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs npm)")
    if not PLAYGROUND_CLI.is_file():
        missing.append(f"{PLAYGROUND_CLI.relative_to(ROOT)} (run `npm ci` at the repository root)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (`make test` installs the test extra)")
    return missing


@pytest.fixture(scope="module")
def requirements() -> None:
    missing = _missing()
    if not missing:
        return
    reason = "the Teams end-to-end test needs " + "; ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure: .ci/run installs them)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Poll a real process's readiness URL until it answers 200."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process exited ({process.returncode}); see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
        except OSError as error:
            last = str(error)
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout:.0f}s ({last}); see {log}")


def listening_port(process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"^Listening on (\d+)", log.read_text(errors="replace"), re.MULTILINE)
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            raise AssertionError(f"the Playground exited ({process.returncode}); see {log}")
        time.sleep(0.2)
    raise AssertionError(f"the Playground did not say where it listens; see {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Stack:
    bot_url: str
    database: Path
    out: Path
    playgrounds: dict[str, str] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)


@pytest.fixture(scope="module")
def stack(requirements: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    out = tmp_path_factory.mktemp("playground-e2e")
    bot_port = free_port()
    stack = Stack(f"http://127.0.0.1:{bot_port}", out / "bot.sqlite3", out)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MicrosoftApp", "ESCALATION_BOT_"))  # no credentials: loopback mode
    }
    env |= {
        "ESCALATION_BOT_HOST": "127.0.0.1",
        "ESCALATION_BOT_PORT": str(bot_port),
        "ESCALATION_BOT_DATABASE": str(stack.database),
        "ESCALATION_BOT_TICK_SECONDS": "0.5",
        "ESCALATION_BOT_CLOCK_START": CLOCK_START,
    }
    processes: list[subprocess.Popen[bytes]] = []
    bot_log = out / "bot.log"
    stack.logs.append(bot_log)
    with contextlib.ExitStack() as files:
        try:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "serve"],
                    cwd=ROOT,
                    env=env,
                    stdout=files.enter_context(bot_log.open("wb")),
                    stderr=subprocess.STDOUT,
                )
            )
            endpoint = f"{stack.bot_url}/api/messages"
            started = []
            for person in ("megan", "adele", "alex"):
                port = free_port()
                log = out / f"playground-{person}.log"
                stack.logs += [log, out / "playgrounds" / person / "playground.log"]
                process = subprocess.Popen(
                    ["bash", str(PLAYGROUND_SCRIPT), person, str(port), endpoint],
                    cwd=ROOT,
                    env={**env, "PLAYGROUND_DIR": str(out / "playgrounds")},
                    stdout=files.enter_context(log.open("wb")),
                    stderr=subprocess.STDOUT,
                )
                processes.append(process)
                started.append((person, port, process, log))
            wait_http(f"{stack.bot_url}/readyz", processes[0], bot_log)
            for person, _, process, log in started:
                # the Playground takes another port if ours was taken meanwhile: ask its log
                url = f"http://127.0.0.1:{listening_port(process, log)}"
                wait_http(f"{url}/_debug/ping", process, log)
                stack.playgrounds[person] = f"{url}/"
            yield stack
        finally:
            for process in reversed(processes):
                stop(process)


@dataclass
class Pages:
    shots: Path
    pages: dict[str, Any] = field(default_factory=dict)
    taken: list[Path] = field(default_factory=list)

    def shot(self, person: str, name: str, target: Any = None, height: int | None = None) -> Path:
        """A screenshot of the page, its top ``height`` pixels, or one element (``target``)."""
        path = self.shots / f"{len(self.taken) + 1:02d}-{person}-{name}.png"
        if target is not None:
            target.screenshot(path=str(path))
        else:
            page = self.pages[person]
            clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}
            page.screenshot(path=str(path), clip=clip if height else None)
        self.taken.append(path)
        return path


@pytest.fixture()
def browser_pages(stack: Stack) -> Iterator[Pages]:
    from playwright.sync_api import Route, sync_playwright

    shots = stack.out / "screenshots"
    shots.mkdir(exist_ok=True)
    pages = Pages(shots)

    def offline(route: Route) -> None:
        # the Playground fetches fonts and telemetry from the internet: fail those at once
        if LOCAL.match(route.request.url):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            for person in stack.playgrounds:
                # tall enough that a whole card is in view: its screenshot is not cut by the header
                context = browser.new_context(viewport={"width": 1280, "height": 2000})
                context.route("**/*", offline)
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                pages.pages[person] = page
            yield pages
        finally:
            browser.close()


@contextlib.contextmanager
def evidence_on_failure(stack: Stack, pages: Pages) -> Iterator[None]:
    """On failure, screenshot every page and print where the screenshots and logs are."""
    try:
        yield
    except BaseException:
        for person in pages.pages:
            with contextlib.suppress(Exception):
                pages.shot(person, "at-failure")
        print(f"\nscreenshots in {pages.shots}:")
        for path in pages.taken:
            print(f"  {path}")
        print("logs:")
        for log in stack.logs:
            print(f"  {log}")
        raise


def send(page: Any, text: str) -> None:
    page.locator(COMPOSE).click()
    page.keyboard.type(text)
    page.locator(SEND).click()


def said(page: Any, text: str | re.Pattern[str]) -> Any:
    """The latest text message in the chat pane containing ``text``."""
    return page.locator(MESSAGE, has_text=text).last


def copy_for_docs(source: Path, name: str) -> None:
    target = os.environ.get("PLAYGROUND_E2E_DOCS")
    if target:
        folder = ROOT / target
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / name)


def test_raise_in_teams_and_counterpart_acknowledges(stack: Stack, browser_pages: Pages) -> None:
    with evidence_on_failure(stack, browser_pages):
        raise_and_acknowledge(stack, browser_pages)


def raise_and_acknowledge(stack: Stack, browser_pages: Pages) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    pages = browser_pages.pages
    hana, cal, dana = pages["megan"], pages["adele"], pages["alex"]
    welcome = re.compile(r"to raise a professional difference")

    # Hana and Cal open their chats first: the Playground installs the bot for them.
    for person, page in (("megan", hana), ("adele", cal)):
        page.goto(stack.playgrounds[person])
        expect(said(page, welcome)).to_be_visible()
    with SqliteStore(stack.database) as store:
        assert store.conversation_reference("teams", HANA_AAD), "Hana's chat was not recorded"
        assert store.conversation_reference("teams", CAL_AAD), "Cal's chat was not recorded"

    # Dana asks to escalate: the intake card, and its first question as text.
    dana.goto(stack.playgrounds["alex"])
    expect(said(dana, welcome)).to_be_visible()
    send(dana, "/escalate")
    expect(said(dana, "Fill in the card, or answer here one question at a time.")).to_be_visible()
    intake = dana.locator(CARD).filter(has_text="Raise a professional difference").last
    expect(intake).to_be_visible()

    intake.get_by_role("radio", name="No").check()
    intake.get_by_label("Who do you disagree with?").fill(HANA)
    intake.get_by_label("Their agency").fill("Northbay Community Health")
    intake.get_by_label("Child's name").fill("Sam Rivers")
    intake.get_by_label("Child's date of birth").fill("2015-03-14")
    intake.get_by_role("combobox", name="What is the issue about?").click()
    dana.get_by_role("option", name="Wait for a service").click()
    intake.get_by_label("The issue in brief").fill(
        "The referral for a speech and language assessment was declined twice."
    )
    intake.get_by_label("Impact on the child").fill(
        "No assessment for eight months; the school reports growing distress."
    )
    intake.get_by_label("What outcome do you want?").fill(
        "An assessment booked this month, or a written reason why not."
    )
    copy_for_docs(browser_pages.shot("alex", "intake-card", intake), "teams-intake-card.png")
    intake.get_by_role("button", name="Send").click()

    # The card is replaced by the case as Dana sees it.
    case_card = dana.locator(CARD).filter(has_text="Case NB-0001").last
    expect(case_card).to_be_visible()
    expect(case_card.get_by_text("Sam Rivers, born 14/03/2015")).to_be_visible()
    expect(case_card.get_by_role("button", name="Cannot agree: escalate")).to_be_visible()
    browser_pages.shot("alex", "case-raised")

    with SqliteStore(stack.database) as store:
        case = store.find_case_by_reference("NB-0001")
        assert case is not None
        assert case.raised_by == DANA
        assert case.is_party(HANA)

    # Hana's own chat shows the bot's proactive card, and her click is recorded.
    raised = (
        "Dana Marsh (Northbay Council Children's Services) has raised a professional difference"
    )
    ping = hana.locator(CARD).filter(has_text=raised).last
    expect(ping).to_be_visible()
    expect(ping.get_by_text("Sam Rivers, born 14/03/2015")).to_be_visible()
    copy_for_docs(
        browser_pages.shot("megan", "counterpart-card", ping), "teams-counterpart-card.png"
    )
    ping.get_by_role("button", name="Acknowledge").click()
    acknowledged = "Hana Moss has acknowledged case NB-0001"
    expect(hana.locator(CARD).filter(has_text=acknowledged).last).to_be_visible()
    browser_pages.shot("megan", "acknowledged")

    # Dana is told, in her chat.
    expect(dana.locator(CARD).filter(has_text=acknowledged).last).to_be_visible()
    browser_pages.shot("alex", "told-of-acknowledgement")

    with SqliteStore(stack.database) as store:
        case = store.find_case_by_reference("NB-0001")
        assert case is not None
        assert HANA in case.acknowledged_by
        history = store.history(case.id)
        acks = [e for e in history if e.type is EventType.ACKNOWLEDGED]
        assert [e.actor for e in acks] == [HANA]

    # Hana cannot agree: the button opens a short form in place of the card.
    current = hana.locator(CARD).filter(has_text=acknowledged).last
    current.get_by_role("button", name="Cannot agree: escalate").click()
    form = hana.locator(CARD).filter(has_text="What remains unresolved?").last
    expect(form).to_be_visible()
    form.get_by_label(re.compile(r"^What remains unresolved\?")).fill(
        "Whether the assessment can be offered this month."
    )
    form.get_by_role("button", name="Send").click()
    expect(hana.locator(CARD).filter(has_text="stage 2").last).to_be_visible()
    browser_pages.shot("megan", "escalated")

    # Cal, Dana's line manager, is prompted for stage 2 in his own chat.
    prompt = cal.locator(CARD).filter(has_text="Case NB-0001: stage 2").last
    expect(prompt).to_be_visible()
    copy_for_docs(
        browser_pages.shot("adele", "stage-2-prompt", height=1000), "teams-manager-prompt.png"
    )

    with SqliteStore(stack.database) as store:
        case = store.find_case_by_reference("NB-0001")
        assert case is not None
        assert case.stage == 2
        assert case.is_party(CAL)
        assert any(e.type is EventType.ESCALATED for e in store.history(case.id))
