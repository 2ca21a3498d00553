"""Watching for drift: the error stream's detections become drift events, and
closed feature windows are compared with their references.

The windows are kept in Redis by every process (see ``Store.put_pending``);
one process, the owner of the training partition, checks each closed window
once. Reference policy (``app.drift.check_window``): a subject's first window
with at least ``drift_min_events`` values is its reference; a drift clears
it, and the next full window becomes the new normal, so one shift raises one
alarm. References expire after ``REFERENCE_TTL_WINDOWS`` windows unchecked.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from app.drift import check_window
from app.errors import StoreUnavailable
from app.scoring import PREDICTION
from app.serving import ServedModel
from app.settings import Settings
from app.store import Store, Window
from schemas import DriftEvent

REFERENCE_TTL_WINDOWS = 1000


def window_id(settings: Settings, at: float) -> int:
    return math.floor(at / settings.drift_window_seconds)


def window_for(settings: Settings, at: float) -> Window:
    """Where a batch scored at ``at`` counts."""
    return Window(
        id=window_id(settings, at),
        ttl=math.ceil(3 * settings.drift_window_seconds) + 60,
        max_subjects=settings.drift_max_features + 1,  # and the predictions
        max_buckets=settings.drift_max_buckets,
    )


def error_drift_events(
    windows: list[tuple[int, int]], settings: Settings, served: ServedModel, at: datetime
) -> list[DriftEvent]:
    return [
        DriftEvent(
            kind="error",
            subject="error",
            detector=settings.drift_detector,
            window_start=start,
            window_end=end,
            model=served.model.name,
            model_version=served.version,
            at=at,
        )
        for start, end in windows
    ]


async def check_drift(
    store: Store, settings: Settings, served: ServedModel, now: float
) -> tuple[list[DriftEvent], dict[str, dict[str, Any]]] | None:
    """Compare the last closed window with the references, once per window
    across all processes: the drift events, and the statistic per subject;
    ``None`` if another process checked this window. The window is claimed
    only once it is read, and given back if its results cannot be written,
    so a Redis error leaves it to the next check instead of losing it."""
    closed = window_id(settings, now) - 1
    width = settings.drift_window_seconds
    if await store.drift_checked(closed):
        return None
    windows = await store.drift_windows(closed)
    events: list[DriftEvent] = []
    stats: dict[str, dict[str, Any]] = {}
    references: dict[str, tuple[dict[str, int], int]] = {}
    at = datetime.fromtimestamp(now, UTC)
    for subject, current in windows.current.items():
        reference = windows.reference.get(subject) or None
        check = check_window(
            reference,
            current,
            numeric=settings.drift_numeric_statistic,
            categorical=settings.drift_categorical_statistic,
            thresholds=settings.drift_thresholds,
            min_count=settings.drift_min_events,
        )
        ref_window = windows.reference_window.get(subject, closed)
        if check.reference is reference and reference:  # kept: refresh its time to live
            references[subject] = (dict(reference), ref_window)
        else:  # this window, or none after a drift
            references[subject] = (dict(check.reference), closed)
        if check.comparison is None:
            continue
        c = check.comparison
        threshold = settings.drift_thresholds[c.statistic]
        bounds = {
            "window_start": closed * width,
            "window_end": (closed + 1) * width,
            "reference_start": ref_window * width,
            "reference_end": (ref_window + 1) * width,
        }
        stats[subject] = {
            "statistic": c.statistic,
            "value": c.value,
            "threshold": threshold,
            "drifted": check.drifted,
            "reference_count": c.reference_count,
            "current_count": c.current_count,
            **bounds,
        }
        if check.drifted:
            events.append(
                DriftEvent(
                    kind="prediction" if subject == PREDICTION else "feature",
                    subject=subject,
                    detector=c.statistic,
                    statistic=c.value,
                    threshold=threshold,
                    model=served.model.name,
                    model_version=served.version,
                    at=at,
                    **bounds,
                )
            )
    if not await store.claim_drift_check(closed, math.ceil(10 * width) + 60):
        return None
    try:
        await store.save_drift(
            references,
            stats,
            [e.model_dump_json() for e in events],
            math.ceil(REFERENCE_TTL_WINDOWS * width),
        )
    except StoreUnavailable:
        await store.unclaim_drift_check(closed)
        raise
    return events, stats
