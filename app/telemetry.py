"""What happened, into the metrics of ``app.metrics``."""

from __future__ import annotations

import contextlib
import time

from app.intake import Message
from app.learner import Learned, LearnerState
from app.metrics import (
    challenger_test,
    compared_quality,
    drift_detected,
    drift_statistic,
    end_to_end_latency,
    events_rejected,
    events_scored,
    features_dropped,
    label_delay,
    label_outcomes,
    label_received,
    label_served,
    labels_waiting,
    model_events,
    model_quality,
    model_version,
    prediction_confidence,
    prediction_value,
    predictions_published,
    scoring_latency,
    shadow_predictions,
    snapshot_age,
    version_quality,
)
from app.scoring import ScoredBatch
from app.serving import ServedModel
from schemas import DeadLetterEvent, DriftEvent, ModelEvent


def record_scored(batch: ScoredBatch, received_at: float, acked_at: float) -> None:
    """A batch whose predictions and dead letters the broker acknowledged."""
    n = len(batch.predictions)
    events_scored.inc(n)
    predictions_published.inc(n)
    for _ in range(n):
        scoring_latency.observe(acked_at - received_at)
    for origin in batch.origins:
        end_to_end_latency.observe(max(acked_at - origin, 0.0))
    for confidence in batch.confidences:
        prediction_confidence.observe(confidence)
    if not batch.confidences:
        for p in batch.predictions:
            if isinstance(p.prediction, int | float) and not isinstance(p.prediction, bool):
                prediction_value.observe(p.prediction)
    record_rejected(batch.dead_letters)
    for model, kept in batch.shadow.items():
        shadow_predictions.labels(model).inc(kept)


def record_labels_received(messages: list[Message], now: float) -> None:
    """Labels this process has just taken from its fetch, from when each
    reached the labels topic."""
    for message in messages:
        label_received.observe(max(now - message.timestamp, 0.0))


def record_rejected(letters: list[DeadLetterEvent]) -> None:
    for letter in letters:
        events_rejected.labels(letter.source.topic, letter.reason.value).inc()


def record_compared(state: LearnerState) -> None:
    """The champion and its challengers, as they are compared."""
    if state.champion is not None:
        for name, value in state.champion.report().items():
            compared_quality.labels(state.model.name, "champion", name).set(value)
    for model, contender in state.challengers.items():
        for name, value in contender.quality.report().items():
            compared_quality.labels(model, "challenger", name).set(value)
        test = contender.test
        for count, n in (
            ("better", test.better),
            ("worse", test.worse),
            ("compared", test.compared),
        ):
            challenger_test.labels(model, count).set(n)


def record_learned(learned: Learned, state: LearnerState) -> None:
    for outcome, n in learned.outcomes.items():
        label_outcomes.labels(outcome.value).inc(n)
    features_dropped.inc(learned.dropped_features)
    for delay in learned.delays:
        label_delay.observe(max(delay, 0.0))
    labels_waiting.set(len(state.waiting))


_since: list[str] = []
"""The version whose quality series ``eddy_version_quality`` holds."""


def record_version_quality(state: LearnerState) -> None:
    since = str(state.since)
    report = state.version_quality.report()
    if _since and _since[0] != since:
        for name in report:
            with contextlib.suppress(KeyError):
                version_quality.remove(_since[0], name)
    _since[:] = [since]
    for name, value in report.items():
        version_quality.labels(since, name).set(value)


def record_quality(state: LearnerState) -> None:
    """The live quality, read once a second rather than after every batch
    learned: the learner's process learns up to a hundred small batches a
    second (labels are taken as they are forwarded), and reading River's
    whole-stream metrics takes some 50 µs, twice per batch (the stream's and
    the version's); the rolling window, computed when read, some 7 ms."""
    for name, value in state.quality.report().items():
        model_quality.labels(name, "all").set(value)
    for name, value in state.quality.report("rolling").items():
        model_quality.labels(name, "rolling").set(value)
    record_version_quality(state)
    record_compared(state)


def record_model_events(events: list[ModelEvent]) -> None:
    for event in events:
        model_events.labels(event.action.value).inc()


def record_served(served: ServedModel) -> None:
    model_version.labels(served.model.name).set(served.version)
    snapshot_age.labels(served.model.name).set(max(time.time() - served.created_at, 0.0))


def record_drift(events: list[DriftEvent], statistics: dict[str, dict[str, object]]) -> None:
    for event in events:
        drift_detected.labels(event.kind, event.subject).inc()
    for subject, stat in statistics.items():
        value = stat["value"]
        if isinstance(value, float):
            drift_statistic.labels(subject, str(stat["statistic"])).set(value)


SERVED_SAMPLES = 1000
"""Most observations per version in ``record_version_served``."""


def record_label_served(label_times: list[float], now: float) -> None:
    """Labels the learner's own process serves from now on."""
    live = label_served.labels("live")
    for at in label_times:
        live.observe(max(now - at, 0.0))


def record_version_served(labels_at: list[float] | None, now: float) -> None:
    """A version loaded from Redis, whose labels reached the labels topic
    between ``first`` and ``last`` (``labels_at``: first, last, count): each
    label's delay, estimated as if they came evenly in between."""
    if not labels_at:
        return
    first, last, count = labels_at
    n = min(int(count), SERVED_SAMPLES)
    loaded = label_served.labels("snapshot")
    for i in range(n):
        at = first + (last - first) * (i / (n - 1) if n > 1 else 1.0)
        loaded.observe(max(now - at, 0.0))
