"""Phishing through Kafka and a running worker: its live metrics agree with
River's progressive validation, up to the staleness of the served model."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest
from river import datasets

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events
from tests.harness import Reader, Worker, as_records, eventually, produce, wait_assigned
from tests.test_parity import river_reference

pytestmark = pytest.mark.integration

DELAY = 100
TOLERANCE = 0.02
"""Largest gap allowed in accuracy and ROC AUC. Through Kafka a prediction is
made by the newest snapshot, up to a few tens of labels behind River's model."""


async def test_worker_metrics_agree_with_progressive_val_score(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(snapshot_interval_seconds=0.05, model_refresh_interval_seconds=0.05)
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})

    events = list(qa_events(datasets.Phishing(), DELAY, "p"))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=400)

    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        predictions = await reader.until(
            "1250 predictions", lambda v: len({p["event_id"] for p in v}) >= 1250, 60
        )

    async def learned_all() -> dict[str, object] | None:
        meta = await store.head_meta(settings.model)
        return meta if meta and meta["learned"] == 1250 else None

    meta = await eventually("1250 labels learned", learned_all, 60)
    quality = meta["quality"]
    assert isinstance(quality, dict)
    reference = river_reference(DELAY)

    # Staleness: how many labels River's model had learned when it scored an
    # event, that the served version had not.
    learned_by_version = {v["version"]: v["learned"] for v in await store.versions(settings.model)}
    order = [e["event_id"] for kind, e in events if kind == "labels"]
    revealed, ideal = 0, {}
    for kind, e in events:
        if kind == "features":
            ideal[e["event_id"]] = revealed
        else:
            revealed += 1
    assert len(order) == 1250
    staleness = [ideal[p["event_id"]] - learned_by_version[p["model_version"]] for p in predictions]
    print(
        f"worker accuracy {quality['accuracy']:.4f} vs River {reference['accuracy']:.4f}; "
        f"ROC AUC {quality['roc_auc']:.4f} vs {reference['roc_auc']:.4f}; "
        f"staleness in labels: median {statistics.median(staleness)}, max {max(staleness)}"
    )
    assert abs(quality["accuracy"] - reference["accuracy"]) <= TOLERANCE
    assert abs(quality["roc_auc"] - reference["roc_auc"]) <= TOLERANCE
