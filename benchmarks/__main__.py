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
import gc
import json
import math
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis import asyncio as redis

from app.settings import Role, Settings
from app.signing import Signer
from app.store import Store
from app.training import initial_state
from benchmarks import contenders, cores, machine
from benchmarks.contenders import LOG_APPEND, Outputs, create_topics, read_all
from benchmarks.data import events, warm_events
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
    settings: Settings,
    roles: Sequence[Role],
    n: int,
    logs: Path,
    on: Sequence[set[int]] | None = None,
) -> dict[str, Any]:
    """Start a worker per role on the pre-filled topics; measure them. With
    no process that learns (a ``scorer`` alone), labels are forwarded to the
    training topic and stay there: ``learned`` is None. With ``on``, each
    process is pinned to its cores (``benchmarks.cores``)."""
    learns = any(r != "scorer" for r in roles)
    owned = (
        {settings.topic_training: 1}
        if learns
        else {settings.topic_features: settings.topic_partitions}
    )
    await create_topics(
        settings.kafka_bootstrap,
        [settings.topic_predictions],
        settings.topic_partitions,
        LOG_APPEND,
    )
    await seed_warm(settings)
    workers = start_workers(settings, roles, logs)
    try:
        pin_workers(workers, on)  # before they start threads: those inherit it
        await wait_assigned(workers, owned, within=120, ready=learns)
        pin_workers(workers, on)  # and any thread that came before
        idle_kib = memory_kib(workers[0], "VmRSS")
        records = await read_all(settings.kafka_bootstrap, settings.topic_predictions, n, 900)
        outputs = Outputs.of(records)
        versions = await learned_versions(settings, n // 2, 300) if learns else None
        dead = await read_all(settings.kafka_bootstrap, settings.topic_dead_letter, 1, 2)
        return {
            "outputs": outputs,
            "events_per_s": outputs.events_per_s,
            "unique": outputs.unique,
            "duplicates": outputs.duplicates,
            "dead_letters": len(dead),
            "learned": versions[-1]["learned"] if versions else None,
            "labels_per_s": learning_rate(versions, n // 2) if versions else math.nan,
            "idle_mib": idle_kib / 1024,
            "peak_mib": max(memory_kib(w, "VmHWM") for w in workers) / 1024,
        }
    finally:
        stop_workers(workers)


def pin_workers(workers: list[Worker], on: Sequence[set[int]] | None) -> None:
    for worker, pinned in zip(workers, on or (), strict=False):
        assert worker.proc is not None
        cores.pin(worker.proc.pid, pinned)


async def seed_warm(settings: Settings) -> None:
    """Version 0 of the worker's model: the catalog model warmed on the same
    events as every other contender's (``benchmarks.data.warm_events``)."""
    state = initial_state(settings)
    for x, y in warm_events():
        state.model.learn(x, y)
    store = Store.from_settings(settings)
    try:
        blob, model, shadow = state.dumps()
        await store.save_snapshot(settings.model, None, 0, blob, state.meta(), model, shadow)
    finally:
        await store.close()


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


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """This process's garbage collector off while it stamps send and arrival
    times: a full collection of its maps of sent and arrived events took 80
    ms (traced: two in a 30 s round at 2,000 events/s), which the figures
    then charged to the worker. What is allocated meanwhile is freed by
    reference counting; cycles wait for the collector's return."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


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

        with collector_paused():
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


async def freshness(
    base: dict[str, Any], name: str, delay: int, logs: Path
) -> tuple[Freshness, machine.Watch]:
    """Phishing at 500 events/s to one worker, what it served against River;
    and what the machine did meanwhile (steal time, wake-up stalls)."""
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
        with machine.Watch() as watch:
            fresh = await measure_freshness(settings, delay, 500, spawn, store)
    finally:
        stop_workers(workers)
        await store.close()
    print(f"{fresh.describe()}; {watch.describe()}", flush=True)
    return fresh, watch


FRESH_RUNS = 5
"""Phishing runs per label delay: one run of 1,250 events moves by 0.08
points per event, so a gap is read as the median of several."""


def freshness_rows(delay: int, runs: list[Freshness]) -> tuple[str, str]:
    """The Phishing runs at one delay: medians over the runs, then each run."""

    def gaps(metric: str) -> list[float]:
        return [(f.river[metric] - f.served[metric]) * 100 for f in runs]

    def p99s(served: list[Served]) -> list[float]:
        return [p99_ms(s) for s in served]

    def summary(values: list[float], digits: int) -> str:
        each = ", ".join(f"{v:,.{digits}f}" for v in values)
        return f"{statistics.median(values):,.{digits}f} ({each})"

    river = runs[0].river
    return (
        f"Phishing at 500 events/s, labels {delay} events late, {len(runs)} runs: River's "
        f"progressive_val_score accuracy, ROC AUC; served, points below River: accuracy, ROC "
        "AUC; median staleness (labels); a label served, p99 at most (ms, to a histogram "
        "bucket): learner's process, another process; of the learner's process's, the way "
        "before the worker (producer, broker, fetch), p99 at most. Medians (each run)",
        f"{river['accuracy']:.4f}, {river['roc_auc']:.4f}; {summary(gaps('accuracy'), 2)}, "
        f"{summary(gaps('roc_auc'), 2)}; "
        f"{summary([statistics.median(f.staleness) for f in runs], 0)}; "
        f"{summary(p99s([f.live for f in runs]), 0)}, "
        f"{summary(p99s([f.loaded for f in runs]), 0)}; "
        f"{summary(p99s([f.received for f in runs]), 0)}",
    )


def machine_rows(runs: list[tuple[Freshness, machine.Watch]]) -> list[tuple[str, str]]:
    """What the machine did over the Phishing runs (``benchmarks.machine``):
    steal time, wake-up stalls, and the label served in the learner's
    process in the runs with no stall and in the others."""
    steals = [w.steal for _, w in runs if w.steal is not None]
    steal = (
        f"{statistics.median(steals):.1%} ({min(steals):.1%} to {max(steals):.1%})"
        if steals
        else "n/a"
    )
    stalled = [(f, w.stalled) for f, w in runs if w.stalled is not None]
    if not stalled:
        return [("the same runs: steal time, median (range)", steal)]
    realtime = all(s.realtime for _, s in stalled)
    calm = [p99_ms(f.live) for f, s in stalled if not s.stalls]
    rough = [p99_ms(f.live) for f, s in stalled if s.stalls]

    def runs_of(values: list[float]) -> str:
        if not values:
            return "no run"
        median = statistics.median(values)
        return f"{len(values)} runs, median {median:,.0f} (max {max(values):,.0f})"

    return [
        ("the same runs: steal time, median (range)", steal),
        (
            f"the same runs: wake-ups of a 1 ms sleeper at least {machine.STALL * 1000:.0f} ms "
            f"late{'' if realtime else ' (normal priority)'}: stalls per run; ms lost per run; "
            "longest (ms)",
            f"{', '.join(str(s.stalls) for _, s in stalled)}; "
            f"{', '.join(f'{s.lost * 1000:,.0f}' for _, s in stalled)}; "
            f"{max(s.longest for _, s in stalled) * 1000:,.0f}",
        ),
        (
            "the same runs: a label served in the learner's process, p99 at most (ms): in runs "
            "with no stall; in runs with stalls",
            f"{runs_of(calm)}; {runs_of(rough)}",
        ),
    ]


def p99_ms(served: Served) -> float:
    """A label-served histogram's p99, to its bucket, in ms."""
    return served.quantile(0.99) * 1000


def served_ms(served: Served) -> str:
    return f"{served.quantile(0.5) * 1000:,.0f}, {p99_ms(served):,.0f}"


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


CONTENDERS = (
    "bare",
    "bare, learning",
    "quix",
    "quix, learning",
    "pipe",
    "pipe, scoring",
    "scorer",
    "worker",
)
"""In the order each round runs them."""


def contenders_of(args: argparse.Namespace) -> tuple[str, ...]:
    """With ``--pin``, also a scorer on the contenders' core and its learner
    on the others: learning on a process and cores of its own."""
    return (*CONTENDERS, "scorer + learner") if args.pin else CONTENDERS


async def rounds(
    args: argparse.Namespace, run: str, base: dict[str, Any], logs: Path
) -> tuple[dict[str, list[float]], list[dict[str, Any]], list[dict[str, Any]], int]:
    """Every contender on the pre-filled topics, ``--pairs`` rounds; their
    events/s by round, the worker's and scorer's runs, and how many contenders
    did not publish the bare loop's probabilities when they should have."""
    n, bootstrap, source = args.events, base["kafka_bootstrap"], base["topic_features"]
    mine, others = cores.split() if args.pin else (None, None)
    rates: dict[str, list[float]] = {c: [] for c in contenders_of(args)}
    worker_runs, scorer_runs = [], []
    differing = 0
    for pair in range(args.pairs):
        outputs: dict[str, Outputs] = {}
        for name, learn_first in (("bare", 0), ("bare, learning", n // 2)):
            sink = f"{run}-bare-{pair}-{learn_first}"
            await create_topics(bootstrap, [sink], args.partitions, LOG_APPEND)
            outputs[name] = await contenders.bare(bootstrap, source, sink, n, learn_first, mine)
        for name, learn_first in (("quix", 0), ("quix, learning", n // 2)):
            sink = f"{run}-quix-{pair}-{learn_first}"
            await create_topics(bootstrap, [sink], args.partitions, LOG_APPEND)
            outputs[name] = await contenders.quix(
                bootstrap, source, sink, n, learn_first, args.quix_python, mine
            )
        for name, score in (("pipe", False), ("pipe, scoring", True)):
            sink = f"{run}-pipe-{pair}-{int(score)}"
            await create_topics(bootstrap, [sink], args.partitions, LOG_APPEND)
            outputs[name] = await contenders.pipe(bootstrap, source, sink, n, score, mine)
        on = None if mine is None else [mine]
        scorer = await run_workers(worker_settings(base, f"{run}-s{pair}"), SCORER, n, logs, on)
        scorer_runs.append(scorer)
        outputs["scorer"] = scorer["outputs"]
        worker = await run_workers(worker_settings(base, f"{run}-w{pair}"), ONE, n, logs, on)
        worker_runs.append(worker)
        outputs["worker"] = worker["outputs"]
        if mine is not None and others is not None:  # learning on the other cores
            pair_run = await run_workers(
                worker_settings(base, f"{run}-p{pair}"), SPLIT, n, logs, [mine, others]
            )
            worker_runs.append(pair_run)
            outputs["scorer + learner"] = pair_run["outputs"]
        # Scoring alone, the same warmed model: the same probabilities.
        for name in ("quix", "pipe, scoring", "scorer"):
            if outputs[name].differing(outputs["bare"]):
                differing += 1
                print(
                    f"{name}: {outputs[name].differing(outputs['bare'])} events' "
                    "probabilities differ from the bare loop's",
                    flush=True,
                )
        for name, out in outputs.items():
            rates[name].append(out.events_per_s)
            if name.startswith(("bare", "quix", "pipe")) and (out.unique != n or out.duplicates):
                raise AssertionError(
                    f"{name}: {out.unique} of {n} events, {out.duplicates} duplicates"
                )
        bare = rates["bare"][-1]
        print(
            f"round {pair + 1}: "
            + ", ".join(
                f"{c} {rates[c][-1]:,.0f} events/s ({rates[c][-1] / bare:.2f})" for c in rates
            )
            + f"; worker labels {worker['labels_per_s']:,.0f}/s, peak {worker['peak_mib']:.0f} MiB",
            flush=True,
        )
    return rates, worker_runs, scorer_runs, differing


def ratio_rows(rates: dict[str, list[float]], pairs: int) -> list[tuple[str, str]]:
    """Each contender's events/s and its ratio to the bare loop, round by round."""
    what = {
        "bare": "bare aiokafka + River loop, scoring only",
        "bare, learning": "the bare loop, also learning the labelled half as it scores "
        "(label computed in place, no join)",
        "quix": "Quix Streams 3.28.1, scoring only (defaults; JSON in, pydantic validation, "
        "`to_topic`)",
        "quix, learning": "Quix Streams, also learning the labelled half as it scores (no join)",
        "pipe": "the ceiling on aiokafka: each record consumed and published as it is, in "
        "record batches as the worker publishes (`benchmarks/pipe.py`; no validation, no model)",
        "pipe, scoring": "the same, validating and scoring each record as the bare loop does "
        "(no Faust, no Redis, no metrics): the least a scorer on aiokafka does",
        "scorer": "the worker, `EDDY_ROLE=scorer` (everything on but learning: predict-time "
        "features in Redis, drift windows, metrics, labels validated and relayed)",
        "worker": "the worker, one process, everything on (labels joined and learned)",
        "scorer + learner": "the worker as a `scorer` on the contenders' core and a `learner` "
        "on the others, everything on",
    }
    rows = []
    for c in rates:
        ratios = [r / b for r, b in zip(rates[c], rates["bare"], strict=True)]
        rows.append(
            (
                f"{what[c]}: events/s (median of {pairs}); ÷ bare loop, round by round",
                f"{statistics.median(rates[c]):,.0f}; {', '.join(f'{r:.2f}' for r in ratios)} "
                f"(median {statistics.median(ratios):.2f})",
            )
        )
    return rows


async def measure(args: argparse.Namespace, run: str) -> None:
    n = args.events
    base, logs = await prefilled(run, n, args.partitions)
    timing = [] if args.throughput_only else await timing_figures(args, run, base, logs)
    pinned = cores.pin_the_rest(cores.split()[1]) if args.pin else []
    try:
        rates, worker_runs, scorer_runs, differing = await rounds(args, run, base, logs)
    finally:
        cores.unpin_all(pinned)
    rows = ratio_rows(rates, args.pairs)
    if args.pin:
        what = "each contender on a core of its own; the broker, Redis, the benchmark on the others"
        rows.insert(0, (f"pinned: {what}", f"{len(pinned)} processes moved"))
    against = {
        c: statistics.median(r / q for r, q in zip(rates[c], rates["quix"], strict=True))
        for c in ("pipe", "pipe, scoring", "scorer", "worker", "scorer + learner")
        if c in rates
    }
    rows.append(
        (
            f"÷ Quix Streams scoring only, median of the rounds: {', '.join(against)}",
            ", ".join(f"{v:.2f}" for v in against.values()),
        )
    )
    all_runs = list(worker_runs)
    extras: dict[str, Any] = {}
    if not args.throughput_only:
        extras = await capacity_figures(args, run, base, logs)
        all_runs += [extras["two"], extras["split"]]
        rows += extras["rows"] + timing
    idle = statistics.median(r["idle_mib"] for r in worker_runs)
    peak = max(r["peak_mib"] for r in worker_runs)
    alone = extras.get("alone", [(0, n // 2), (0, n // 2)])
    honest = (
        alone[0][1] == alone[1][1] == n // 2
        and all(r["learned"] == n // 2 for r in all_runs)
        and all(r["learned"] is None for r in scorer_runs)
        and all(r["unique"] == n and r["dead_letters"] == 0 for r in [*all_runs, *scorer_runs])
        and differing == 0
    )
    dupes = sum(r["duplicates"] for r in [*all_runs, *scorer_runs])
    rows += [
        (
            f"worker memory: idle, peak with {n // 2:,} events awaiting labels (MiB)",
            f"{idle:.0f}, {peak:.0f}",
        ),
        (
            f"honesty: every event exactly one output, no dead letter, {n // 2:,} learned, "
            "Quix, the scoring pipe and the scorer publish the bare loop's probabilities "
            "to the last bit",
            f"{'yes' if honest else 'NO'} ({dupes} duplicate predictions)",
        ),
    ]
    print("\n| figure | value |\n|---|---|")
    for figure, value in rows:
        print(f"| {figure} | {value} |")
    if not honest:
        raise SystemExit("the run was not honest: its figures do not count")


async def timing_figures(
    args: argparse.Namespace, run: str, base: dict[str, Any], logs: Path
) -> list[tuple[str, str]]:
    """Latency at a fixed load, and freshness (with what the machine did
    meanwhile). Run first, on a broker holding only the pre-filled topics:
    after the throughput stages it holds several GB of their logs, which the
    broker deletes and the machine reclaims from its cache in the background,
    and runs this light would time that cleanup too. A brand-new broker is
    warmed first by a latency run whose figures are not kept (measured first
    without it, the first latency run was 2 to 3 times slower than the one
    after it and than the same run measured later)."""
    await latency(base, f"{run}-warm", args.rate, WARM_SECONDS, logs, ONE)
    lat = await latency(base, f"{run}-lat", args.rate, args.latency_seconds, logs, ONE)
    lat_split = await latency(
        base, f"{run}-lat-split", args.rate, args.latency_seconds, logs, SPLIT
    )
    fresh: dict[int, list[Freshness]] = {0: [], 100: []}
    watched: list[tuple[Freshness, machine.Watch]] = []
    for i in range(FRESH_RUNS):  # alternating, as the rounds do
        for d, runs in fresh.items():
            measured, watch = await freshness(base, f"{run}-fresh-{d}-{i}", d, logs)
            runs.append(measured)
            watched.append((measured, watch))

    def ms(values: list[float], *qs: float) -> str:
        return ", ".join(f"{percentile(values, q) * 1000:,.0f}" for q in qs)

    return [
        (
            f"end-to-end latency at {args.rate:.0f} events/s for {args.latency_seconds:.0f} s, "
            f"with labels, p50, p99, p99.9, max (ms): {ONE_SPLIT}",
            f"{ms(lat[0], 0.5, 0.99, 0.999, 1)} / {ms(lat_split[0], 0.5, 0.99, 0.999, 1)}",
        ),
        (
            f"a label's arrival to a served model that learned it, same runs (labels "
            f"{LABEL_LAG} events late): in the learner's process (`all`) / in a `scorer` "
            "loading versions; p50, p99 at most (ms, to a histogram bucket)",
            f"{served_ms(lat[1]['live'])} / {served_ms(lat_split[1]['snapshot'])}",
        ),
        *(freshness_rows(d, runs) for d, runs in fresh.items()),
        *machine_rows(watched),
    ]


WARM_SECONDS = 20.0
"""The latency run that warms the broker before the timed stages."""

ONE_SPLIT = "one process `all` / `scorer` + `learner` processes"


async def capacity_figures(
    args: argparse.Namespace, run: str, base: dict[str, Any], logs: Path
) -> dict[str, Any]:
    """Two processes, and labels alone, on the pre-filled topics."""
    n = args.events
    two = await run_workers(worker_settings(base, f"{run}-two"), TWO, n, logs)
    split = await run_workers(worker_settings(base, f"{run}-split"), SPLIT, n, logs)
    alone = await labels_alone(base, run, n, logs, ONE, f"{run}-alone")
    alone_split = await labels_alone(base, run, n, logs, SPLIT, f"{run}-alone-split")
    rows = [
        (
            "two `all` processes / `scorer` + `learner` processes, events/s",
            f"{two['events_per_s']:,.0f} / {split['events_per_s']:,.0f}",
        ),
        (
            f"labels joined and learned per second, features already scored: {ONE_SPLIT}",
            f"{alone[0]:,.0f} / {alone_split[0]:,.0f}",
        ),
    ]
    return {"two": two, "split": split, "alone": [alone, alone_split], "rows": rows}


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
    parser.add_argument(
        "--throughput-only", action="store_true", help="the rounds of contenders, nothing else"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="each contender on a core of its own, the rest on the others (benchmarks.cores)",
    )
    parser.add_argument(
        "--quix-python",
        type=Path,
        default=contenders.QUIX_PYTHON,
        help="the Quix Streams environment's interpreter",
    )
    args = parser.parse_args()
    contenders.check_quix(args.quix_python)
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
