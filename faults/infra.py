"""Redis and the broker hurt under a running worker, each scenario on its
own brand-new stack: Redis frozen, Redis restarted empty, the broker
killed and restarted."""

from __future__ import annotations

import asyncio
import signal
import time

from faults.flow import Predictions, Run, Stream, Tally, finish
from faults.runner import Context, Report
from faults.stack import OwnStack

LEAD_SECONDS = 6.0
"""Stream before the fault."""
TAIL_SECONDS = 6.0
"""Stream after the fault is over."""
RESUME_WITHIN = 15.0
"""Predictions must come again this soon after Redis thaws: every Redis call
is bounded by EDDY_REDIS_TIMEOUT_SECONDS (2 s) and retried with a backoff of
at most 5 s."""


def nothing_lost(report: Report, tally: Tally) -> None:
    report.check("every event predicted", tally.missing == 0)
    report.check("no label lost", tally.lost == 0)
    report.check("no label learned twice", tally.twice == 0)


async def redis_frozen(context: Context, report: Report) -> None:
    frozen, rate = context.sizes.redis_frozen_seconds, context.sizes.rate
    n = int(rate * (LEAD_SECONDS + frozen + TAIL_SECONDS))
    report.did = (
        f"{n:,} SEA events at {rate:,.0f}/s with labels; Redis frozen (SIGSTOP) for "
        f"{frozen:.0f} s after {LEAD_SECONDS:.0f} s, then SIGCONT"
    )
    async with OwnStack(context, report) as stack, Run(context, report, stack.endpoints) as run:
        settings, worker = await run.ready_worker()
        stream = Stream(settings, n, context.seed)
        async with Predictions(settings) as predictions:
            sending = asyncio.create_task(stream.send(rate))
            await asyncio.sleep(LEAD_SECONDS)
            stack.signal("redis", signal.SIGSTOP)
            await asyncio.sleep(0.2)
            report.check("Redis is frozen", stack.frozen("redis"))
            report.say(f"Redis frozen after {len(stream.features):,} events")
            await asyncio.sleep(frozen)
            stack.signal("redis", signal.SIGCONT)
            thawed = time.monotonic()
            report.say(f"Redis thawed after {len(stream.features):,} events")
            await sending
            tally = await finish(run, stream, predictions, within=180)
            gap = predictions.longest_gap()
            resumed = predictions.first_after(thawed)
        report.say(tally.line())
        resumed_text = "never" if resumed is None else f"{resumed:.1f} s"
        report.came_out = (
            f"longest gap without predictions {gap:.1f} s; SIGCONT to the first prediction "
            f"{resumed_text}; " + tally.line()
        )
        report.say(report.came_out)
        report.check(
            f"predictions again within {RESUME_WITHIN:.0f} s of SIGCONT",
            resumed is not None and resumed < RESUME_WITHIN,
        )
        nothing_lost(report, tally)
        report.check("the worker was never restarted", worker.alive())


async def redis_restarted(context: Context, report: Report) -> None:
    rate = context.sizes.rate
    n = int(rate * (LEAD_SECONDS + 2 * TAIL_SECONDS))
    report.did = (
        f"{n:,} SEA events at {rate:,.0f}/s with labels; Redis killed after "
        f"{LEAD_SECONDS:.0f} s and started again empty"
    )
    async with OwnStack(context, report) as stack, Run(context, report, stack.endpoints) as run:
        # Labels whose features went with Redis wait this long, then count unknown.
        settings, worker = await run.ready_worker(label_wait_seconds=5)
        stream = Stream(settings, n, context.seed)
        async with Predictions(settings) as predictions:
            sending = asyncio.create_task(stream.send(rate))
            await asyncio.sleep(LEAD_SECONDS)
            before = await run.head() or {}
            old = stack.pid("redis")
            await stack.kill("redis")
            down = time.monotonic()
            await stack.script("start")  # starts what is not running: Redis, empty
            keys = await run.keys()
            report.say(
                f"Redis killed after {len(stream.features):,} events (version "
                f"{before.get('version')}, {before.get('learned', 0):,} learned) and back "
                f"in {time.monotonic() - down:.1f} s, holding {keys} keys of the run"
            )
            report.check("Redis is a new process", stack.pid("redis") != old)
            await sending
            tally = await finish(run, stream, predictions, within=180, quiet=10)
            gap = predictions.longest_gap()
        after = tally.meta
        report.say(tally.line())
        report.came_out = (
            f"version {before.get('version')} -> {after.get('version')}, learned "
            f"{before.get('learned', 0):,} -> {tally.learned:,}; longest gap without predictions "
            f"{gap:.1f} s; {tally.line()} (labels of events scored before the wipe have no "
            "features to join: lost with Redis)"
        )
        report.check(
            "the head version went on past the one before the wipe",
            after.get("version", -1) > before.get("version", 0),
        )
        report.check(
            "learning went on after the wipe", tally.learned > before.get("learned", tally.learned)
        )
        report.check("every event predicted", tally.missing == 0)
        report.check("no label learned twice", tally.twice == 0)
        report.check("the worker was never restarted", worker.alive())


async def broker_killed(context: Context, report: Report) -> None:
    down, rate = context.sizes.broker_down_seconds, context.sizes.rate
    n = int(rate * (LEAD_SECONDS + down + TAIL_SECONDS))
    report.did = (
        f"{n:,} SEA events at {rate:,.0f}/s with labels; the broker SIGKILLed after "
        f"{LEAD_SECONDS:.0f} s, started again {down:.0f} s later"
    )
    async with OwnStack(context, report) as stack, Run(context, report, stack.endpoints) as run:
        settings, worker = await run.ready_worker()
        stream = Stream(settings, n, context.seed)
        async with Predictions(settings) as predictions:
            sending = asyncio.create_task(stream.send(rate))
            await asyncio.sleep(LEAD_SECONDS)
            await stack.kill("kafka")
            report.say(f"broker killed after {len(stream.features):,} events")
            await asyncio.sleep(down)
            seconds = await stack.script("start")
            report.say(f"broker answers again, {seconds:.1f} s after its start")
            await sending
            tally = await finish(run, stream, predictions, within=240)
            gap = predictions.longest_gap()
        report.say(tally.line())
        report.came_out = f"longest gap without predictions {gap:.1f} s; " + tally.line()
        nothing_lost(report, tally)
        report.check("the worker was never restarted", worker.alive())
