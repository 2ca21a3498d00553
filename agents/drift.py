"""check_feature_drift: the training partition's owner compares each closed
drift window with its reference and publishes what drifted."""

from __future__ import annotations

import logging
import time

from app import metrics, telemetry
from app.errors import StoreUnavailable
from app.runtime.publish import publish
from app.streams import app, runtime, settings, topics
from app.watch import check_drift
from schemas import DriftEvent

log = logging.getLogger(__name__)


@app.timer(min(max(settings.drift_window_seconds / 4, 0.25), 5.0))
async def check_feature_drift() -> None:
    # At most every 5 s: in event time, a replayed backlog closes windows
    # far faster than the wall clock would (a check with none due is one
    # round trip).
    if not runtime.learning:
        return
    served = await runtime.served()
    try:
        checked = await check_drift(runtime.store, settings, served, time.time())
    except StoreUnavailable as exc:
        log.warning("drift check skipped: %s", exc)
        return
    if checked is None:
        return
    await announce(*checked)


async def announce(
    events: list[DriftEvent], statistics: dict[str, dict[str, object]] | None = None
) -> None:
    """Every drift event: logged, published to the drift topic, counted."""
    for e in events:
        if e.kind == "error":
            log.warning(
                "drift in the error stream (%s, labels %d to %d)",
                e.detector,
                e.window_start,
                e.window_end,
            )
        else:
            log.warning(
                "drift in %s %s (%s %.3g over %.3g, window %s to %s)",
                e.kind,
                e.subject,
                e.detector,
                e.statistic,
                e.threshold,
                e.window_start,
                e.window_end,
            )
    await publish(topics.drift, ((e.subject, e) for e in events))
    telemetry.record_drift(events, statistics or {})


@app.timer(30.0)
async def count_pending() -> None:
    if not runtime.learning:
        return
    try:
        metrics.pending_events.set(await runtime.store.count_pending(settings.pending_ttl_seconds))
    except StoreUnavailable as exc:
        log.warning("pending count skipped: %s", exc)
