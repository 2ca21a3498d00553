"""Drift windows: each window's histograms per subject (features and the
predictions), the references they are compared with, the latest
statistics and drift events, and which windows were checked.

Keys (``P`` is ``EDDY_REDIS_PREFIX``):

==============================  =========================================
``P:drift:subjects``            the subjects watched (bounded)
``P:drift:win:<id>:<subject>``  a window's histogram of a subject
``P:drift:ref:<subject>``       its reference histogram
``P:drift:refwin``              the window each reference came from
``P:drift:checked:<id>``        set by the one process that checks a window
``P:drift:stats``               the latest statistic per subject
``P:drift:events``              the newest drift events
``P:drift:clock``               the scored stream's event time, per
                                partition (hash: ``t:<p>``, ``m:<p>`` the
                                wall time it last moved; ``first``)
``P:drift:checked-upto``        the last window judged
==============================  =========================================

On a Redis Cluster they are one group, ``P:{drift}:...``: one slot.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from app.errors import StoreUnavailable
from app.store.base import Keyspace

DRIFT_EVENTS_KEPT = 100
Counts = Mapping[str, Mapping[str, int]]
"""Drift histograms: ``{subject: {bucket: count}}``."""


@dataclass(frozen=True, slots=True)
class Window:
    """How a batch's histograms are kept in their drift windows."""

    ttl: int
    max_subjects: int
    max_buckets: int


@dataclass(frozen=True, slots=True)
class Clock:
    """The scored stream's event time, per partition of the features topic:
    the newest event time scored in it by any process, and the wall time it
    last moved; the first event time ever scored (None: nothing yet); and
    the last window judged."""

    partitions: dict[int, tuple[float, float]]
    """``{partition: (newest event time, wall time it moved)}``."""
    checked: int | None = None
    first: float | None = None


@dataclass(frozen=True, slots=True)
class DriftWindows:
    """What a drift check reads: per subject, the closed window's histogram,
    the reference histogram and the window the reference came from."""

    current: dict[str, dict[str, int]]
    reference: dict[str, dict[str, int]]
    reference_window: dict[str, int]


class DriftStore(Keyspace):
    def _queue_counts(
        self, pipe: Any, windows: Mapping[int, Counts], limits: Window, clocks: Mapping[int, float]
    ) -> None:
        """Queue the adding of a batch's histograms to their windows on
        ``pipe`` (a script call per window), and moving each partition's
        event-time clock: every key each touches declared."""
        for window, counts in windows.items():
            self._queue_window(pipe, window, counts, limits)
        if clocks:
            args: list[Any] = [time.time()]
            for partition, at in clocks.items():
                args += (partition, repr(at))
            self._eval(pipe, "clock", [self._in("drift", "clock")], args)

    def _queue_window(self, pipe: Any, window: int, counts: Counts, limits: Window) -> None:
        subjects = list(counts)
        keys = [self._in("drift", "subjects")]
        keys += [self._in("drift", "win", window, s) for s in subjects]
        args: list[str | int] = [limits.ttl, limits.max_subjects, limits.max_buckets]
        args += [len(subjects), *subjects]
        for j, hist in enumerate(counts.values(), 1):
            for name, n in hist.items():
                args += (j, name, n)
        self._eval(pipe, "count", keys, args)

    async def clock(self) -> Clock:
        """The scored stream's event time, and the last window judged."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self._in("drift", "clock"))
        pipe.get(self._in("drift", "checked-upto"))
        fields, checked = await self._call("clock", pipe.execute)
        found = {k.decode(): float(v) for k, v in cast(dict[bytes, bytes], fields).items()}
        partitions = {
            int(name[2:]): (at, found.get(f"m:{name[2:]}", at))
            for name, at in found.items()
            if name.startswith("t:")
        }
        return Clock(
            partitions,
            None if checked is None else int(checked),
            found.get("first"),
        )

    async def claim_drift_check(self, window: int, ttl: int) -> bool:
        """True for the one process that checks ``window``."""
        key = self._in("drift", "checked", window)
        return bool(
            await self._call("claim_drift_check", lambda: self._redis.set(key, 1, nx=True, ex=ttl))
        )

    async def drift_checked(self, window: int) -> bool:
        """Whether some process has checked ``window``."""
        key = self._in("drift", "checked", window)
        return bool(await self._call("drift_checked", lambda: self._redis.exists(key)))

    async def unclaim_drift_check(self, window: int) -> None:
        """Give ``window`` back to the next check (its results were not written)."""
        key = self._in("drift", "checked", window)
        # If this fails too, the window stays claimed, and is not judged.
        with contextlib.suppress(StoreUnavailable):
            await self._call("unclaim_drift_check", lambda: self._redis.delete(key))

    async def drift_windows(self, window: int) -> DriftWindows:
        subjects_key = self._in("drift", "subjects")
        raw = await self._call("drift_subjects", lambda: self._redis.smembers(subjects_key))
        subjects = sorted(s.decode() for s in cast(set[bytes], raw))
        pipe = self._redis.pipeline(transaction=False)
        for subject in subjects:
            pipe.hgetall(self._in("drift", "win", window, subject))
            pipe.hgetall(self._in("drift", "ref", subject))
        pipe.hgetall(self._in("drift", "refwin"))
        *hists, refwin = await self._call("drift_windows", pipe.execute)

        def decode(h: dict[bytes, bytes]) -> dict[str, int]:
            return {k.decode(): int(v) for k, v in h.items()}

        return DriftWindows(
            current={s: decode(hists[2 * i]) for i, s in enumerate(subjects)},
            reference={s: decode(hists[2 * i + 1]) for i, s in enumerate(subjects)},
            reference_window={k.decode(): int(v) for k, v in refwin.items()},
        )

    async def save_drift(
        self,
        references: dict[str, tuple[dict[str, int], int]],
        statistics: dict[str, dict[str, Any]],
        events: Sequence[str],
        ttl: int,
        window: int | None = None,
    ) -> None:
        """New references ``{subject: (histogram, window)}``, the latest
        statistics, and drift events (the newest ``DRIFT_EVENTS_KEPT`` are
        kept), and that ``window`` was judged (the last so far)."""
        pipe = self._redis.pipeline(transaction=True)
        if window is not None:
            pipe.set(self._in("drift", "checked-upto"), window)
        for subject, (hist, window) in references.items():
            key = self._in("drift", "ref", subject)
            pipe.delete(key)
            if hist:
                pipe.hset(key, mapping=cast(Any, hist))
                pipe.expire(key, ttl)
            pipe.hset(self._in("drift", "refwin"), subject, window)
        if statistics:
            pipe.hset(
                self._in("drift", "stats"),
                mapping={k: json.dumps(v) for k, v in statistics.items()},
            )
        if events:
            pipe.lpush(self._in("drift", "events"), *events)
            pipe.ltrim(self._in("drift", "events"), 0, DRIFT_EVENTS_KEPT - 1)
        await self._call("save_drift", pipe.execute)

    async def drift_status(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The latest statistics per subject, and the newest drift events."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self._in("drift", "stats"))
        pipe.lrange(self._in("drift", "events"), 0, -1)
        stats, events = await self._call("drift_status", pipe.execute)
        return (
            {k.decode(): json.loads(v) for k, v in stats.items()},
            [json.loads(e) for e in events],
        )
