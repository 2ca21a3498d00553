"""forward_labels: valid labels go to the model's one learner, the rest to
the dead-letter topic."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

from app import telemetry
from app.intake import Message
from app.labels import RoutedLabels, route_labels
from app.runtime.guard import Failed, delivered, guarded
from app.runtime.inflight import IN_FLIGHT, InFlight
from app.runtime.internals import ack, messages, tracked
from app.runtime.publish import publish
from app.streams import app, fetches, runtime, settings, topics


@app.agent(fetches.labels)
async def forward_labels(stream):  # type: ignore[no-untyped-def]
    in_flight = InFlight(IN_FLIGHT)
    async for events in tracked(app, stream):
        records = messages(events)
        telemetry.record_labels_received(records, time.time())
        routed = await guarded(partial(route, records), records, settings)
        batch = RoutedLabels(dead_letters=routed.letters) if isinstance(routed, Failed) else routed
        await in_flight.add(deliver(batch), partial(done, events))


async def route(records: list[Message]) -> RoutedLabels:
    served = await runtime.served()
    return route_labels(records, served.model, settings, datetime.now(UTC))


async def deliver(batch: RoutedLabels) -> RoutedLabels:
    """The batch's outputs: training records that cannot be published are
    dead-lettered instead."""
    offsets: list[int] = []

    async def forward() -> None:
        # In the learner's process, on a producer of their own: the learner
        # takes them as soon as they are acknowledged (``done``).
        offsets[:] = await publish(
            topics.training, [(t.event_id, t) for t in batch.training], express=runtime.learning
        )

    failed = await delivered(forward, batch.routed, settings, topics.dead_letter)
    await publish(topics.dead_letter, ((d.key, d) for d in batch.dead_letters))
    if failed is None:
        batch.forwarded = list(zip(offsets, batch.training, strict=True))
        return batch
    return RoutedLabels(dead_letters=batch.dead_letters + failed.letters)


def done(events: list[Any], batch: RoutedLabels) -> None:
    ack(app, events)
    telemetry.record_rejected(batch.dead_letters)
    # In the learner's process, the learner takes them now (in order: the
    # batches are done in order), not a fetch from the training topic later.
    runtime.offer(batch.forwarded)
