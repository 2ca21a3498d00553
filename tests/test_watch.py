"""Drift checks of closed windows, against the real Redis."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable

import pytest

from app import catalog
from app.drift import histogram, window_of
from app.errors import StoreUnavailable
from app.model import Features, OnlineModel
from app.serving import ServedModel
from app.settings import Settings
from app.store import Store
from app.watch import check_drift, window_limits

pytestmark = pytest.mark.integration


async def fill(store: Store, settings: Settings, at: float, mean: float, n: int = 300) -> None:
    """``n`` values of ``x`` in the window of event time ``at``, the
    stream's clock moved to ``at``."""
    rng = random.Random(int(at))
    rows: list[Features] = [{"x": rng.gauss(mean, 1)} for _ in range(n)]
    counts: dict[str, Counter[str]] = histogram(rows)
    window = window_of(at, settings.drift_window_seconds)
    await store.put_pending([], 60, {window: counts}, window_limits(settings), {0: at})


async def test_a_window_whose_results_were_not_written_is_checked_again(
    store: Store, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        drift_window_seconds=10, drift_min_events=100, allowed_lateness_seconds=0
    )
    served = ServedModel(OnlineModel(settings.model, catalog.build(settings.model)), 0)
    await fill(store, settings, 1_000_005, 0.0)  # the reference window
    assert await check_drift(store, settings, served, 1_000_015) is None  # still open
    await fill(store, settings, 1_000_015, 3.0)  # a shifted window: the first one closes
    assert await check_drift(store, settings, served, 1_000_015) == ([], {})
    await fill(store, settings, 1_000_025, 3.0)  # the shifted one closes
    save = store.save_drift

    async def redis_gone(*args: object) -> None:
        raise StoreUnavailable("redis save_drift failed")

    monkeypatch.setattr(store, "save_drift", redis_gone)
    with pytest.raises(StoreUnavailable):
        await check_drift(store, settings, served, 1_000_025)
    monkeypatch.setattr(store, "save_drift", save)
    # The window was given back: the next check judges it, and finds the shift.
    checked = await check_drift(store, settings, served, 1_000_026)
    assert checked is not None
    events, _ = checked
    assert [e.subject for e in events] == ["x"]
    # Once written, it is checked once only.
    assert await check_drift(store, settings, served, 1_000_027) is None


async def test_windows_are_in_event_time_and_a_replayed_hour_is_judged_window_by_window(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        drift_window_seconds=60, drift_min_events=100, allowed_lateness_seconds=30
    )
    served = ServedModel(OnlineModel(settings.model, catalog.build(settings.model)), 0)
    start = 1_800_000_000.0  # an hour of stationary events, replayed now, in seconds
    for minute in range(60):
        await fill(store, settings, start + 60 * minute + 30, 0.0, n=200)
    now = time.time()
    checked = await check_drift(store, settings, served, now)
    assert checked is not None
    events, stats = checked
    assert events == []  # stationary: judged as it happened, no alarm
    # Judged up to the watermark (the clock, 30 s of lateness behind): the
    # last window is still open, every one before it closed, in order.
    clock = await store.clock()
    assert clock.checked == window_of(start, 60) + 58
    assert stats["x"]["window_start"] == start + 58 * 60
    assert await check_drift(store, settings, served, now) is None  # once each
    # While nothing more comes, the clock runs on with the wall clock: the
    # last window closes once its lateness has passed.
    assert await check_drift(store, settings, served, now + 61) is not None
    assert (await store.clock()).checked == window_of(start, 60) + 59


async def test_a_shift_in_a_replayed_hour_is_found_in_its_own_window(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        drift_window_seconds=60, drift_min_events=100, allowed_lateness_seconds=0
    )
    served = ServedModel(OnlineModel(settings.model, catalog.build(settings.model)), 0)
    start = 1_800_000_000.0
    for minute in range(10):
        await fill(store, settings, start + 60 * minute + 30, 0.0 if minute < 6 else 3.0)
    checked = await check_drift(store, settings, served, time.time())
    assert checked is not None
    events, _ = checked
    assert [(e.subject, e.window_start) for e in events] == [("x", start + 6 * 60)]
