"""Watching for drift: the error stream's detections become drift events, and
closed feature windows are compared with their references.

Windows are in event time: each event counts in the window of its
``occurred_at`` (or its Kafka timestamp), so a backlog replayed in seconds
is judged as it happened. The windows are kept in Redis by every process
(see ``Store.put_pending``), with the stream's event-time clock per
partition of the features topic (the newest event time scored in it). A
window closes once every partition's clock has passed its end by
``EDDY_ALLOWED_LATENESS_SECONDS`` (the watermark): a partition behind the
others (a replay drains them unevenly) holds it back. While a partition has
nothing new, its clock runs on with the wall clock from when it last moved,
so the last windows of a quiet stream close too. One process, the owner of the training
partition, checks each closed window once, in order. Reference policy
(``app.drift.check_window``): a subject's first window with at least
``drift_min_events`` values is its reference; a drift clears it, and the
next full window becomes the new normal, so one shift raises one alarm.
References expire after ``REFERENCE_TTL_WINDOWS`` windows unchecked.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from app import metrics
from app.drift import check_window, window_of
from app.errors import StoreUnavailable
from app.scoring import PREDICTION
from app.serving import ServedModel
from app.settings import Settings
from app.store import Clock, Store, Window
from schemas import DriftEvent

REFERENCE_TTL_WINDOWS = 1000


MAX_CATCH_UP = 1000
"""Most windows one check judges (a replay may close many at once): the
next check goes on from there."""


def window_limits(settings: Settings) -> Window:
    """How long a window's histograms are kept (until well after its
    watermark passes) and how many subjects and buckets each may hold."""
    width = settings.drift_window_seconds
    return Window(
        ttl=math.ceil(3 * width + settings.allowed_lateness_seconds) + 60,
        max_subjects=settings.drift_max_features + 1,  # and the predictions
        max_buckets=settings.drift_max_buckets,
    )


def watermark(clock: Clock, settings: Settings, now: float) -> float | None:
    """The event time up to which every window is complete: the clock of
    the partition furthest behind (each run on with the wall clock since it
    last moved: a partition with nothing new holds nothing back for long)
    less the allowed lateness. None before anything is scored.

    >>> s = Settings(allowed_lateness_seconds=10)
    >>> watermark(Clock({0: (1000.0, 5000.0), 1: (1500.0, 5002.0)}), s, now=5002.0)
    992.0
    """
    if not clock.partitions:
        return None
    behind = min(at + max(now - moved, 0.0) for at, moved in clock.partitions.values())
    return behind - settings.allowed_lateness_seconds


def due_windows(clock: Clock, settings: Settings, now: float) -> list[int]:
    """The closed windows not judged yet, oldest first (at most
    ``MAX_CATCH_UP``): from the one after the last judged (on a first
    check, the clock's first window) to the last closed one.

    >>> s = Settings(drift_window_seconds=60, allowed_lateness_seconds=0)
    >>> due_windows(Clock({0: (600.0, 0.0)}, checked=7), s, now=0.0)
    [8, 9]
    """
    mark = watermark(clock, settings, now)
    if mark is None:
        return []
    width = settings.drift_window_seconds
    last = window_of(mark, width) - 1
    if clock.checked is not None:
        first = clock.checked + 1
    else:
        first = last if clock.first is None else window_of(clock.first, width)
    return list(range(first, min(last, first + MAX_CATCH_UP - 1) + 1))


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
    """Judge every closed window not judged yet, in order: the drift events,
    and the statistics per subject of the last window judged; ``None`` if
    there was none to judge."""
    checked = None
    events: list[DriftEvent] = []
    for window in due_windows(await store.clock(), settings, now):
        found = await check_window_once(store, settings, served, window, now)
        if found is not None:
            events += found[0]
            checked = found[1]
    return None if checked is None else (events, checked)


async def check_window_once(
    store: Store, settings: Settings, served: ServedModel, closed: int, now: float
) -> tuple[list[DriftEvent], dict[str, dict[str, Any]]] | None:
    """Compare the window ``closed`` with the references, once across all
    processes: the drift events, and the statistic per subject; ``None`` if
    another process checked it. The window is claimed only once it is
    read, and given back if its results cannot be written, so a Redis error
    leaves it to the next check instead of losing it."""
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
            closed,
        )
    except StoreUnavailable:
        await store.unclaim_drift_check(closed)
        raise
    metrics.drift_windows_judged.inc()
    return events, stats
