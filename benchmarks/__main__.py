"""``python -m benchmarks``: the worker, everything on, against the bare loop.

One run, same broker, same pre-filled topics, alternating the bare loop, the
bare loop that also learns (a lower bound of learning's cost), a scorer
alone (the worker without learning) and the worker ``--pairs`` times.
Reports medians and ratios (the machine is shared and noisy: compare within
a run, not across runs), latency at a fixed offered load, label throughput,
memory, two processes, and its own honesty checks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from redis import asyncio as redis

from app.settings import Role, Settings
from app.signing import Signer
from app.store import Store
from benchmarks.bare import bare_loop
from benchmarks.data import events
from tests.freshness import Freshness
from tests.freshness import measure as measure_freshness
from tests.harness import (
    Served,
    Worker,
    delete_topics,
    eventually,
    free_port,
    label_served,
    wait_assigned,
)


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
        topic_model_events=f"{name}-model-events",
        data_dir=f"{tempfile.gettempdir()}/{name}",
        **extra,
    )


ONE: tuple[Role, ...] = ("all",)
SCORER: tuple[Role, ...] = ("scorer",)
TWO: tuple[Role, ...] = ("all", "all")
SPLIT: tuple[Role, ...] = ("scorer", "learner")


def start_workers(settings: Settings, roles: Sequence[Role], logs: Path) -> list[Worker]:
    """One worker process per role, each with its own web port."""
    return [
        Worker(settings.model_copy(update={"web_port": free_port(), "role": r}), logs).start()
        for r in roles
    ]


def stop_workers(workers: list[Worker]) -> None:
    for w in workers:
        w.stop()


async def run_workers(
    settings: Settings, roles: Sequence[Role], n: int, logs: Path
) -> dict[str, Any]:
    """Start a worker per role on the pre-filled topics; measure them. With
    no process that learns (a ``scorer`` alone), labels are forwarded to the
    training topic and stay there: ``learned`` is None."""
    learns = any(r != "scorer" for r in roles)
    owned = (
        {settings.topic_training: 1}
        if learns
        else {settings.topic_features: settings.topic_partitions}
    )
    workers = start_workers(settings, roles, logs)
    try:
        await wait_assigned(workers, owned, within=120, ready=learns)
        idle_kib = memory_kib(workers[0], "VmRSS")
        records = await read_all(settings.kafka_bootstrap, settings.topic_predictions, n, 900)
        stamps = sorted(r.timestamp for r in records)
        seconds = (stamps[-1] - stamps[0]) / 1000
        ids = [r.key.decode() for r in records]
        versions = await learned_versions(settings, n // 2, 300) if learns else None
        dead = await read_all(settings.kafka_bootstrap, settings.topic_dead_letter, 1, 2)
        return {
            "events_per_s": (len(stamps) - 1) / seconds,
            "unique": len(set(ids)),
            "duplicates": len(ids) - len(set(ids)),
            "dead_letters": len(dead),
            "learned": versions[-1]["learned"] if versions else None,
            "labels_per_s": learning_rate(versions, n // 2) if versions else math.nan,
            "idle_mib": idle_kib / 1024,
            "peak_mib": max(memory_kib(w, "VmHWM") for w in workers) / 1024,
        }
    finally:
        stop_workers(workers)


async def learned_versions(settings: Settings, labels: int, within: float) -> list[dict[str, Any]]:
    """The model's version log, once a version has learned ``labels``."""
    store = Store.connect(
        settings.redis_url, settings.redis_prefix, 5, 1, signer=Signer.from_settings(settings)
    )

    async def all_learned() -> list[dict[str, Any]] | None:
        versions = await store.versions(settings.model)
        return versions if versions and versions[-1]["learned"] >= labels else None

    try:
        return await eventually(f"{labels} labels learned", all_learned, within)
    finally:
        await store.close()


