"""Benchmarks for escalation-bot: ``python -m bench.run --help``. See bench/README.md."""
