"""score_features: every feature event gets a prediction or a dead letter."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

from app import telemetry
from app.intake import Message
from app.runtime.guard import Failed, delivered, guarded
from app.runtime.inflight import IN_FLIGHT, InFlight
from app.runtime.internals import ack, messages, tracked
from app.runtime.publish import publish
from app.scoring import ScoredBatch, score_batch
from app.streams import app, fetches, persist, runtime, settings, topics
from app.watch import window_limits

LIMITS = window_limits(settings)


@app.agent(fetches.features)
async def score_features(stream):  # type: ignore[no-untyped-def]
    in_flight = InFlight(IN_FLIGHT)
    async for events in tracked(app, stream):
        received = time.time()
        records = messages(events)
        scored = await guarded(partial(score, records), records, settings)
        batch = ScoredBatch(dead_letters=scored.letters) if isinstance(scored, Failed) else scored
        # The next fetch is scored while this one's Redis write and broker
        # round trip are under way: awaiting them here made the agent's pace
        # a round trip per fetch, and fetches queued behind it.
        await in_flight.add(deliver(batch, received), partial(done, events, received))


async def score(records: list[Message]) -> ScoredBatch:
    return score_batch(records, await runtime.served(), settings, datetime.now(UTC))


async def deliver(batch: ScoredBatch, received: float) -> ScoredBatch:
    """The batch's outputs, each guarded on its own: predictions that cannot
    be published are dead-lettered instead; features that cannot be stored
    only cost their labels (which then count unknown)."""
    # The features go to Redis while the predictions go to the broker: one
    # after the other, each prediction waited for the Redis round trip and
    # its turns of the event loop (p50 5.5 ms of 21 at 2,000 events/s). A
    # label that reaches the learner before its features waits for them
    # (EDDY_LABEL_WAIT_SECONDS); the batch is acknowledged once all are done.
    store = partial(
        persist,
        runtime.store.put_pending,
        batch.pending,
        settings.pending_ttl_seconds,
        batch.windows,
        LIMITS,
        batch.clocks,
    )
    predict = partial(publish, topics.predictions, [(p.event_id, p) for p in batch.predictions])

    async def stored() -> object:
        result = await guarded(store, batch.scored, settings)
        # Labels that came before these features need not wait for a timer.
        runtime.stored(len(batch.pending))
        return result

    _, failed, _ = await asyncio.gather(
        stored(),
        delivered(predict, batch.scored, settings, topics.dead_letter),
        publish(topics.dead_letter, ((d.key, d) for d in batch.dead_letters)),
    )
    if failed is None:
        return batch
    return ScoredBatch(dead_letters=batch.dead_letters + failed.letters)


def done(events: list[Any], received: float, batch: ScoredBatch) -> None:
    ack(app, events)
    telemetry.record_scored(batch, received, time.time())
