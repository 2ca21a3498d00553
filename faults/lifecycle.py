"""Workers that start, stop and die: on a brand-new broker, SIGTERM and
SIGKILL mid-stream, and the learning handed over with labels waiting."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import signal
import time
from functools import partial
from typing import Any

from demo.stream import phishing, qa_events
from faults.flow import (
    Predictions,
    Run,
    Stream,
    finish,
    owns_training,
    ready,
    send,
    settle,
    topics,
)
from faults.runner import Context, Report
from faults.stack import OwnStack
from tests.harness import Worker

PHISHING = 1250


async def new_broker(context: Context, report: Report) -> None:
    """A worker on a broker that has no topic yet: it must create them, own
    the training partition and learn every label, each time."""
    rounds = context.sizes.new_broker_rounds
    report.did = (
        f"{rounds} brand-new stack(s); a worker started before any topic exists, "
        f"then Phishing ({PHISHING:,} events, labels 100 events late)"
    )
    outcomes = []
    for round_ in range(1, rounds + 1):
        async with OwnStack(context, report) as stack, Run(context, report, stack.endpoints) as run:
            settings = run.settings()
            existing = await topics(settings.kafka_bootstrap)
            began = time.monotonic()
            worker = run.start(settings)
            is_ready = await ready(worker, 120)
            to_ready = time.monotonic() - began
            owned = owns_training(worker)
            events = qa_events(phishing(), 100, f"p{round_}")
            topic = {"features": settings.topic_features, "labels": settings.topic_labels}
            await send(
                settings.kafka_bootstrap,
                ((topic[kind], e["event_id"], json.dumps(e).encode(), None) for kind, e in events),
            )

            async def all_learned() -> dict[str, Any] | None:
                meta = await run.head()
                return meta if meta and meta["learned"] >= PHISHING else None

            meta = await settle(all_learned, 120) or await run.head() or {}
            to_learned = time.monotonic() - began
            learned = int(meta.get("learned", 0))
            report.say(
                f"round {round_}: {len(existing)} topics before the worker; "
                f"ready {is_ready} after {to_ready:.1f} s, training partition "
                f"owned {owned}, {learned:,} learned {to_learned:.1f} s after start"
            )
            outcomes.append((learned, to_ready, to_learned))
            report.check(f"round {round_}: no topic before the worker", existing == [])
            report.check(
                f"round {round_}: ready, owning the training partition", is_ready and owned
            )
            report.check(f"round {round_}: {PHISHING:,} labels learned", learned == PHISHING)
    report.came_out = "; ".join(
        f"round {i}: ready {r:.1f} s, all learned {t:.1f} s ({n:,})"
        for i, (n, r, t) in enumerate(outcomes, 1)
    )


async def sigterm(context: Context, report: Report) -> None:
    """SIGTERM half-way through a stream, then a new worker: quick exit,
    nothing lost, nothing learned twice."""
    n, rate = context.sizes.sigterm_events, context.sizes.rate
    report.did = (
        f"{n:,} SEA events at {rate:,.0f}/s with a label each (100 late); SIGTERM half-way, "
        "then a new worker"
    )
    async with Run(context, report, context.shared) as run:
        settings, worker = await run.ready_worker()
        stream = Stream(settings, n, context.seed)
        async with Predictions(settings) as predictions:
            sending = asyncio.create_task(stream.send(rate))

            async def half() -> bool:
                return len(stream.features) >= n // 2 or sending.done()

            await settle(half, n / rate * 2, every=0.01)
            at = len(stream.features)
            seconds = await run.end(worker, signal.SIGTERM)
            stopped = await run.head() or {}
            report.say(
                f"SIGTERM after {at:,} events: exited in {seconds:.1f} s, "
                f"{stopped.get('learned', 0):,} labels in its last snapshot"
            )
            successor = run.start(settings)
            await sending
            tally = await finish(run, stream, predictions)
        report.say(tally.line())
        unsettled = "still in flight" in worker.tail(400)
        report.came_out = (
            f"exit in {seconds:.1f} s{' (in flight left unsettled)' if unsettled else ''}; "
            + tally.line()
        )
        report.check("exit within 10 s", seconds < 10)
        report.check("every event predicted", tally.missing == 0)
        report.check("no label lost", tally.lost == 0)
        report.check("no label learned twice", tally.twice == 0)
        report.check("the new worker is alive", successor.alive())


async def sigkill(context: Context, report: Report) -> None:
    """SIGKILLs at seeded random moments of a stream, each followed by a
    restart: the model goes on from its version, nothing is lost."""
    kills, rate = context.sizes.sigkill_kills, context.sizes.rate
    rng = context.rng(report.name)
    report.did = (
        f"SEA events at {rate:,.0f}/s with a label each (100 late); {kills} SIGKILLs, each at a "
        "seeded random moment after the worker wrote a version; a restart after each"
    )
    async with Run(context, report, context.shared) as run:
        settings, worker = await run.ready_worker()
        stream = Stream(settings, int(rate * 600), context.seed)
        heads: list[tuple[float, int]] = []

        async def watch() -> None:
            while True:
                meta = await run.head()
                if meta is not None:
                    heads.append((time.monotonic(), meta["version"]))
                await asyncio.sleep(0.2)

        restarts: list[tuple[int, int | None, int | None]] = []
        to_new: list[float] = []
        watching = asyncio.create_task(watch())
        async with Predictions(settings) as predictions:
            sending = asyncio.create_task(stream.send(rate))
            before = 0
            for k in range(1, kills + 1):
                # A random moment once the (restarted) worker has written a version.
                await settle(partial(newer, run, before), 90)
                await asyncio.sleep(rng.uniform(1, 6))
                before = (await run.head() or {}).get("version", 0)
                at = len(stream.features)
                await run.end(worker, signal.SIGKILL)
                killed = time.monotonic()
                worker = run.start(settings)
                status = await settle(partial(answer, worker), 60)
                served = None if status is None else status["serving_version"]
                learner = await settle(partial(learns, worker), 90)
                resumed = None if learner is None else learner["version"]
                wrote = await settle(partial(newer, run, before), 90)
                to_new.append(time.monotonic() - killed if wrote else math.inf)
                report.say(
                    f"kill {k} after {at:,} events: version {before} before; the restarted "
                    f"worker serves version {served}, learns from version {resumed}, writes "
                    f"a new one {to_new[-1]:.1f} s after the kill"
                )
                restarts.append((before, served, resumed))
            await asyncio.sleep(3)
            stream.stop()
            await sending
            tally = await finish(run, stream, predictions, within=180)
        watching.cancel()
        report.say(tally.line())
        went_back = sum(b < a for (_, a), (_, b) in itertools.pairwise(heads))
        versions = ", ".join(f"{b}->{s}/{r}" for b, s, r in restarts)
        firsts = ", ".join(f"{s:.1f}" for s in to_new)
        report.came_out = (
            f"version before each kill -> served / learned from after its restart: {versions}; "
            f"seconds from each kill to a new version: {firsts}; " + tally.line()
        )
        report.say(report.came_out)
        report.check(
            "each restart serves and learns from at least the version before its kill",
            all(s is not None and r is not None and s >= b and r >= b for b, s, r in restarts),
        )
        report.check("the head version never went back", went_back == 0 and bool(heads))
        report.check("every event predicted", tally.missing == 0)
        report.check("no label lost", tally.lost == 0)
        report.check("no label learned twice", tally.twice == 0)
        report.check("each restarted worker learned on", all(math.isfinite(s) for s in to_new))
        report.check("the last worker is alive", worker.alive())


async def newer(run: Run, version: int) -> bool:
    """Whether the head is past ``version``."""
    return bool((await run.head() or {}).get("version", -1) > version)


async def answer(worker: Worker) -> dict[str, Any] | None:
    """``/status``, once the process answers it (its model is loaded then)."""
    return worker.status()


async def learns(worker: Worker) -> dict[str, Any] | None:
    """What the worker's learner knows, once it owns the learning."""
    learner: dict[str, Any] | None = (worker.status() or {}).get("learner")
    return learner
