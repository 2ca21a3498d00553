"""Every Prometheus metric of the worker, on one registry.

Each process exposes its own on ``/metrics``; Prometheus tells processes
apart by their ``instance`` and sums them. Quality, label and drift metrics
come from the learner's process only. Labels are of low cardinality: never an
event id; features only as drift subjects, whose number is bounded by
``EDDY_DRIFT_MAX_FEATURES``.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)
DECLARED: list[tuple[str, str, tuple[str, ...], str]] = []
"""Every metric as declared: name, type, labels, meaning (the README's table)."""

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DELAY_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)
PROBABILITY_BUCKETS = tuple(i / 10 for i in range(1, 11))
VALUE_BUCKETS = (-100, -10, -1, -0.1, 0, 0.1, 1, 10, 100, 1000)


def _counter(name: str, meaning: str, *labels: str) -> Counter:
    DECLARED.append((name + "_total", "counter", labels, meaning))
    return Counter(name, meaning, labels, registry=REGISTRY)


def _gauge(name: str, meaning: str, *labels: str) -> Gauge:
    DECLARED.append((name, "gauge", labels, meaning))
    return Gauge(name, meaning, labels, registry=REGISTRY)


def _histogram(name: str, meaning: str, buckets: Sequence[float], *labels: str) -> Histogram:
    DECLARED.append((name, "histogram", labels, meaning))
    return Histogram(name, meaning, labels, buckets=buckets, registry=REGISTRY)


