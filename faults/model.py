"""The model's own faults: a stream of feature names never seen before (the
vocabulary must stay capped, and with it the snapshot and the process's
memory), and a snapshot in Redis that is not a learner's state."""

from __future__ import annotations

import asyncio
import json
import pickle
import random
from typing import Any

from redis import asyncio as aioredis

from app import catalog
from app.errors import SnapshotConflict
from app.learner import LearnerState
from app.model import OnlineModel
from app.settings import ModelName
from demo.stream import Sample, qa_events
from faults.flow import Predictions, Run, Stream, metric, rss_mib, send, settle
from faults.runner import Context, Report
from tests.harness import Worker

NAMES_PER_EVENT = 10
MODEL: ModelName = "logistic-regression"
STATE_SLACK = 256 * 1024
"""Snapshot bytes allowed beyond twice the model's own: the rest of the
learner's state (quality over EDDY_QUALITY_WINDOW labels, the error
detector), bounded whatever the names."""


def new_names(rng: random.Random, n: int, first: int = 0) -> list[Sample]:
    """Events whose ten feature names no event had before."""
    return [
        (
            {f"n{i}_{j}": round(rng.random(), 3) for j in range(NAMES_PER_EVENT)},
            rng.random() < 0.5,
        )
        for i in range(first, first + n)
    ]


