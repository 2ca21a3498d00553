"""refresh_model: every process serves the newest version within
``model_refresh_interval_seconds``; watch_learner: the learner's heartbeat,
and every process's view of whether anyone learns."""

from __future__ import annotations

import logging
import time

from app import metrics, telemetry
from app.errors import StoreUnavailable
from app.runtime.readiness import HEARTBEAT_SECONDS, HEARTBEAT_TTL_SECONDS, LearnerWatch
from app.streams import app, runtime, settings
from app.training import refresh

log = logging.getLogger(__name__)
watch = LearnerWatch()


@app.timer(settings.model_refresh_interval_seconds)
async def refresh_model() -> None:
    served = await runtime.served()
    try:
        if await refresh(runtime.store, served):
            log.info("now serving %s version %d", served.model.name, served.version)
    except StoreUnavailable as exc:
        log.warning("model refresh skipped: %s", exc)
    telemetry.record_served(served)


@app.timer(HEARTBEAT_SECONDS)
async def watch_learner() -> None:
    learner = (await runtime.training()).learner if runtime.learning else None
    try:
        if learner is not None:
            await runtime.store.beat(runtime.owner, HEARTBEAT_TTL_SECONDS)
        owner, unreachable = await runtime.store.learner(), None
    except StoreUnavailable as exc:
        owner, unreachable = None, str(exc)
    metrics.learning_owned.set(owner is not None)
    if watch.observe(owner, time.monotonic(), unreachable):
        log.warning(
            "no process learns: nobody owns partition 0 of %s in group %s%s",
            settings.topic_training,
            f"{settings.app_id}-learner or {settings.app_id}",
            f" (Redis: {unreachable})" if unreachable else "",
        )


@app.timer(30.0)
async def measure_model() -> None:
    """The learner's model size, as River measures it (a walk of the model:
    not on every snapshot)."""
    learner = (await runtime.training()).learner if runtime.learning else None
    if learner is not None:
        model = learner.state.model
        metrics.model_memory.labels(model.name).set(model.pipeline._raw_memory_usage)
