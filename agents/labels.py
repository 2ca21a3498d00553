"""forward_labels: valid labels go to the model's one learner, the rest to
the dead-letter topic."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from agents.kafka import IN_FLIGHT, InFlight, messages, publish
from app import telemetry
from app.consumer import ack, tracked
from app.labels import RoutedLabels, route_labels
from app.streams import app, fetches, runtime, settings, topics


@app.agent(fetches.labels)
async def forward_labels(stream):  # type: ignore[no-untyped-def]
    in_flight = InFlight(IN_FLIGHT)
    async for events in tracked(app, stream):
        served = await runtime.served()
        batch = route_labels(messages(events), served.model, settings, datetime.now(UTC))
        await in_flight.add(outputs(batch), partial(done, batch, events))


async def outputs(batch: RoutedLabels) -> None:
    await publish(topics.training, ((t.event_id, t) for t in batch.training))
    await publish(topics.dead_letter, ((d.key, d) for d in batch.dead_letters))


def done(batch: RoutedLabels, events: list[Any]) -> None:
    ack(app, events)
    telemetry.record_rejected(batch.dead_letters)