def calibrate(names: int, rng: random.Random) -> tuple[int, int]:
    """Pickled bytes and River memory of an uncapped model that has learned
    ``names`` new names: what the cap must keep the worker's under."""
    model = OnlineModel(MODEL, catalog.build(MODEL))
    for x, y in new_names(rng, names // NAMES_PER_EVENT):
        model.learn(x, y)
    state, served, _ = LearnerState.fresh(model).dumps()
    return len(state) + len(served), int(model.pipeline._raw_memory_usage)


async def send_samples(settings: Any, samples: list[Sample], prefix: str, rate: float) -> None:
    topic = {"features": settings.topic_features, "labels": settings.topic_labels}
    records = [
        (topic[kind], e["event_id"], json.dumps(e).encode(), None)
        for kind, e in qa_events(samples, 100, prefix)
    ]
    await send(settings.kafka_bootstrap, records, 2 * rate)


async def learned(run: Run, n: int, within: float = 120) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        meta = await run.head()
        return meta if meta and meta["learned"] >= n else None

    return await settle(probe, within) or await run.head() or {}


async def vocabulary(context: Context, report: Report) -> None:
    sizes, rng = context.sizes, context.rng(report.name)
    n, cap, rate = sizes.vocabulary_events, sizes.vocabulary_max_features, sizes.rate
    # Enough to fill the vocabulary twice over, and warm the process up.
    warm = max(n // 10, 2 * cap // NAMES_PER_EVENT)
    offered = NAMES_PER_EVENT * n
    report.did = (
        f"{n:,} events with {NAMES_PER_EVENT} feature names never seen before each "
        f"({offered:,} names) and their labels, EDDY_MAX_FEATURES={cap:,}"
    )
    snap_uncapped, mem_uncapped = calibrate(cap, random.Random(1))
    per_name = mem_uncapped / cap
    snapshot_bound = 2 * snap_uncapped + STATE_SLACK
    # The learner's process holds the model twice at least (the learner's,
    # the served copy): uncapped, the names sent after the warm-up would add
    # at least this. The cap holds if the process grows by less.
    rss_bound = 2 * per_name * NAMES_PER_EVENT * (n - warm) / 2**20
    report.say(
        f"calibration: an uncapped model with {cap:,} names pickles to {snap_uncapped:,} B "
        f"and takes {mem_uncapped:,} B ({per_name:.0f} B a name): snapshot bound "
        f"{snapshot_bound:,} B, RSS growth bound {rss_bound:.1f} MiB"
    )
    async with Run(context, report, context.shared) as run:
        settings, worker = await run.ready_worker(max_features=cap)
        samples = new_names(rng, n)
        idle = rss_mib(worker)
        await send_samples(settings, samples[:warm], "w", rate)
        await learned(run, warm)
        before = rss_mib(worker)
        await send_samples(settings, samples[warm:], "v", rate)
        meta = await learned(run, n)
        after = rss_mib(worker)
        size, state = await newest_snapshot(run, meta.get("version", 0))

        async def measured() -> float | None:  # every 30 s, from the worker's start
            return metric(worker, "eddy_model_memory_bytes")

        model_metric = await settle(measured, 35, every=1)
        dropped = metric(worker, "eddy_features_dropped_total")
        vocab = len(state.model.vocabulary) if state else -1
        memory = int(state.model.pipeline._raw_memory_usage) if state else -1
        growth = after - before
        expected = NAMES_PER_EVENT * n - vocab
        report.came_out = (
            f"vocabulary {vocab:,} (cap {cap:,}); model memory {memory:,} B from the snapshot "
            f"(eddy_model_memory_bytes: {shown(model_metric)}); "
            f"snapshot {size:,} B (bound {snapshot_bound:,}); RSS {idle:.0f} MiB idle, "
            f"{before:.0f} after {warm:,} events, {after:.0f} after {n:,} "
            f"(growth {growth:+.1f} MiB, bound {rss_bound:.1f}); "
            f"eddy_features_dropped_total {shown(dropped)} "
            f"(names left out: {expected:,}); "
            f"{meta.get('learned', 0):,} learned"
        )
        report.say(report.came_out)
        report.check(f"{n:,} labels learned", meta.get("learned") == n)
        report.check("vocabulary within EDDY_MAX_FEATURES", 0 < vocab <= cap)
        report.check(
            "every name left out counted in eddy_features_dropped_total",
            dropped == expected,
        )
        report.check("snapshot within its bound", 0 < size <= snapshot_bound)
        report.check("RSS growth after the warm-up within its bound", growth <= rss_bound)


def shown(value: float | None) -> str:
    return "absent" if value is None else f"{value:,.0f}"


async def newest_snapshot(run: Run, version: int) -> tuple[int, LearnerState | None]:
    """Bytes of the version's snapshot (the learner's state and its model),
    and its state."""
    key = f"{run.id}:model:{MODEL}:snap:{version}"
    served = f"{run.id}:model:{MODEL}:serve:{version}"
    client = aioredis.Redis.from_url(run.endpoints.redis)
    try:
        blob, model = await client.get(key), await client.get(served)
    finally:
        await client.aclose()
    if blob is None:
        return 0, None
    size = len(blob) + len(model or b"")  # as stored: signed
    # Read as the worker reads it: signature checked, then unpickled.
    snapshot = await run.store.load_snapshot(MODEL, version)
    assert snapshot is not None and snapshot.refusal is None, snapshot
    return size, LearnerState.loads(snapshot.blob, snapshot.model)


async def write_junk(run: Run) -> int:
    """A pickle that is not a learner's state, written as the newest version
    the way a learner writes one (on top of the current head): its version."""
    while True:
        meta = await run.store.head_meta(MODEL) or {}
        head = int(meta.get("version", 0))
        rest = {k: v for k, v in meta.items() if k not in ("version", "created_at")}
        try:
            await run.store.save_snapshot(MODEL, head, head + 1, pickle.dumps({"junk": 1}), rest)
        except SnapshotConflict:
            continue
        return head + 1


async def serving(worker: Worker, seconds: float) -> set[int]:
    """The versions ``/status`` says it serves, sampled for ``seconds``."""
    seen = set()
    for _ in range(int(seconds / 0.2)):
        seen.add((worker.status() or {}).get("serving_version", -1))
        await asyncio.sleep(0.2)
    return seen


async def bad_snapshot(context: Context, report: Report) -> None:
    n, rate = context.sizes.snapshot_events, context.sizes.rate
    report.did = (
        f"{n:,} events learned; then pickle.dumps(dict) written as the newest version "
        f"(Store.save_snapshot on top of the head); then {n:,} more events"
    )
    async with Run(context, report, context.shared) as run:
        settings, worker = await run.ready_worker()
        async with Predictions(settings) as predictions:
            first = Stream(settings, n, context.seed, prefix="a")
            await first.send(rate)
            had = (await learned(run, n)).get("version", -1)

            async def serves_it() -> bool:
                return bool((worker.status() or {}).get("serving_version") == had)

            await settle(serves_it, 30)
            refused_before = metric(worker, "eddy_snapshots_refused_total") or 0
            junk = await write_junk(run)
            report.say(f"version {junk} written: not a learner's state (served: {had})")

            async def refused() -> float | None:
                value = metric(worker, "eddy_snapshots_refused_total") or 0
                return value if value > refused_before else None

            refused_after = await settle(refused, 30) or refused_before
            served = await serving(worker, 3)
            second = Stream(settings, n, context.seed + 1, prefix="b")
            await second.send(rate)
            meta = await learned(run, 2 * n)
            await predictions.all_of(first.features + second.features, 60)
        versions = {p.version for p in predictions.values()}
        report.came_out = (
            f"snapshots refused {refused_before:.0f} -> {refused_after:.0f}; served while "
            f"version {junk} was the newest: {sorted(served)}; after {2 * n:,} events: "
            f"head version {meta.get('version')}, {meta.get('learned', 0):,} learned; "
            f"predictions with version {junk}: {junk in versions}"
        )
        report.say(report.came_out)
        report.check("eddy_snapshots_refused_total went up", refused_after > refused_before)
        # The learner in this process goes on from version ``had`` and may
        # write its next version on top of the junk meanwhile: served is
        # ``had`` or a version after the junk, never the junk itself.
        report.check(
            f"kept serving version {had} (or its own next, after {junk})",
            bool(served) and all(v == had or v > junk for v in served),
        )
        report.check(f"no prediction by version {junk}", junk not in versions)
        report.check(
            "learning went on on top of it",
            meta.get("version", -1) > junk and meta.get("learned") == 2 * n,
        )
        report.check("the worker is alive", worker.alive())
