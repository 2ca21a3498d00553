"""The HTTP API of every process: /ready, /status, /model, /metrics, /drift."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agents.model import watch
from app import metrics
from app.explain import describe
from app.runtime.internals import assignment, joined, lag
from app.runtime.readiness import Facts, reasons
from app.streams import app, runtime, settings


@app.page("/ready")
async def ready(web: Any, request: Any) -> Any:
    """200 when this process is ready, else 503 with the reasons."""
    why = reasons(
        Facts(
            model_loaded=runtime.loaded,
            joined=joined(app),
            stopping=bool(app.should_stop),
            learner=watch.learner,
            unreachable=watch.unreachable,
        )
    )
    body = {"ready": not why, "reasons": why, "learner": watch.learner}
    return web.json(body, status=503 if why else 200)


@app.page("/status")
async def status(web: Any, request: Any) -> Any:
    """What this process serves, which partitions it owns, and what its
    learner knows (when it is the learner)."""
    served = await runtime.served()
    learner = (await runtime.training()).learner if runtime.learning else None
    partitions: defaultdict[str, list[int]] = defaultdict(list)
    for tp in assignment(app):
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


@app.page("/model")
async def model(web: Any, request: Any) -> Any:
    """A plain description of the model this process serves."""
    served = await runtime.served()
    return web.json(
        {
            "version": served.version,
            "learned": served.learned,
            "live": served.live,
            **describe(served.model),
        }
    )


@app.page("/metrics")
async def prometheus(web: Any, request: Any) -> Any:
    """Prometheus metrics of this process."""
    for (topic, partition), behind in lag(app).items():
        metrics.consumer_lag.labels(topic, str(partition)).set(behind)
    return web.bytes(metrics.exposition(), content_type="text/plain; version=0.0.4")


@app.page("/drift")
async def drift(web: Any, request: Any) -> Any:
    """The latest window statistics per feature, and the newest drift events."""
    statistics, events = await runtime.store.drift_status()
    return web.json({"statistics": statistics, "events": events})
