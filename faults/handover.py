"""The learning handed over while labels wait for their features: a scorer
and two learners; the labels come first, the learner that holds them is
killed (then, on a new run, stopped), and the standby must learn each of
them exactly once when the features come."""

from __future__ import annotations

import json
import signal
from typing import Any

from faults.flow import Run, ready, send, settle
from faults.runner import Context, Report
from tests.harness import Worker


async def hand_over(context: Context, report: Report) -> None:
    n = context.sizes.hand_over_labels
    report.did = (
        f"a scorer and two learners; {n:,} labels sent before their features; the learner "
        "holding them SIGKILLed (then, on a new run, SIGTERMed); the features sent once "
        "the standby learns"
    )
    results = []
    for sig in (signal.SIGKILL, signal.SIGTERM):
        async with Run(context, report, context.shared) as run:
            results.append(await one_hand_over(run, report, sig, n, context.seed))
    report.came_out = "; ".join(results)


async def one_hand_over(run: Run, report: Report, sig: signal.Signals, n: int, seed: int) -> str:
    name = sig.name
    base = run.settings(label_wait_seconds=3600)
    scorer = run.start(base.model_copy(update={"role": "scorer"}))
    learners = [run.start(base.model_copy(update={"role": "learner"})) for _ in range(2)]
    everyone = [scorer, *learners]
    all_ready = all([await ready(w) for w in everyone])
    owner = await settle(lambda: learning(learners), 60)
    if not report.check(
        f"{name}: three workers ready, one learner learns", all_ready and owner is not None
    ):
        return f"{name}: never ready"
    assert owner is not None
    [standby] = [w for w in learners if w is not owner]

    ids = [f"h{seed}-{i}" for i in range(n)]
    labels = [
        (base.topic_labels, i, json.dumps({"event_id": i, "label": k % 3 == 0}).encode(), None)
        for k, i in enumerate(ids)
    ]
    await send(base.kafka_bootstrap, labels)

    async def all_waiting() -> dict[str, Any] | None:
        meta = await run.head()
        return meta if meta and meta["waiting"] == n else None

    waited = await settle(all_waiting, 60)
    report.say(f"{name}: {n:,} labels waiting in a snapshot: {waited is not None}")
    seconds = await run.end(owner, sig)

    async def standby_learns() -> dict[str, Any] | None:
        learner = (standby.status() or {}).get("learner")
        return learner if learner and learner["waiting"] == n else None

    took_over = await settle(standby_learns, 90)
    report.say(f"{name}: owner exited in {seconds:.1f} s; standby learns: {took_over is not None}")
    features = [
        (base.topic_features, i, json.dumps({"event_id": i, "features": {"x": k}}).encode(), None)
        for k, i in enumerate(ids)
    ]
    await send(base.kafka_bootstrap, features)

    async def learned() -> dict[str, Any] | None:
        meta = await run.head()
        return meta if meta and meta["learned"] >= n and meta["waiting"] == 0 else None

    meta = await settle(learned, 90) or await run.head() or {}
    outcomes = meta.get("outcomes", {})
    others = {k: v for k, v in outcomes.items() if k != "joined" and v}
    line = (
        f"{name}: {meta.get('learned', 0):,} of {n:,} learned, {meta.get('waiting', 0)} waiting, "
        f"other outcomes {others or 'none'}"
    )
    report.say(line)
    report.check(f"{name}: {n:,} labels waited in a snapshot", waited is not None)
    report.check(f"{name}: the standby took the learning over", took_over is not None)
    report.check(
        f"{name}: every label learned exactly once",
        meta.get("learned") == n and outcomes.get("joined") == n and not others,
    )
    return line


async def learning(learners: list[Worker]) -> Worker | None:
    """The learner that owns the learning, if one does."""
    for worker in learners:
        if (worker.status() or {}).get("learner"):
            return worker
    return None
