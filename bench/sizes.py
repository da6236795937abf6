"""How many bytes a store holds: SQLite file + WAL after a checkpoint, Redis ``used_memory`` and
the prefix's own keys by family (``MEMORY USAGE key SAMPLES 0`` on a sample per family)."""

from __future__ import annotations

import random
import sqlite3
from typing import Any

from bench.common import StoreHandle

SAMPLE_PER_FAMILY = 2000


def sqlite_bytes(handle: StoreHandle) -> dict[str, Any]:
    assert handle.path is not None
    db = sqlite3.connect(handle.path)
    try:
        busy, _log, _done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        tables = dict(db.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall())
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        freelist = db.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        db.close()
    wal = handle.path.with_name(handle.path.name + "-wal")
    main = handle.path.stat().st_size
    wal_size = wal.stat().st_size if wal.exists() else 0
    return {"total": main + wal_size, "main": main, "wal": wal_size, "tables": tables,
            "checkpoint_busy": busy, "free_pages": freelist, "page_size": page_size}


def redis_bytes(handle: StoreHandle, rng: random.Random | None = None) -> dict[str, Any]:
    """used_memory (server-wide), plus the prefix's own keys by family from MEMORY USAGE, and
    the number of other keys on the server (if that changes, someone else was writing and the
    used_memory delta is disturbed; the MEMORY USAGE figures are not)."""
    client = handle.client
    assert client is not None
    used = int(client.info("memory")["used_memory"])
    families = redis_families(handle, rng or random.Random(0))
    own = sum(int(v["keys"]) for v in families.values())
    return {"total": used, "families": families, "own_keys": own,
            "usage_sum": sum(v["bytes"] for v in families.values()),
            "foreign_keys": int(client.dbsize()) - own}


def redis_families(handle: StoreHandle, rng: random.Random) -> dict[str, dict[str, float]]:
    """Estimated bytes per key family (the part after ``{prefix}:`` up to the next colon)."""
    client = handle.client
    assert client is not None and handle.prefix is not None
    tag = "{" + handle.prefix + "}:"
    families: dict[str, list[str]] = {}
    for key in client.scan_iter(match=tag + "*", count=5000):
        family = key[len(tag):].split(":", 1)[0]
        families.setdefault(family, []).append(key)
    estimate: dict[str, dict[str, float]] = {}
    for family, keys in families.items():
        sample = keys if len(keys) <= SAMPLE_PER_FAMILY else rng.sample(keys, SAMPLE_PER_FAMILY)
        pipe = client.pipeline(transaction=False)
        for key in sample:
            pipe.memory_usage(key, samples=0)  # every element, not Redis's default 5
        sizes = [int(s or 0) for s in pipe.execute()]
        total = sum(sizes) / len(sizes) * len(keys)
        estimate[family] = {"keys": len(keys), "bytes": round(total)}
    return estimate


def measure(handle: StoreHandle) -> dict[str, Any]:
    return sqlite_bytes(handle) if handle.kind == "sqlite" else redis_bytes(handle)
