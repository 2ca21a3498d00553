"""``python -m benchmarks``: the worker, everything on, against the bare loop.

One run, same broker, same pre-filled topics, alternating bare loop and
worker ``--pairs`` times. Reports medians and ratios (the machine is shared
and noisy: compare within a run, not across runs), latency at a fixed offered
load, label throughput, memory, two processes, and its own honesty checks.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.settings import Settings
from app.store import Store
from benchmarks.bare import bare_loop
from benchmarks.data import events
from tests.harness import Worker, eventually, free_port, wait_assigned


def memory_kib(worker: Worker, field: str) -> int:
    assert worker.proc is not None
    for line in Path(f"/proc/{worker.proc.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def fill(
    bootstrap: str, features: str | None, labels: str | None, n: int, prefix: str
) -> None:
    """``n`` events on ``features`` and labels for the first half on ``labels``
    (either may be None)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    await producer.start()
    try:
        futures = []
        for i, (event_id, value, y) in enumerate(events(n, prefix)):
            key = event_id.encode()
            if features is not None:
                futures.append(await producer.send(features, value, key=key))
            if labels is not None and i < n // 2:  # labels for half the events
                label = json.dumps({"event_id": event_id, "label": y}).encode()
                futures.append(await producer.send(labels, label, key=key))
            if len(futures) >= 10_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, n: int, within: float) -> list[Any]:
    """Every record of ``topic`` until ``n`` distinct event ids are in."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    records: list[Any] = []
    seen: set[str] = set()
    deadline = time.monotonic() + within
    try:
        while len(seen) < n and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200, max_records=10_000)).values():
                for r in batch:
                    records.append(r)
                    seen.add(r.key.decode())
    finally:
        await consumer.stop()
    return records


def worker_settings(base: dict[str, Any], name: str, **extra: Any) -> Settings:
    return Settings(
        **base,
        app_id=name,
        redis_prefix=name,
        topic_predictions=f"{name}-predictions",
        topic_dead_letter=f"{name}-dead-letter",
        topic_drift=f"{name}-drift",
        data_dir=f"{tempfile.gettempdir()}/{name}",
        **extra,
    )


async def run_workers(settings: Settings, processes: int, n: int, logs: Path) -> dict[str, Any]:
    """Start ``processes`` workers on the pre-filled topics; measure them."""
    workers = [
        Worker(settings.model_copy(update={"web_port": free_port()}), logs).start()
        for _ in range(processes)
    ]
    try:
        await wait_assigned(workers, {settings.topic_training: 1}, within=120)
        idle_kib = memory_kib(workers[0], "VmRSS")
        records = await read_all(settings.kafka_bootstrap, settings.topic_predictions, n, 900)
        stamps = sorted(r.timestamp for r in records)
        seconds = (stamps[-1] - stamps[0]) / 1000
        ids = [r.key.decode() for r in records]
        versions = await learned_versions(settings, n // 2, 300)
        dead = await read_all(settings.kafka_bootstrap, settings.topic_dead_letter, 1, 2)
        return {
            "events_per_s": (len(stamps) - 1) / seconds,
            "unique": len(set(ids)),
            "duplicates": len(ids) - len(set(ids)),
            "dead_letters": len(dead),
            "learned": versions[-1]["learned"],
            "labels_per_s": learning_rate(versions),
            "idle_mib": idle_kib / 1024,
            "peak_mib": max(memory_kib(w, "VmHWM") for w in workers) / 1024,
        }
    finally:
        for w in workers:
            w.stop()


async def learned_versions(settings: Settings, labels: int, within: float) -> list[dict[str, Any]]:
    """The model's version log, once a version has learned ``labels``."""
    store = Store.connect(settings.redis_url, settings.redis_prefix, 5, 1)

    async def all_learned() -> list[dict[str, Any]] | None:
        versions = await store.versions(settings.model)
        return versions if versions and versions[-1]["learned"] >= labels else None

    try:
        return await eventually(f"{labels} labels learned", all_learned, within)
    finally:
        await store.close()


def learning_rate(versions: list[dict[str, Any]]) -> float:
    """Labels learned per second, from the first model version that learned
    any to the last."""
    learning = [v for v in versions if v["learned"] > 0]
    seconds = learning[-1]["created_at"] - learning[0]["created_at"]
    return (learning[-1]["learned"] - learning[0]["learned"]) / seconds if seconds > 0 else math.nan


