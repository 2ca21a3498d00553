"""GET /status: what this process serves, which partitions it owns, and what
its learner knows (when it is the learner)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from app.streams import app, runtime, topics


@app.page("/status")
async def status(web: Any, request: Any) -> Any:
    served = await runtime.served()
    learner = (await runtime.training()).learner
    partitions: defaultdict[str, list[int]] = defaultdict(list)
    for tp in app.consumer.assignment():
        partitions[tp.topic].append(tp.partition)
    return web.json(
        {
            "model": served.model.name,
            "serving_version": served.version,
            "partitions": {t: sorted(p) for t, p in sorted(partitions.items())},
            "learner": None
            if learner is None
            else {"version": learner.version, **learner.state.meta()},
        }
    )


@app.task
async def declare_output_topics() -> None:
    """Create the output topics at start, so consumers can subscribe before
    the first prediction."""
    for topic in (topics.predictions, topics.dead_letter):
        await topic.maybe_declare()
