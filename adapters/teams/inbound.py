"""What a request to POST /api/messages must look like before botbuilder sees it.

Every check here raises ``Refused(status, reason)``: the route answers that status with the reason
as a small JSON body and logs one line. ``reason`` is machine-facing and never quotes the request.

In **local no-credential mode** (no MicrosoftAppId: how Microsoft's Agents Playground talks to the
bot) nothing authenticates a request, so a web page the developer visits must not be able to send
one. A browser can send a cross-site POST without asking first only with a "simple" content type
(``text/plain``, forms), and always names the page in ``Origin``; a DNS-rebinding page reaches
127.0.0.1 under its own host name. So in that mode the content type must be exactly
``application/json`` (only ``charset=utf-8`` may follow), the ``Host`` must be a loopback address,
no ``Origin`` may be present (the Playground's own Node server sends none: measured with 0.2.28),
and the activity's ``serviceUrl``, where replies go, must be on loopback too.

With credentials the Bot Framework token authenticates the request (and binds its serviceUrl), so
only the content type (a JSON media type, UTF-8) and the activity's shape are checked here.

In both modes the body must be UTF-8 JSON (no NaN, no lone surrogates) nested at most
``MAX_DEPTH`` levels (5,000 levels used to end in a RecursionError and a 500), and the activity
must name its type, its conversation and a well-formed http(s) serviceUrl before botbuilder is
called (without one the SDK answered 500, after retrying a public host for seconds).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
_MEDIA_TYPE = re.compile(rf"({_TOKEN})/({_TOKEN})")
_PARAMETER = re.compile(rf"[ \t]*;[ \t]*({_TOKEN})=({_TOKEN}|{_QUOTED})")
_PORT = re.compile(r":[0-9]{1,5}")
_UNSAFE_ID = re.compile(r"[^\x21-\x7e]")  # ids go into the connector's URLs: printable ASCII
MAX_DEPTH = 64  # a Teams activity nests about 6 deep; a card's data a few more
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: linear, no backtracking
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def media_type(value: str) -> tuple[str, dict[str, str]] | None:
    """``type/subtype`` (lower case) and its parameters, per RFC 9110; None if malformed."""
    value = value.strip(" \t")
    found = _MEDIA_TYPE.match(value)
    if found is None:
        return None
    parameters: dict[str, str] = {}
    position = found.end()
    while position < len(value):
        parameter = _PARAMETER.match(value, position)
        if parameter is None:
            return None
        name, raw = parameter[1].lower(), parameter[2]
        if name in parameters:
            return None
        parameters[name] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
        position = parameter.end()
    return f"{found[1]}/{found[2]}".lower(), parameters


def is_loopback_name(name: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (a host name, without port or brackets)."""
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str) -> bool:
    """A ``Host`` header naming a loopback address, with or without a port."""
    if host.startswith("["):
        name, bracket, port = host[1:].partition("]")
        if not bracket:
            return False
    else:
        name, colon, port = host.partition(":")
        port = colon + port
    return (not port or _PORT.fullmatch(port) is not None) and is_loopback_name(name)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """UTF-8 JSON text, nested at most ``MAX_DEPTH`` deep, with no NaN and no lone surrogates."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    if _nesting(raw) > MAX_DEPTH:
        # measured before parsing: the C parser stops at Python's recursion limit, and
        # finalizers run by a collection at that depth failed in turn ("RecursionError during
        # GC", seen once in the fuzz)
        raise Refused(400, f"body is nested deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(text, parse_constant=_no_constants)
    except RecursionError:  # the C parser stops at Python's recursion limit, cleanly
        raise Refused(400, f"body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # JSONDecodeError, or a number of more than 4,300 digits
        raise Refused(400, "body is not JSON") from None
    _check_tree(body)
    return body


def _nesting(raw: bytes) -> int:
    """How deep the brackets of a JSON text nest, brackets inside strings not counted. Cheap
    when there are few brackets, which is every real activity."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub(b'""', raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _check_tree(body: Any) -> None:
    """Depth and text, walked without recursion."""
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise Refused(400, f"body is nested deeper than {MAX_DEPTH} levels")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                if isinstance(key, str):
                    _check_text(key)
                pending.append((value, depth + 1))
        elif isinstance(node, str):
            _check_text(node)


def _check_text(text: str) -> None:
    # a lone surrogate ("\ud800") is valid JSON but no valid text: refuse it here, before it
    # reaches a store or a log that cannot encode it
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused(400, "body holds text that is not Unicode") from None


class RequestChecks:
    def __init__(self, local: bool) -> None:
        self.local = local  # no-credential mode

    def headers(self, headers: Mapping[str, str]) -> None:
        self._content_type(headers)
        if not self.local:
            return
        if not is_loopback_host(headers.get("Host", "")):
            raise Refused(421, "no-credential mode answers only requests to a loopback Host")
        if "Origin" in headers:
            raise Refused(403, "no-credential mode refuses requests sent by a web page (Origin)")

    def _content_type(self, headers: Mapping[str, str]) -> None:
        getall = getattr(headers, "getall", None)
        values = getall("Content-Type", []) if callable(getall) else [headers.get("Content-Type")]
        parsed = media_type(values[0]) if len(values) == 1 and values[0] else None
        if parsed is None:
            raise Refused(415, "expected Content-Type: application/json")
        kind, parameters = parsed
        charset = parameters.get("charset", "utf-8").lower()
        if self.local:
            ok = kind == "application/json" and set(parameters) <= {"charset"}
        else:
            ok = kind == "application/json" or (
                kind.startswith("application/") and kind.endswith("+json")
            )
        if not ok or charset != "utf-8":
            raise Refused(415, "expected Content-Type: application/json (UTF-8)")

    def activity(self, body: dict[str, Any]) -> None:
        """The fields botbuilder needs before it can even answer; the rest is its to read."""
        kind = body.get("type")
        if not isinstance(kind, str) or not kind:
            raise Refused(400, "activity has no type")
        conversation = body.get("conversation")
        if not isinstance(conversation, dict) or not _text(conversation.get("id")):
            raise Refused(400, "activity has no conversation")
        if _UNSAFE_ID.search(conversation["id"]):
            raise Refused(400, "activity's conversation id is malformed")
        for account in ("from", "recipient"):
            if body.get(account) is not None and not isinstance(body[account], dict):
                raise Refused(400, f"activity's {account} is not an account")
        self._service_url(body.get("serviceUrl"))

    def _service_url(self, value: Any) -> None:
        if not _text(value):
            raise Refused(400, "activity has no serviceUrl")
        assert isinstance(value, str)
        if not value.isascii() or not value.isprintable() or " " in value:
            raise Refused(400, "serviceUrl is not a URL")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError for a malformed port
        except ValueError:
            raise Refused(400, "serviceUrl is not a URL") from None
        if parts.scheme not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
            raise Refused(400, "serviceUrl is not an http(s) URL")
        if self.local and not is_loopback_name(parts.hostname):
            raise Refused(400, "no-credential mode accepts only a loopback serviceUrl")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)