async def labels_alone(base: dict[str, Any], run: str, n: int, logs: Path) -> tuple[float, int]:
    """Labels joined and learned per second when their features are already
    stored: the worker scores every event first, stops, and is started again
    once the labels are on their topic. (In the throughput runs the labels
    are on their topic before the features are scored, so they are learned
    no faster than scoring goes.)"""
    name = f"{run}-labels-alone"
    settings = worker_settings({**base, "topic_labels": f"{name}-labels"}, name)
    settings = settings.model_copy(update={"web_port": free_port()})
    await create_topics(settings.kafka_bootstrap, [settings.topic_labels], base["topic_partitions"])
    worker = Worker(settings, logs).start()
    try:
        await wait_assigned([worker], {settings.topic_training: 1}, within=120)
        await read_all(settings.kafka_bootstrap, settings.topic_predictions, n, 900)
    finally:
        worker.stop()
    await fill(settings.kafka_bootstrap, None, settings.topic_labels, n, run)
    worker.start()
    try:
        versions = await learned_versions(settings, n // 2, 300)
    finally:
        worker.stop()
    return learning_rate(versions), versions[-1]["learned"]


LABEL_LAG = 100
"""In the latency run, each label follows its features this many events later."""


async def label_to_served(settings: Settings, labels: int) -> list[float]:
    """For each label, from its arrival on the labels topic to the first model
    version that holds it (the learner's process serves it from then on; the
    others within EDDY_MODEL_REFRESH_INTERVAL_SECONDS more)."""
    versions = await learned_versions(settings, labels, 120)
    records = await read_all(settings.kafka_bootstrap, settings.topic_training, labels, 30)
    offsets = [v["offset"] for v in versions]
    delays = []
    for r in records:
        first = versions[bisect.bisect_left(offsets, r.offset)]
        delays.append(first["created_at"] - json.loads(r.value)["label_at"])
    return sorted(delays)


async def latency(
    base: dict[str, Any], run: str, rate: float, seconds: float, logs: Path
) -> tuple[list[float], list[float]]:
    """End-to-end latency at a fixed offered load, from each event's intended
    send time (so a stalled producer does not hide slow periods), with labels
    following their features; and the label-to-served-model delays."""
    name = f"{run}-lat"
    settings = worker_settings(
        {**base, "topic_features": f"{name}-features", "topic_labels": f"{name}-labels"}, name
    )
    await create_topics(
        settings.kafka_bootstrap,
        [settings.topic_features, settings.topic_labels, settings.topic_predictions],
        settings.topic_partitions,
    )
    worker = Worker(settings.model_copy(update={"web_port": free_port()}), logs).start()
    consumer = AIOKafkaConsumer(
        settings.topic_predictions,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=5,
    )
    intended: dict[str, float] = {}
    arrived: dict[str, float] = {}
    try:
        await wait_assigned([worker], {settings.topic_features: settings.topic_partitions})
        await consumer.start()

        async def collect() -> None:
            while True:
                for batch in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.time()
                    for r in batch:
                        arrived.setdefault(r.key.decode(), now)

        collector = asyncio.create_task(collect())
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=0)
        await producer.start()
        start = time.time() + 0.5
        total = int(rate * seconds)
        sent_labels: list[tuple[str, bool]] = []
        for i, (event_id, value, y) in enumerate(events(total, name, seed=7)):
            due = start + i / rate
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            event = json.loads(value)
            event["occurred_at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due)) + "Z"
            intended[event_id] = due
            await producer.send(
                settings.topic_features, json.dumps(event).encode(), key=event_id.encode()
            )
            sent_labels.append((event_id, y))
            if i >= LABEL_LAG:
                labelled, label = sent_labels[i - LABEL_LAG]
                body = json.dumps({"event_id": labelled, "label": label}).encode()
                await producer.send(settings.topic_labels, body, key=labelled.encode())
        await producer.stop()

        async def everything() -> bool:
            return len(arrived) >= total

        await eventually("every latency prediction", everything, 120)
        collector.cancel()
        label_delays = await label_to_served(settings, total - LABEL_LAG)
    finally:
        await consumer.stop()
        worker.stop()
    return sorted(arrived[k] - intended[k] for k in intended), label_delays


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def main(args: argparse.Namespace) -> None:
    run = f"bench-{uuid.uuid4().hex[:6]}"
    logs = Path(tempfile.mkdtemp(prefix=run))
    defaults = Settings()
    base: dict[str, Any] = {
        "kafka_bootstrap": defaults.kafka_bootstrap,
        "redis_url": defaults.redis_url,
        "topic_features": f"{run}-features",
        "topic_labels": f"{run}-labels",
        "topic_partitions": args.partitions,
    }
    n = args.events
    print(f"run {run}: {n} events, labels for {n // 2}, {args.partitions} partitions")
    await create_topics(
        defaults.kafka_bootstrap, [base["topic_features"], base["topic_labels"]], args.partitions
    )
    began = time.perf_counter()
    await fill(defaults.kafka_bootstrap, base["topic_features"], base["topic_labels"], n, run)
    print(f"pre-filled in {time.perf_counter() - began:.1f} s")

    bare_rates, worker_runs = [], []
    for pair in range(args.pairs):
        sink = f"{run}-bare-{pair}"
        await create_topics(defaults.kafka_bootstrap, [sink], args.partitions)
        seconds = await bare_loop(defaults.kafka_bootstrap, base["topic_features"], sink, sink, n)
        bare_rates.append(n / seconds)
        result = await run_workers(worker_settings(base, f"{run}-w{pair}"), 1, n, logs)
        worker_runs.append(result)
        rate = result["events_per_s"]
        print(
            f"pair {pair + 1}: bare {bare_rates[-1]:,.0f} events/s, worker {rate:,.0f} events/s "
            f"(ratio {rate / bare_rates[-1]:.2f}), labels {result['labels_per_s']:,.0f}/s, "
            f"peak {result['peak_mib']:.0f} MiB",
            flush=True,
        )
    two = await run_workers(worker_settings(base, f"{run}-two"), 2, n, logs)
    alone, alone_learned = await labels_alone(base, run, n, logs)
    lat, label_delays = await latency(base, run, args.rate, args.latency_seconds, logs)

    worker_rates = [r["events_per_s"] for r in worker_runs]
    ratios = [w / b for w, b in zip(worker_rates, bare_rates, strict=True)]
    labels_per_s = statistics.median(r["labels_per_s"] for r in worker_runs)
    p50, p99, p999 = (percentile(lat, q) * 1000 for q in (0.5, 0.99, 0.999))
    idle = statistics.median(r["idle_mib"] for r in worker_runs)
    peak = max(r["peak_mib"] for r in worker_runs)
    all_runs = [*worker_runs, two]
    honest = alone_learned == n // 2 and all(
        r["unique"] == n and r["dead_letters"] == 0 and r["learned"] == n // 2 for r in all_runs
    )
    dupes = sum(r["duplicates"] for r in all_runs)
    rows = [
        (f"bare loop, events/s (median of {args.pairs})", f"{statistics.median(bare_rates):,.0f}"),
        ("worker, everything on, events/s (median)", f"{statistics.median(worker_rates):,.0f}"),
        (
            "worker / bare, pair by pair",
            f"{', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f})",
        ),
        ("two worker processes, events/s", f"{two['events_per_s']:,.0f}"),
        ("labels joined and learned per second, features already scored", f"{alone:,.0f}"),
        (
            "labels joined and learned per second while the same worker scores "
            "(labels arrive before their features; median)",
            f"{labels_per_s:,.0f}",
        ),
        (
            f"end-to-end latency at {args.rate:.0f} events/s for {args.latency_seconds:.0f} s, "
            "with labels: p50, p99, p99.9, max (ms)",
            f"{p50:.0f}, {p99:.0f}, {p999:.0f}, {lat[-1] * 1000:.0f}",
        ),
        (
            f"a label's arrival to the first model version holding it, same run "
            f"(labels {LABEL_LAG} events late): p50, p99 (ms)",
            f"{percentile(label_delays, 0.5) * 1000:.0f}, "
            f"{percentile(label_delays, 0.99) * 1000:.0f}",
        ),
        (
            f"worker memory: idle, peak with {n // 2:,} events awaiting labels (MiB)",
            f"{idle:.0f}, {peak:.0f}",
        ),
        (
            f"honesty: every event exactly one prediction, no dead letter, {n // 2:,} learned",
            f"{'yes' if honest else 'NO'} ({dupes} duplicate predictions)",
        ),
    ]
    print("\n| figure | value |\n|---|---|")
    for figure, value in rows:
        print(f"| {figure} | {value} |")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rate", type=float, default=2000, help="offered load for latency")
    parser.add_argument("--latency-seconds", type=float, default=60)
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
