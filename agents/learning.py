"""learn_from_labels: the owner of the training partition learns; its
records are acknowledged once a snapshot holds them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from agents.drift import announce
from agents.kafka import messages
from app import telemetry
from app.consumer import ack, tracked
from app.errors import SnapshotConflict
from app.labels import training_records
from app.learner import Learned
from app.streams import app, fetches, persist, runtime, settings
from app.training import Training
from app.watch import error_drift_events


async def report(training: Training, learned: Learned) -> None:
    """Metrics for what was learned, and a drift event per error-stream drift."""
    learner = training.learner
    if learner is None:
        return
    telemetry.record_learned(learned, learner.state)
    if learned.drifts:
        served = await runtime.served()
        await announce(error_drift_events(learned.drifts, settings, served, datetime.now(UTC)))


@app.agent(fetches.training)
async def learn_from_labels(stream):  # type: ignore[no-untyped-def]
    async for events in tracked(app, stream):
        training = await runtime.training()
        records = training_records(messages(events))
        learned = await persist(training.learn, records, [partial(ack, app, events)])
        await report(training, learned)


@app.timer(settings.snapshot_interval_seconds)
async def snapshot_model() -> None:
    training = await runtime.training()
    try:
        learned = await persist(training.flush)
    except SnapshotConflict:
        return  # logged; the next batch resumes from the newest snapshot
    await report(training, learned)
    if training.learner is not None:
        telemetry.record_rolling_quality(training.learner.state)