def learning_rate(versions: list[dict[str, Any]], total: int) -> float:
    """Labels learned per second, sustained: between the model versions that
    hold 10% and 90% of ``total`` (start-up and the last snapshot aside)."""
    inner = [v for v in versions if 0.1 * total <= v["learned"] <= 0.9 * total]
    if len(inner) < 2:
        inner = [v for v in versions if v["learned"] > 0]
    seconds = inner[-1]["created_at"] - inner[0]["created_at"]
    return (inner[-1]["learned"] - inner[0]["learned"]) / seconds if seconds > 0 else math.nan


async def labels_alone(
    base: dict[str, Any], run: str, n: int, logs: Path, roles: Sequence[Role], name: str
) -> tuple[float, int]:
    """Labels joined and learned per second when their features are already
    stored: the workers score every event first, stop, and are started again
    once the labels are on their topic. (In the throughput runs the labels
    are on their topic before the features are scored, so they are learned
    no faster than scoring goes.)"""
    settings = worker_settings({**base, "topic_labels": f"{name}-labels"}, name)
    await create_topics(settings.kafka_bootstrap, [settings.topic_labels], base["topic_partitions"])
    workers = start_workers(settings, roles, logs)
    try:
        await wait_assigned(workers, {settings.topic_training: 1}, within=120)
        await read_all(settings.kafka_bootstrap, settings.topic_predictions, n, 900)
    finally:
        stop_workers(workers)
    await fill(settings.kafka_bootstrap, None, settings.topic_labels, n, run)
    for w in workers:
        w.start()
    try:
        versions = await learned_versions(settings, n // 2, 300)
    finally:
        stop_workers(workers)
    return learning_rate(versions, n // 2), versions[-1]["learned"]


LABEL_LAG = 100
"""In the latency run, each label follows its features this many events later."""


async def latency(
    base: dict[str, Any], name: str, rate: float, seconds: float, logs: Path, roles: Sequence[Role]
) -> tuple[list[float], dict[str, Served]]:
    """End-to-end latency at a fixed offered load, from each event's intended
    send time (so a stalled producer does not hide slow periods), with labels
    following their features; and, by path (``live``: the learner's process,
    ``snapshot``: a process loading versions), how soon a label is served."""
    settings = worker_settings(
        {**base, "topic_features": f"{name}-features", "topic_labels": f"{name}-labels"}, name
    )
    await create_topics(
        settings.kafka_bootstrap,
        [settings.topic_features, settings.topic_labels, settings.topic_predictions],
        settings.topic_partitions,
    )
    workers = start_workers(settings, roles, logs)
    consumer = AIOKafkaConsumer(
        settings.topic_predictions,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=5,
    )
    intended: dict[str, float] = {}
    arrived: dict[str, float] = {}
    try:
        await wait_assigned(
            workers,
            {settings.topic_features: settings.topic_partitions, settings.topic_training: 1},
        )
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
        await learned_versions(settings, total - LABEL_LAG, 120)
        served = {
            path: label_served(w.metrics(), path)
            for w in workers
            for path in ("live", "snapshot")
            if label_served(w.metrics(), path).count
        }
    finally:
        await consumer.stop()
        stop_workers(workers)
    return sorted(arrived[k] - intended[k] for k in intended), served


async def freshness(base: dict[str, Any], name: str, delay: int, logs: Path) -> Freshness:
    """Phishing at 500 events/s to one worker, what it served against River."""
    settings = worker_settings(
        {**base, "topic_features": f"{name}-features", "topic_labels": f"{name}-labels"}, name
    )
    workers: list[Worker] = []

    def spawn(s: Settings) -> Worker:
        workers.append(Worker(s, logs).start())
        return workers[-1]

    store = Store.connect(
        settings.redis_url, settings.redis_prefix, 5, 1, signer=Signer.from_settings(settings)
    )
    try:
        return await measure_freshness(settings, delay, 500, spawn, store)
    finally:
        stop_workers(workers)
        await store.close()


def served_ms(served: Served) -> str:
    return f"{served.quantile(0.5) * 1000:,.0f}, {served.quantile(0.99) * 1000:,.0f}"


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def main(args: argparse.Namespace) -> None:
    await in_run("bench", measure, args)


async def in_run(
    kind: str, measure: Callable[[argparse.Namespace, str], Awaitable[None]], args: Any
) -> None:
    """``measure`` under a run id of its own; its Redis keys and topics
    deleted after, whatever happened."""
    run = f"{kind}-{uuid.uuid4().hex[:6]}"
    try:
        await measure(args, run)
    finally:
        await forget(Settings().redis_url, run)
        with contextlib.suppress(Exception):  # never hide what ``measure`` raised
            await delete_topics(Settings().kafka_bootstrap, [f"{run}-"])


async def prefilled(run: str, n: int, partitions: int) -> tuple[dict[str, Any], Path]:
    """The run's topics made and pre-filled (``n`` events, labels for
    half): the workers' base settings, and a directory for their logs."""
    defaults = Settings()
    base: dict[str, Any] = {
        "kafka_bootstrap": defaults.kafka_bootstrap,
        "redis_url": defaults.redis_url,
        "topic_features": f"{run}-features",
        "topic_labels": f"{run}-labels",
        "topic_partitions": partitions,
    }
    print(f"run {run}: {n:,} events, labels for {n // 2:,}, {partitions} partitions", flush=True)
    await create_topics(
        defaults.kafka_bootstrap, [base["topic_features"], base["topic_labels"]], partitions
    )
    began = time.perf_counter()
    await fill(defaults.kafka_bootstrap, base["topic_features"], base["topic_labels"], n, run)
    print(f"pre-filled in {time.perf_counter() - began:.1f} s", flush=True)
    return base, Path(tempfile.mkdtemp(prefix=run))


async def measure(args: argparse.Namespace, run: str) -> None:
    n = args.events
    base, logs = await prefilled(run, n, args.partitions)
    defaults = Settings()

    bare_rates: list[float] = []
    learning_rates: list[float] = []
    worker_runs = []
    scorer_runs = []
    for pair in range(args.pairs):
        for learn_first, rates in ((0, bare_rates), (n // 2, learning_rates)):
            sink = f"{run}-bare-{pair}-{learn_first}"
            await create_topics(defaults.kafka_bootstrap, [sink], args.partitions)
            seconds = await bare_loop(
                defaults.kafka_bootstrap, base["topic_features"], sink, sink, n, learn_first
            )
            rates.append(n / seconds)
        scorer = await run_workers(worker_settings(base, f"{run}-s{pair}"), SCORER, n, logs)
        scorer_runs.append(scorer)
        result = await run_workers(worker_settings(base, f"{run}-w{pair}"), ONE, n, logs)
        worker_runs.append(result)
        rate = result["events_per_s"]
        print(
            f"pair {pair + 1}: bare {bare_rates[-1]:,.0f} events/s, worker {rate:,.0f} events/s "
            f"(ratio {rate / bare_rates[-1]:.2f}; bare loop that learns "
            f"{learning_rates[-1]:,.0f}, ratio {rate / learning_rates[-1]:.2f}; scorer alone "
            f"{scorer['events_per_s']:,.0f}, ratio {scorer['events_per_s'] / bare_rates[-1]:.2f}), "
            f"labels {result['labels_per_s']:,.0f}/s, peak {result['peak_mib']:.0f} MiB",
            flush=True,
        )
    two = await run_workers(worker_settings(base, f"{run}-two"), TWO, n, logs)
    split = await run_workers(worker_settings(base, f"{run}-split"), SPLIT, n, logs)
    alone = await labels_alone(base, run, n, logs, ONE, f"{run}-alone")
    alone_split = await labels_alone(base, run, n, logs, SPLIT, f"{run}-alone-split")
    lat = await latency(base, f"{run}-lat", args.rate, args.latency_seconds, logs, ONE)
    lat_split = await latency(
        base, f"{run}-lat-split", args.rate, args.latency_seconds, logs, SPLIT
    )
    fresh = [await freshness(base, f"{run}-fresh-{d}", d, logs) for d in (0, 100)]
    for f in fresh:
        print(f.describe(), flush=True)

    worker_rates = [r["events_per_s"] for r in worker_runs]
    ratios = [w / b for w, b in zip(worker_rates, bare_rates, strict=True)]
    learning_ratios = [w / b for w, b in zip(worker_rates, learning_rates, strict=True)]
    scorer_rates = [r["events_per_s"] for r in scorer_runs]
    scorer_ratios = [s / b for s, b in zip(scorer_rates, bare_rates, strict=True)]
    idle = statistics.median(r["idle_mib"] for r in worker_runs)
    peak = max(r["peak_mib"] for r in worker_runs)
    all_runs = [*worker_runs, two, split]
    honest = (
        alone[1] == alone_split[1] == n // 2
        and all(r["learned"] == n // 2 for r in all_runs)
        and all(r["learned"] is None for r in scorer_runs)
        and all(r["unique"] == n and r["dead_letters"] == 0 for r in [*all_runs, *scorer_runs])
    )
    dupes = sum(r["duplicates"] for r in [*all_runs, *scorer_runs])

    def ms(values: list[float], *qs: float) -> str:
        return ", ".join(f"{percentile(values, q) * 1000:,.0f}" for q in qs)

    one_split = "one process `all` / `scorer` + `learner` processes"
    rows = [
        (f"bare loop, events/s (median of {args.pairs})", f"{statistics.median(bare_rates):,.0f}"),
        (
            "worker, one process, everything on, events/s (median)",
            f"{statistics.median(worker_rates):,.0f}",
        ),
        (
            "worker / bare, pair by pair",
            f"{', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f})",
        ),
        (
            "bare loop that also learns the labelled half as it scores them (label computed "
            "in place, no join), events/s (median); worker / it, pair by pair",
            f"{statistics.median(learning_rates):,.0f}; "
            f"{', '.join(f'{r:.2f}' for r in learning_ratios)} "
            f"(median {statistics.median(learning_ratios):.2f})",
        ),
        (
            "a scorer alone (`EDDY_ROLE=scorer`: everything on but learning; labels "
            "validated and forwarded to the training topic), events/s (median); scorer / bare, "
            "pair by pair",
            f"{statistics.median(scorer_rates):,.0f}; "
            f"{', '.join(f'{r:.2f}' for r in scorer_ratios)} "
            f"(median {statistics.median(scorer_ratios):.2f})",
        ),
        (
            "two `all` processes / `scorer` + `learner` processes, events/s",
            f"{two['events_per_s']:,.0f} / {split['events_per_s']:,.0f}",
        ),
        (
            f"labels joined and learned per second, features already scored: {one_split}",
            f"{alone[0]:,.0f} / {alone_split[0]:,.0f}",
        ),
        (
            "labels joined and learned per second while the same worker scores "
            "(labels arrive before their features; median)",
            f"{statistics.median(r['labels_per_s'] for r in worker_runs):,.0f}",
        ),
        (
            f"end-to-end latency at {args.rate:.0f} events/s for {args.latency_seconds:.0f} s, "
            f"with labels, p50, p99, p99.9, max (ms): {one_split}",
            f"{ms(lat[0], 0.5, 0.99, 0.999, 1)} / {ms(lat_split[0], 0.5, 0.99, 0.999, 1)}",
        ),
        (
            f"a label's arrival to a served model that learned it, same runs (labels "
            f"{LABEL_LAG} events late): in the learner's process (`all`) / in a `scorer` "
            "loading versions; p50, p99 at most (ms, to a histogram bucket)",
            f"{served_ms(lat[1]['live'])} / {served_ms(lat_split[1]['snapshot'])}",
        ),
        *(
            (
                f"Phishing at 500 events/s, labels {f.delay} events late: served accuracy, "
                "ROC AUC vs River's progressive_val_score at the same delay; median staleness "
                "(labels)",
                f"{f.served['accuracy']:.4f} vs {f.river['accuracy']:.4f}, "
                f"{f.served['roc_auc']:.4f} vs {f.river['roc_auc']:.4f}; "
                f"{statistics.median(f.staleness):.0f}",
            )
            for f in fresh
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


async def forget(redis_url: str, run: str) -> None:
    """Delete the run's Redis keys (its predict-time features would otherwise
    stay for EDDY_PENDING_TTL_SECONDS)."""
    client = redis.Redis.from_url(redis_url)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{run}-*", count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)
    finally:
        await client.aclose()


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
