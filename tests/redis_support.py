"""A real Redis for the tests that need one, with each test's keys under its own prefix.

Without a server the tests skip locally and fail under CI (``CI`` set), where a silent skip would
pass a build that never exercised the store. Cleanup deletes only the prefix's own keys (SCAN,
never FLUSHDB), so the server may be shared.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

import pytest
import redis

URL = "redis://127.0.0.1:6379/0"
START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def require_redis(url: str = URL) -> None:
    """Skip (fail under CI) unless Redis answers on 127.0.0.1:6379."""
    probe = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        probe.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI, and {url} is unreachable: {exc}")
        pytest.skip(f"Redis on 127.0.0.1:6379 is not running; start it with: {START}")
    finally:
        probe.close()


def delete_prefix(client: redis.Redis | redis.RedisCluster, prefix: str) -> None:
    keys = list(client.scan_iter(match="{" + prefix + "}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start:start + 1000])


@contextmanager
def fresh_prefix(label: str = "test") -> Iterator[str]:
    """A prefix no other test uses; its keys are deleted afterwards."""
    require_redis()
    name = f"{label}-{uuid4().hex}"
    try:
        yield name
    finally:
        cleaner = redis.Redis.from_url(URL)
        try:
            delete_prefix(cleaner, name)
        finally:
            cleaner.close()
