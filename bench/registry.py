"""The registry of named benchmarks.

A benchmark is a function ``(ctx: Context) -> dict``, registered with ``@benchmark("name")`` in any
module ``bench/bench_*.py`` (``bench.run`` imports them all, so a new benchmark needs no edit
elsewhere). The dict is the benchmark's part of the JSON report. Two optional keys are read by the
runner:

- ``"rows"``: a list of flat dicts, printed as the benchmark's human table (same keys per row);
- ``"problems"``: a list of sentences about anything that missed a target or looked wrong.

Everything else is free-form, but keep it JSON-serialisable (numbers, strings, lists, dicts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Result = dict[str, Any]


@dataclass
class Context:
    """What the command line chose; benchmarks read what they need and ignore the rest."""

    sizes: list[int]
    stores: list[str]
    quick: bool
    redis_url: str
    workdir: Path
    due: int = 1000
    window_seconds: float = 10.0
    tick_seconds: float = 1.0
    catchup_count: int = 10_000
    scrape_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def log(self, message: str) -> None:
        """Progress goes to stderr, so stdout stays one JSON document."""
        import sys

        print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[[Context], Result]
    description: str
    order: int


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(
    name: str, *, order: int = 100
) -> Callable[[Callable[[Context], Result]], Callable[[Context], Result]]:
    """Register ``fn`` under ``name``; ``order`` sorts the default run (lower first)."""

    def register(fn: Callable[[Context], Result]) -> Callable[[Context], Result]:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} is registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        BENCHMARKS[name] = Benchmark(name, fn, doc[0] if doc else "", order)
        return fn

    return register
