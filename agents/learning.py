"""learn_from_labels: the owner of the training partition learns; its
records are acknowledged once a snapshot holds them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial

from agents.drift import announce
from app import telemetry
from app.errors import EddyError
from app.labels import training_records
from app.learner import Learned, Record
from app.runtime.guard import Failed, failed_labels, guarded
from app.runtime.internals import Receipt, messages, tracked
from app.runtime.publish import publish
from app.streams import app, fetches, persist, runtime, settings, topics
from app.training import Training
from app.watch import error_drift_events

log = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 60
"""How long the outcomes of a ``POST /learn`` request are kept for it."""

QUALITY_INTERVAL = 1.0
"""Seconds between readings of the live quality (``telemetry.record_quality``)."""


async def report(training: Training, learned: Learned) -> None:
    """Metrics for what was learned, a dead letter per label whose learning
    raised, and a drift event per error-stream drift."""
    learner = training.learner
    if learner is None:
        return
    telemetry.record_learned(learned, learner.state)
    now = datetime.now(UTC)
    if learned.failed:
        letters = failed_labels(learned.failed, settings, now)
        await publish(topics.dead_letter, ((d.key, d) for d in letters))
        telemetry.record_rejected(letters)
    if learned.drifts:
        served = await runtime.served()
        await announce(error_drift_events(learned.drifts, settings, served, now))
    if learned.events:
        await publish(topics.model_events, ((e.model, e) for e in learned.events))
        telemetry.record_model_events(learned.events)
    if learned.replies:
        await persist(runtime.store.put_replies, learned.replies, REPLY_TTL_SECONDS)


@app.agent(fetches.training)
async def learn_from_labels(stream):  # type: ignore[no-untyped-def]
    async for events in tracked(app, stream):
        training = await runtime.training()
        records = messages(events)
        parsed = training_records(records)
        receipt = Receipt(app, events)
        learned = await guarded(
            partial(persist, training.learn, parsed, receipt), records, settings
        )
        if isinstance(learned, Failed):
            await publish(topics.dead_letter, ((d.key, d) for d in learned.letters))
            telemetry.record_rejected(learned.letters)
            await persist(training.skip, parsed, receipt)
            replies = [(e.reply, "failed") for _, e in parsed if e.reply is not None]
            if replies:
                await persist(runtime.store.put_replies, replies, REPLY_TTL_SECONDS)
        else:
            await report(training, learned)


@app.task
async def learn_ahead() -> None:
    """Training records this process published, taken by its learner as
    soon as they are acknowledged, and labels waiting for features retried
    as soon as this process stores features (``Training.learn_ahead``).
    Whatever it does not take, for any reason, comes back from the training
    topic."""
    while True:
        records: list[Record] = []
        stored = 0
        item = await runtime.forwarded.get()
        while True:
            if isinstance(item, int):
                stored += item
            else:
                records += item
            if runtime.forwarded.empty():
                break
            item = runtime.forwarded.get_nowait()
        if not runtime.learning:
            continue
        training = await runtime.training()
        try:
            learned = await training.learn_ahead(records, stored)
        except EddyError as exc:  # Redis away: the training topic's fetch waits it out
            log.info("labels not learned ahead of the training topic: %s", exc)
            continue
        except Exception:  # a bug: the training topic's fetch dead-letters its labels
            log.exception("labels not learned ahead of the training topic")
            continue
        await report(training, learned)


@app.timer(settings.snapshot_interval_seconds)
async def snapshot_model() -> None:
    if not runtime.learning:
        return
    training = await runtime.training()
    await report(training, await persist(training.flush))
    events = await persist(training.obey)
    if events:
        await publish(topics.model_events, ((e.model, e) for e in events))
        telemetry.record_model_events(events)


@app.timer(QUALITY_INTERVAL)
async def report_quality() -> None:
    if not runtime.learning:
        return
    training = await runtime.training()
    if training.learner is not None:
        telemetry.record_quality(training.learner.state)
