"""`escalation-bot mail-capture`: the local mail server `make run` starts beside the bot."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.settings import REPO_ROOT, is_loopback

DEFAULT_FOLDER = REPO_ROOT / "var" / "mail"


def run_mail_capture(folder: str | None, host: str, port: int) -> int:
    if not is_loopback(host):
        print(
            f"mail-capture: listens only on this machine (127.0.0.1 or ::1), not {host}: it"
            " keeps whatever it is sent",
            file=sys.stderr,
        )
        return 1
    try:
        from adapters.email.capture import serve
    except ModuleNotFoundError as exc:
        if exc.name != "aiosmtpd":
            raise
        print(
            "mail-capture: needs aiosmtpd; fix: pip install -e '.[capture]' (make run does)",
            file=sys.stderr,
        )
        return 1
    target = Path(folder) if folder else DEFAULT_FOLDER
    try:
        asyncio.run(serve(target.resolve(), host, port))
    except OSError as exc:
        print(
            f"mail-capture: cannot listen on {host}:{port} ({exc.strerror or exc}); fix: choose"
            " another port with --port (make run: MAIL_CAPTURE_PORT)",
            file=sys.stderr,
        )
        return 1
    return 0
