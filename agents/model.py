"""refresh_model: every process serves the newest version within
``model_refresh_interval_seconds``."""

from __future__ import annotations

import logging

from app import metrics, telemetry
from app.errors import StoreUnavailable
from app.streams import app, runtime, settings
from app.training import refresh

log = logging.getLogger(__name__)


@app.timer(settings.model_refresh_interval_seconds)
async def refresh_model() -> None:
    served = await runtime.served()
    try:
        if await refresh(runtime.store, served):
            log.info("now serving %s version %d", served.model.name, served.version)
    except StoreUnavailable as exc:
        log.warning("model refresh skipped: %s", exc)
    telemetry.record_served(served)


@app.timer(30.0)
async def measure_model() -> None:
    """The learner's model size, as River measures it (a walk of the model:
    not on every snapshot)."""
    learner = (await runtime.training()).learner
    if learner is not None:
        model = learner.state.model
        metrics.model_memory.labels(model.name).set(model.pipeline._raw_memory_usage)
