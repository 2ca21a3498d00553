"""learn_from_labels: the owner of the training partition learns; its
records are acknowledged once a snapshot holds them."""

from __future__ import annotations

import logging

from agents.kafka import messages
from app.labels import training_records
from app.streams import app, persist, runtime, settings, topics

log = logging.getLogger(__name__)


@app.agent(topics.training)
async def learn_from_labels(stream):  # type: ignore[no-untyped-def]
    async for events in stream.noack_take(
        settings.batch_max_events, settings.batch_max_wait_seconds
    ):
        training = await runtime.training()
        records = training_records(messages(events))
        outcomes = await persist(training.learn, records, [e.ack for e in events])
        log.debug("labels: %s", dict(outcomes))


@app.timer(settings.snapshot_interval_seconds)
async def snapshot_model() -> None:
    training = await runtime.training()
    await persist(training.flush)
