"""How fresh the served model is: Phishing through Kafka at a fixed rate to
one worker, with a follower (another deployment's scorer on the same model,
scoring nothing) that loads each version as announced. Used by the test
(which asserts) and the benchmark (which prints)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from river import datasets

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events
from tests.harness import (
    Reader,
    Served,
    Worker,
    as_records,
    eventually,
    free_port,
    label_received,
    label_served,
    produce,
    wait_assigned,
)
from tests.test_parity import river_reference

EVENTS = 1250


@dataclass(frozen=True, slots=True)
class Freshness:
    delay: int
    served: dict[str, float]
    """Live accuracy and ROC AUC of what was served."""
    river: dict[str, float]
    """``progressive_val_score`` at the same delay."""
    staleness: list[int]
    """Per prediction: labels River's model had learned and the served one not."""
    live: Served
    """Label to served, in the learner's process."""
    loaded: Served
    """Label to served, in the follower."""
    received: Served
    """Label to the worker taking it from its fetch: the part of ``live``
    before the worker's own work (the producer, the broker, the consumer)."""
    ahead: int
    """Labels the worker's learner took as they were published, ahead of
    the training topic."""

    def describe(self) -> str:
        return (
            f"delay {self.delay}: served accuracy {self.served['accuracy']:.4f} vs River "
            f"{self.river['accuracy']:.4f}; ROC AUC {self.served['roc_auc']:.4f} vs "
            f"{self.river['roc_auc']:.4f}; staleness in labels: median "
            f"{statistics.median(self.staleness)}, max {max(self.staleness)}; label served, "
            f"learner's process: {self.live.describe()}; taken from the fetch: "
            f"{self.received.describe()}; another process: "
            f"{self.loaded.describe()}; learned ahead of the training topic: {self.ahead}"
        )


async def measure(
    settings: Settings, delay: int, rate: float, spawn: Callable[[Settings], Worker], store: Store
) -> Freshness:
    worker = spawn(settings)
    follower = spawn(
        settings.model_copy(
            update={
                "app_id": f"{settings.app_id}-follower",
                "role": "scorer",
                "topic_features": f"{settings.topic_features}-follower",
                "topic_predictions": f"{settings.topic_predictions}-follower",
                "topic_labels": f"{settings.topic_labels}-follower",
                "topic_training": f"{settings.topic_training}-follower",
                "web_port": free_port(),
            }
        )
    )
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})
    await follower.wait_ready()

    events = list(qa_events(datasets.Phishing(), delay, "p"))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=2 * rate)
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        predictions = await reader.until(
            f"{EVENTS} predictions", lambda v: len({p["event_id"] for p in v}) >= EVENTS, 60
        )

    async def learned_all() -> dict[str, object] | None:
        meta = await store.head_meta(settings.model)
        return meta if meta and meta["learned"] == EVENTS else None

    meta = await eventually(f"{EVENTS} labels learned", learned_all, 60)

    async def follower_caught_up() -> bool:
        return label_served(follower.metrics(), "snapshot").count >= EVENTS

    await eventually("the follower served every label", follower_caught_up, 30)
    revealed, ideal = 0, {}
    for kind, e in events:
        if kind == "features":
            ideal[e["event_id"]] = revealed
        else:
            revealed += 1
    quality = meta["quality"]
    assert isinstance(quality, dict)
    scraped = worker.metrics()
    return Freshness(
        delay,
        quality,
        river_reference(delay),
        [ideal[p["event_id"]] - p["model_learned"] for p in predictions],
        label_served(scraped, "live"),
        label_served(follower.metrics(), "snapshot"),
        label_received(scraped),
        int(scraped.get(("eddy_labels_learned_ahead_total", ()), 0)),
    )
