"""Replay a question-and-answer stream through the worker's core, in order,
without Kafka: the same scoring, Redis join, learning and snapshots as the
running worker, but with a snapshot after every label, so the served model is
never stale. What the worker would compute with no delivery lag at all.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from app.intake import Message
from app.labels import route_labels
from app.learner import LearnerState, Outcome
from app.scoring import score_batch
from app.settings import Settings
from app.store import Store
from app.training import NoReceipt, Training, bootstrap, initial_state


async def replay(
    events: Iterable[tuple[str, dict[str, Any]]], settings: Settings, store: Store
) -> tuple[LearnerState, Counter[Outcome]]:
    """Feed ``("features" | "labels", event)`` pairs one by one; return the
    learner's final state and the label outcomes."""
    served = await bootstrap(store, initial_state(settings))
    training = Training(store, settings, served)
    outcomes: Counter[Outcome] = Counter()
    offsets: Counter[str] = Counter()
    for topic, event in events:
        now = datetime.now(UTC)
        message = Message(
            key=event["event_id"].encode(),
            value=json.dumps(event).encode(),
            topic=topic,
            partition=0,
            offset=offsets[topic],
            timestamp=now.timestamp(),
        )
        offsets[topic] += 1
        if topic == "features":
            batch = score_batch([message], served, settings, now)
            await store.put_pending(batch.pending, settings.pending_ttl_seconds)
        else:
            routed = route_labels([message], served.model, settings, now)
            records = [(offsets["training"], t) for t in routed.training]
            offsets["training"] += len(records)
            outcomes += (await training.learn(records, NoReceipt())).outcomes
            await training.flush()
    assert training.learner is not None, "no label was replayed"
    return training.learner.state, outcomes
