"""GET /status: what this process serves, and what its learner knows."""

from __future__ import annotations

from typing import Any

from app.streams import app, runtime, topics


@app.page("/status")
async def status(web: Any, request: Any) -> Any:
    served = await runtime.served()
    training = await runtime.training()
    learner = training.learner
    return web.json(
        {
            "model": served.model.name,
            "serving_version": served.version,
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