events_consumed = _counter("eddy_events_consumed", "Records read, by topic.", "topic")
events_scored = _counter("eddy_events_scored", "Feature events scored.")
events_rejected = _counter(
    "eddy_events_rejected",
    "Records sent to the dead-letter topic, by source topic and reason.",
    "topic",
    "reason",
)
predictions_published = _counter(
    "eddy_predictions_published", "Predictions acknowledged by the broker."
)
scoring_latency = _histogram(
    "eddy_scoring_latency_seconds",
    "From a batch's arrival in the worker to its predictions acknowledged by the broker.",
    LATENCY_BUCKETS,
)
end_to_end_latency = _histogram(
    "eddy_end_to_end_latency_seconds",
    "From an event's occurred_at (or its Kafka timestamp) to its prediction acknowledged.",
    LATENCY_BUCKETS,
)
consumer_lag = _gauge(
    "eddy_consumer_lag",
    "Records behind the partition's high watermark, by topic and partition.",
    "topic",
    "partition",
)
label_outcomes = _counter(
    "eddy_label_outcomes",
    "Labels by outcome: joined, duplicate, unknown, expired, invalid, overflow, failed, "
    "frozen, unsampled.",
    "outcome",
)
labels_ahead = _counter(
    "eddy_labels_learned_ahead",
    "Training records the learner's process took (learned, or set waiting for their features) "
    "as it published them, before reading them back from the training topic, which then "
    "skips them.",
)
label_delay = _histogram(
    "eddy_label_delay_seconds",
    "From scoring an event to its label reaching the labels topic (joined labels).",
    DELAY_BUCKETS,
)
SERVED_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10)
label_served = _histogram(
    "eddy_label_served_seconds",
    "From a learned label's time (its occurred_at, or when it reached the labels topic) to "
    "this process serving a model that learned it. path: live (the learner's own process, "
    "exact) or snapshot (a process that loads versions; spread evenly between each version's "
    "first and last label).",
    SERVED_BUCKETS,
    "path",
)
label_received = _histogram(
    "eddy_label_received_seconds",
    "From a label reaching the labels topic (its Kafka timestamp) to this process taking it "
    "from its fetch: the part of eddy_label_served_seconds spent in the producer, the broker "
    "and the consumer, before the worker's own work.",
    SERVED_BUCKETS,
)
labels_waiting = _gauge("eddy_labels_waiting", "Labels waiting for their features to be stored.")
pending_events = _gauge(
    "eddy_pending_events",
    "Scored events whose features are kept in Redis, labelled or not (to the minute, from "
    "per-minute counters, every 30 s).",
)
model_quality = _gauge(
    "eddy_model_quality",
    "Live prequential quality of the served predictions, by metric and window "
    "(all: the whole stream; rolling: the last EDDY_QUALITY_WINDOW labels). Read every "
    "second, as are the other quality gauges.",
    "metric",
    "window",
)
version_quality = _gauge(
    "eddy_version_quality",
    "Live prequential quality of the predictions served by the model now serving, by the "
    "version it began at (its last promotion, rollback, pin or reset; 0: none yet) and "
    "metric: labels of events an older model scored are left out. One series at a time: "
    "the one before is removed.",
    "since",
    "metric",
)
prediction_confidence = _histogram(
    "eddy_prediction_confidence",
    "Probability of the predicted class (classifiers).",
    PROBABILITY_BUCKETS,
)
prediction_value = _histogram(
    "eddy_prediction_value", "Predicted values (regressors).", VALUE_BUCKETS
)
model_version = _gauge("eddy_model_version", "Model version this process serves.", "model")
compared_quality = _gauge(
    "eddy_compared_quality",
    "With challengers: the quality of the champion (as served) and of each challenger (as it "
    "predicted in shadow), on the labels of the events scored in shadow (the labels they are "
    "compared on), by pipeline, role (champion or challenger) and metric.",
    "model",
    "role",
    "metric",
)
shadow_predictions = _counter(
    "eddy_shadow_predictions",
    "Events a challenger scored in shadow in this process and whose prediction was kept for "
    "the comparison with the champion, by challenger.",
    "model",
)
challenger_test = _gauge(
    "eddy_challenger_test_labels",
    "The promotion test of each challenger against the champion, this run of it: labels "
    "where its loss was lower (better), higher (worse), or either (compared).",
    "model",
    "count",
)
model_events = _counter(
    "eddy_model_events",
    "Versions written for a reason other than learning, by action: an operator's "
    "(rollback, pin, unpin, freeze, unfreeze, promote), a promotion earned, or a drift "
    "policy's (reset, challenge).",
    "action",
)
snapshot_age = _gauge(
    "eddy_model_snapshot_age_seconds",
    "Age of the model version this process serves.",
    "model",
)
model_memory = _gauge(
    "eddy_model_memory_bytes",
    "Memory of the learner's model, as River measures it (every 30 s).",
    "model",
)
redis_errors = _counter("eddy_redis_errors", "Redis calls that failed, by operation.", "operation")
snapshot_conflicts = _counter(
    "eddy_snapshot_conflicts",
    "Snapshots refused because another process wrote a newer version first: once when "
    "a learner takes over; steadily when two processes learn at once (an `all` process "
    "next to a `learner`).",
    "model",
)
snapshots_refused = _counter(
    "eddy_snapshots_refused",
    "Snapshots refused unread or unloaded, by reason: `unsigned`, `unknown_key`, "
    "`bad_signature` (refused before any byte is unpickled), `forbidden` (holds a class no "
    "snapshot may), `unreadable`. The version in hand is kept.",
    "model",
    "reason",
)
learning_owned = _gauge(
    "eddy_learning_owned",
    "1 while a live process owns the training partition and learns (as this process "
    "sees it, every second), else 0.",
)
processing_errors = _counter(
    "eddy_processing_errors",
    "Batches whose handling raised an unexpected error, by topic; each retry counts.",
    "topic",
)
features_dropped = _counter(
    "eddy_features_dropped",
    "Features left out of what the model learned: its vocabulary was full (EDDY_MAX_FEATURES).",
)
kafka_errors = _counter(
    "eddy_kafka_errors", "Kafka sends that failed, by topic (the batch is retried).", "topic"
)
drift_windows_judged = _counter(
    "eddy_drift_windows_judged",
    "Feature and prediction drift windows judged against their references, each once across "
    "all processes, in event time (a replayed backlog closes many at once).",
)
drift_detected = _counter(
    "eddy_drift_detected",
    "Drift detections, by kind (error, feature, prediction) and subject.",
    "kind",
    "subject",
)
drift_statistic = _gauge(
    "eddy_drift_statistic",
    "Latest drift statistic between the reference and current windows, by subject.",
    "subject",
    "statistic",
)


def exposition() -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(REGISTRY)


def markdown_table() -> str:
    """The README's metrics table: ``python -m app.metrics``."""
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for name, kind, labels, meaning in DECLARED:
        shown = ", ".join(f"`{label}`" for label in labels)
        rows.append(f"| `{name}` | {kind} | {shown} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
