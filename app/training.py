"""Model versions across processes: the one learner's loop, and every
process's refresh to the newest version.

The learner learns a batch, then writes a snapshot (model, quality, last
training offset) at most every ``snapshot_interval_seconds``. The Kafka
records behind a snapshot are acknowledged only once it is written, so the
committed offset never passes what a snapshot holds: a learner that restarts,
or the process that takes its partition over, loads the newest snapshot and
skips what it already holds. Nothing is lost, nothing learned twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from app import catalog, metrics
from app.errors import SnapshotConflict, StoreUnavailable
from app.learner import Learned, Learner, LearnerState, Record
from app.model import OnlineModel
from app.serving import ServedModel
from app.settings import Settings
from app.store import Store

log = logging.getLogger(__name__)

Ack = Callable[[], object]

LEARN_SLICE = 64
"""Labels learned between two turns of the event loop: a batch of 500 takes
River 30 to 50 ms, which scoring in the same process would wait out."""


def initial_state(settings: Settings) -> LearnerState:
    """The untrained model of version 0, with the learner's monitors."""
    model = OnlineModel(settings.model, catalog.build(settings.model))
    return LearnerState.fresh(model, settings.drift_detector, settings.quality_window)


async def bootstrap(store: Store, initial: LearnerState) -> ServedModel:
    """The newest version from Redis, or ``initial`` as version 0 if there is none."""
    name = initial.model.name
    snapshot = await store.load_snapshot(name)
    if snapshot is None:
        state = initial
        try:
            await store.save_snapshot(name, None, 0, state.dumps(), state.meta())
        except SnapshotConflict:
            snapshot = await store.load_snapshot(name)
        else:
            return ServedModel(state.model, 0)
    assert snapshot is not None
    return ServedModel(
        LearnerState.loads(snapshot.blob).model,
        snapshot.version,
        snapshot.meta.get("created_at", 0.0),
    )


async def refresh(store: Store, served: ServedModel) -> bool:
    """Serve the newest version if this process is behind; one round trip if not."""
    head = await store.head_version(served.model.name)
    if head is None or head <= served.version:
        return False
    snapshot = await store.load_snapshot(served.model.name, head)
    if snapshot is None:  # trimmed between the two calls: the next refresh gets it
        return False
    model = LearnerState.loads(snapshot.blob).model
    return served.swap(model, snapshot.version, snapshot.meta.get("created_at", 0.0))


class Training:
    """The learner's I/O: join labels in Redis, learn, snapshot, resume."""

    def __init__(self, store: Store, settings: Settings, served: ServedModel) -> None:
        self._store = store
        self._settings = settings
        self._served = served
        self._name = served.model.name
        self._learner: Learner | None = None
        self._acks: list[Ack] = []
        self._lock = asyncio.Lock()
        self._last_snapshot = time.monotonic()

    @property
    def learner(self) -> Learner | None:
        return self._learner

    async def learn(self, records: Sequence[Record], acks: Sequence[Ack]) -> Learned:
        """Learn a batch in order; its acks run once a snapshot holds it."""
        async with self._lock:
            learner = await self._current()
            learned = await self._learn(learner, records, retry=0)
            self._acks.extend(acks)
            if time.monotonic() - self._last_snapshot >= self._settings.snapshot_interval_seconds:
                try:
                    await self._snapshot(learner)
                except StoreUnavailable as exc:
                    log.warning("snapshot postponed: %s", exc)  # the timer tries again
                except SnapshotConflict:
                    pass  # logged; the next batch resumes from the newest snapshot
            return learned

    async def flush(self) -> Learned:
        """Retry waiting labels, and snapshot what was learned since the last
        snapshot (the timer's call)."""
        async with self._lock:
            learner = self._learner
            if learner is None:
                return Learned()
            learned = await self._retry(learner)
            if learner.dirty or self._acks:
                await self._snapshot(learner)
            return learned

    async def _retry(self, learner: Learner) -> Learned:
        """Retry the waiting labels a batch at a time, and go on while at
        least half of a batch is resolved: a backlog of labels that came
        before their features costs one batch of Redis claims per retry, not
        the whole backlog's, and is learned as fast as its features come."""
        learned = Learned()
        left = len(learner.state.waiting)
        while left > 0:
            size = min(left, self._settings.batch_max_events)
            before = len(learner.state.waiting)
            learned.add(await self._learn(learner, [], retry=size))
            left -= size
            if (before - len(learner.state.waiting)) * 2 < size:
                break
        return learned

    async def _learn(self, learner: Learner, records: Sequence[Record], *, retry: int) -> Learned:
        due = learner.due(records, retry=retry)
        claims = [(event.event_id, offset) for offset, event in due]
        joined = await self._store.join(claims, self._settings.pending_ttl_seconds)
        learned = Learned()
        now = time.time()
        for start in range(0, len(due), LEARN_SLICE):
            if start:
                await asyncio.sleep(0)  # let scoring in between slices
            end = start + LEARN_SLICE
            learned.add(
                learner.learn(
                    due[start:end],
                    joined[start:end],
                    max_delay=self._settings.label_max_delay,
                    wait=self._settings.label_wait_seconds,
                    now=now,
                )
            )
        return learned

    async def _current(self) -> Learner:
        # One learner owns the training partition at a time, but ownership
        # moves: whenever Redis holds a newer version than ours, resume from it.
        head = await self._store.head_version(self._name)
        learner = self._learner
        if learner is not None and learner.version == head:
            return learner
        snapshot = await self._store.load_snapshot(self._name, head)
        if snapshot is None:
            raise SnapshotConflict(f"{self._name}: snapshot {head} is missing")
        learner = Learner(LearnerState.loads(snapshot.blob), snapshot.version)
        log.info(
            "learner resumes from %s version %d (offset %d, %d learned)",
            self._name,
            learner.version,
            learner.state.offset,
            learner.state.learned,
        )
        self._learner = learner
        self._acks.clear()
        return learner

    async def _snapshot(self, learner: Learner) -> None:
        version = learner.version + 1
        blob = learner.state.dumps()
        try:
            await self._store.save_snapshot(
                self._name, learner.version, version, blob, learner.state.meta()
            )
        except SnapshotConflict:
            # Another process learns now: forget our copy and what it held;
            # Kafka redelivers the unacknowledged records to the new owner.
            metrics.snapshot_conflicts.labels(self._name).inc()
            log.warning(
                "%s: another process wrote a newer version; resyncing. If this repeats, two "
                "processes learn at once: is an EDDY_ROLE=all process running next to a "
                "learner?",
                self._name,
            )
            self._learner = None
            self._acks.clear()
            raise
        learner.version, learner.dirty = version, False
        self._last_snapshot = time.monotonic()
        # The served copy is the model alone: the state may hold thousands
        # of waiting labels that serving does not need to unpickle.
        self._served.swap(learner.state.model.copy(), version, time.time())
        acks, self._acks = self._acks, []
        for ack in acks:
            ack()
