"""``python -m benchmarks.memory``: what a scored event costs in Redis until
its label comes, measured, and what that makes at a deployment's rate.

It writes ``--events`` predict-time records through the worker's own
``Store.put_pending`` under a prefix of its own, for two kinds of events:
the benchmark's (20 numbers, 2 strings) and River's Phishing (9 numbers),
and reads Redis' own figures: ``used_memory`` before and after (all the
keys cost: value, key name, expiry, the dictionary's entries), and
``MEMORY USAGE`` of a sample of keys (one key alone). Then it deletes its
keys. Redis must have nothing else writing meanwhile for the first figure
to be the records' alone; the two figures are printed side by side.

Bytes per event times events per second times the TTL is the memory the
pending features hold (claims add a small key per labelled event); the
README's sizing table is computed from the figure printed here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import redis.asyncio as redis
from river import datasets

from app import pending
from app.model import Prediction
from app.settings import Settings
from app.signing import Signer
from app.store import Store
from benchmarks.data import events as benchmark_events

SERVED = Prediction(True, ((False, 0.25), (True, 0.75)))
BATCH = 500
SAMPLE = 200
TTL = 3600
DAY = 86_400


def benchmark_features(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    for event_id, raw, _ in benchmark_events(n, "m"):
        yield event_id, json.loads(raw)["features"]


def phishing_features(n: int) -> Iterator[tuple[str, dict[str, Any]]]:
    i = 0
    while i < n:
        for x, _ in datasets.Phishing():
            if i >= n:
                return
            yield f"p-{i}", dict(x)
            i += 1


async def measure(
    settings: Settings, rows: Iterator[tuple[str, dict[str, Any]]], n: int, compress: bool = False
) -> dict[str, float]:
    prefix = f"mem-{uuid.uuid4().hex[:8]}"
    store = Store.connect(settings.redis_url, prefix, 5.0, 1, signer=Signer(None, unsigned=True))
    client = redis.Redis.from_url(settings.redis_url)
    try:
        before = int((await client.info("memory"))["used_memory"])
        batch: list[tuple[str, bytes]] = []
        sizes = []
        encoding = 0.0
        for event_id, x in rows:
            began = time.perf_counter()
            record = pending.encode(x, SERVED, 1, 1_700_000_000.0, compress=compress)
            encoding += time.perf_counter() - began
            sizes.append(len(record))
            batch.append((event_id, record))
            if len(batch) == BATCH:
                await store.put_pending(batch, TTL)
                batch = []
        if batch:
            await store.put_pending(batch, TTL)
        after = int((await client.info("memory"))["used_memory"])
        began = time.perf_counter()
        keys = [k async for k in client.scan_iter(f"{prefix}:pending:*", count=1000)]
        scanned = time.perf_counter() - began
        assert len(keys) == n, f"{len(keys)} keys written, not {n}"
        began = time.perf_counter()
        counted = await store.count_pending(DAY)
        read = time.perf_counter() - began
        assert counted == n, f"the counters say {counted}, not {n}"
        usage = [await client.memory_usage(k) or 0 for k in keys[:SAMPLE]]
        # Each label's claim (the event id, the training offset that owns it).
        before_claims = int((await client.info("memory"))["used_memory"])
        ids = [k.decode().rsplit(":", 1)[1] for k in keys]
        for start in range(0, n, BATCH):
            chunk = ids[start : start + BATCH]
            await store.join([(e, start + i) for i, e in enumerate(chunk)], TTL)
        claims = int((await client.info("memory"))["used_memory"]) - before_claims
        print(
            f"  counting them: a SCAN {scanned * 1000:,.0f} ms, the worker's counters "
            f"(a day's hours and first minutes) {read * 1000:,.1f} ms"
        )
        return {
            "encoding a record, µs (mean)": encoding / n * 1e6,
            "record bytes (median)": statistics.median(sizes),
            "MEMORY USAGE per key (median)": statistics.median(usage),
            "used_memory per event": (after - before) / n,
            "used_memory per claim (a labelled event)": claims / n,
        }
    finally:
        async for key in client.scan_iter(f"{prefix}:*", count=1000):
            await client.delete(key)
        await client.aclose()
        await store.close()


async def main(n: int) -> None:
    settings = Settings()
    for name, rows, compress in (
        ("benchmark events (20 numbers, 2 strings)", benchmark_features(n), False),
        ("the same, EDDY_PENDING_COMPRESSION=zlib", benchmark_features(n), True),
        ("Phishing (9 numbers)", phishing_features(n), False),
        ("the same, EDDY_PENDING_COMPRESSION=zlib", phishing_features(n), True),
    ):
        print(f"{name}, {n:,} events:")
        figures = await measure(settings, rows, n, compress)
        for what, value in figures.items():
            print(f"  {what}: {value:,.1f}" if "µs" in what else f"  {what}: {value:,.0f} bytes")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    asyncio.run(main(args.events))


if __name__ == "__main__":
    cli()
