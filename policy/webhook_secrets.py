"""A webhook whose secret is not set cannot sign what it sends, so the bot must not start.

The secret lives in the environment, never in the file. Which environment is the caller's to
say: `serve` and `config check` pass their own, so the report names the file and the field like
any other problem, while the demo, the terminal chat and the tests load the same file the same
way whatever the shell holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from policy.errors import Problem

if TYPE_CHECKING:  # policy.config calls this check, so it is imported for its types only
    from policy.config import Webhook


def unset_webhook_secrets(webhooks: Sequence[Webhook], environ: Mapping[str, str]) -> list[Problem]:
    problems = []
    for index, hook in enumerate(webhooks):
        value = environ.get(hook.secret_env)
        if value is not None and value.strip():
            continue
        state = "is not set" if value is None else "is set but empty"
        problems.append(
            Problem(
                f"webhooks[{index}].secret_env",
                f"${hook.secret_env} {state}, so webhook '{hook.id}' cannot sign what it sends",
                f"export {hook.secret_env}=<the secret shared with the receiver> where the bot"
                " runs (and where you run config check)",
            )
        )
    return problems
