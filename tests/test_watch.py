"""Drift checks of closed windows, against the real Redis."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest

from app import catalog
from app.drift import histogram
from app.errors import StoreUnavailable
from app.model import Features, OnlineModel
from app.serving import ServedModel
from app.settings import Settings
from app.store import Store
from app.watch import check_drift, window_for

pytestmark = pytest.mark.integration


async def fill(store: Store, settings: Settings, at: float, mean: float, n: int = 300) -> None:
    rng = random.Random(int(at))
    rows: list[Features] = [{"x": rng.gauss(mean, 1)} for _ in range(n)]
    counts: dict[str, Counter[str]] = histogram(rows)
    await store.put_pending([], 60, counts, window_for(settings, at))


async def test_a_window_whose_results_were_not_written_is_checked_again(
    store: Store, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(drift_window_seconds=10, drift_min_events=100)
    served = ServedModel(OnlineModel(settings.model, catalog.build(settings.model)), 0)
    await fill(store, settings, 1_000_005, 0.0)  # the reference window
    assert await check_drift(store, settings, served, 1_000_015) == ([], {})
    await fill(store, settings, 1_000_015, 3.0)  # a shifted window
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
