"""follow_versions: every process loads each new version as it is
announced (``refresh_model`` checks the head as well, every
``model_refresh_interval_seconds``, for what a lost connection missed);
watch_learner: the learner's heartbeat, and every process's view of
whether anyone learns."""

from __future__ import annotations

import asyncio
import logging
import time

from app import metrics, telemetry
from app.errors import StoreUnavailable
from app.runtime.readiness import HEARTBEAT_SECONDS, HEARTBEAT_TTL_SECONDS, LearnerWatch
from app.serving import ServedModel
from app.streams import app, runtime, settings
from app.training import refresh

log = logging.getLogger(__name__)
watch = LearnerWatch()


@app.task
async def follow_versions() -> None:
    """Load each version as the learner announces it."""
    served = await runtime.served()
    while True:
        try:
            async for version in runtime.store.announced(served.line):
                # None: (re)subscribed, and what was announced before unheard.
                if version is None or version > served.version:
                    await refresh_now(served)
        except StoreUnavailable as exc:
            log.warning("model announcements lost, subscribing again: %s", exc)
            await asyncio.sleep(1.0)


@app.timer(settings.model_refresh_interval_seconds)
async def refresh_model() -> None:
    await refresh_now(await runtime.served())


async def refresh_now(served: ServedModel) -> None:
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
