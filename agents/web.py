"""The HTTP API of every process: /status, /metrics, /drift."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agents.kafka import positions
from app import metrics
from app.streams import app, runtime, settings, topics


@app.page("/status")
async def status(web: Any, request: Any) -> Any:
    """What this process serves, which partitions it owns, and what its
    learner knows (when it is the learner)."""
    served = await runtime.served()
    learner = (await runtime.training()).learner
    partitions: defaultdict[str, list[int]] = defaultdict(list)
    for tp in app.consumer.assignment():
        partitions[tp.topic].append(tp.partition)
    return web.json(
        {
            "role": settings.role,
            "model": served.model.name,
            "serving_version": served.version,
            "partitions": {t: sorted(p) for t, p in sorted(partitions.items())},
            "learner": None
            if learner is None
            else {"version": learner.version, **learner.state.meta()},
        }
    )


@app.page("/metrics")
async def prometheus(web: Any, request: Any) -> Any:
    """Prometheus metrics of this process."""
    for tp in app.consumer.assignment():
        position = positions.get((tp.topic, tp.partition))
        highwater = app.consumer.highwater(tp)
        if position is not None and highwater is not None:
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(highwater - position)
    return web.bytes(metrics.exposition(), content_type="text/plain; version=0.0.4")


@app.page("/drift")
async def drift(web: Any, request: Any) -> Any:
    """The latest window statistics per feature, and the newest drift events."""
    statistics, events = await runtime.store.drift_status()
    return web.json({"statistics": statistics, "events": events})


@app.task
async def declare_output_topics() -> None:
    """Create the output topics at start, so consumers can subscribe before
    the first record (and ``publish`` can send to them directly)."""
    outputs = [topics.predictions, topics.dead_letter, topics.drift]
    if not settings.learns:
        # Where a process learns, Faust declares the training topic itself,
        # as the learning agent's source; a scorer only forwards labels to it.
        outputs.append(topics.training)
    for topic in outputs:
        await topic.maybe_declare()
