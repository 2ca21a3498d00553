"""Every Prometheus metric of the worker, on one registry.

Each process exposes its own on ``/metrics``; Prometheus tells processes
apart by their ``instance`` and sums them. Quality, label and drift metrics
come from the learner's process only. Labels are of low cardinality: never an
event id; features only as drift subjects, whose number is bounded by
``EDDY_DRIFT_MAX_FEATURES``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DELAY_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)
PROBABILITY_BUCKETS = tuple(i / 10 for i in range(1, 11))

events_consumed = Counter(
    "eddy_events_consumed", "Records read, by topic.", ["topic"], registry=REGISTRY
)
events_scored = Counter("eddy_events_scored", "Feature events scored.", registry=REGISTRY)
events_rejected = Counter(
    "eddy_events_rejected",
    "Records sent to the dead-letter topic, by source topic and reason.",
    ["topic", "reason"],
    registry=REGISTRY,
)
predictions_published = Counter(
    "eddy_predictions_published",
    "Predictions acknowledged by the broker.",
    registry=REGISTRY,
)
scoring_latency = Histogram(
    "eddy_scoring_latency_seconds",
    "From a batch's arrival in the worker to its predictions acknowledged by the broker.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
end_to_end_latency = Histogram(
    "eddy_end_to_end_latency_seconds",
    "From an event's occurred_at (or its Kafka timestamp) to its prediction acknowledged.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
consumer_lag = Gauge(
    "eddy_consumer_lag",
    "Records behind the partition's high watermark, by topic and partition.",
    ["topic", "partition"],
    registry=REGISTRY,
)
label_outcomes = Counter(
    "eddy_label_outcomes",
    "Labels by outcome: joined, duplicate, unknown, expired, invalid.",
    ["outcome"],
    registry=REGISTRY,
)
label_delay = Histogram(
    "eddy_label_delay_seconds",
    "From scoring an event to its label reaching the labels topic (joined labels).",
    buckets=DELAY_BUCKETS,
    registry=REGISTRY,
)
labels_waiting = Gauge(
    "eddy_labels_waiting", "Labels waiting for their features to be stored.", registry=REGISTRY
)
pending_events = Gauge(
    "eddy_pending_events",
    "Scored events whose features are kept in Redis, waiting for a label.",
    registry=REGISTRY,
)
model_quality = Gauge(
    "eddy_model_quality",
    "Live prequential quality of the served predictions, by metric and window "
    "(all: the whole stream; rolling: the last EDDY_QUALITY_WINDOW labels).",
    ["metric", "window"],
    registry=REGISTRY,
)
prediction_confidence = Histogram(
    "eddy_prediction_confidence",
    "Probability of the predicted class (classifiers).",
    buckets=PROBABILITY_BUCKETS,
    registry=REGISTRY,
)
prediction_value = Histogram(
    "eddy_prediction_value",
    "Predicted values (regressors).",
    buckets=(-100, -10, -1, -0.1, 0, 0.1, 1, 10, 100, 1000),
    registry=REGISTRY,
)
model_version = Gauge(
    "eddy_model_version", "Model version this process serves.", ["model"], registry=REGISTRY
)
snapshot_age = Gauge(
    "eddy_model_snapshot_age_seconds",
    "Age of the snapshot this process serves, when it was loaded.",
    ["model"],
    registry=REGISTRY,
)
model_memory = Gauge(
    "eddy_model_memory_bytes",
    "Memory of the learner's model, as River measures it.",
    ["model"],
    registry=REGISTRY,
)
redis_errors = Counter(
    "eddy_redis_errors", "Redis calls that failed, by operation.", ["operation"], registry=REGISTRY
)
kafka_errors = Counter(
    "eddy_kafka_errors",
    "Kafka sends that failed, by topic (the batch is retried).",
    ["topic"],
    registry=REGISTRY,
)
drift_detected = Counter(
    "eddy_drift_detected",
    "Drift detections, by kind (error, feature, prediction) and subject.",
    ["kind", "subject"],
    registry=REGISTRY,
)
drift_statistic = Gauge(
    "eddy_drift_statistic",
    "Latest drift statistic between the reference and current windows, by subject.",
    ["subject", "statistic"],
    registry=REGISTRY,
)


def exposition() -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(REGISTRY)
