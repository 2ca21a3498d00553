"""Model versions across processes: the one learner's loop, its hand-over,
and every process's refresh to the newest version.

The learner learns a batch, then writes a snapshot (model, quality, last
training offset, labels waiting for their features) at most every
``snapshot_interval_seconds``. The Kafka records behind a snapshot are
acknowledged only once it is written, so the committed offset never passes
what a snapshot holds.

Ownership follows the training partition. On assignment the new owner loads
the newest snapshot at once (so labels waiting in it are retried without
waiting for a new one); at revocation the owner writes a last snapshot and
stops. Versions form one line: a snapshot is written only on top of the
version it started from (compare-and-set). When the head is not ours:

- a newer version (another process learned meanwhile): load it, and learn
  again on top of it what we learned since our last snapshot, which Kafka
  will not redeliver to us; the records it already holds are skipped by
  offset. Nothing is lost, nothing learned twice.
- no version, or an older one (Redis lost its data): our model is the
  newest there is; write it back as the next version.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar, overload

from app import metrics, telemetry
from app.control import NEW_MODEL, Command, apply
from app.errors import BadSnapshot, CommandRefused, SnapshotConflict, StoreUnavailable
from app.learner import Learned, Learner, LearnerState, Record, build, load_shadows
from app.model import OnlineModel
from app.serving import ServedModel
from app.settings import Settings
from app.store import Snapshot, Store
from app.watch import watermark
from schemas import ModelAction, ModelEvent, TrainingEvent

log = logging.getLogger(__name__)


class Receipt(Protocol):
    """The Kafka records behind a batch: acknowledged once a snapshot holds
    what they taught, or given back for the next owner to read again."""

    def ack(self) -> None: ...

    def forget(self) -> None: ...


class NoReceipt:
    """For records that come from no consumer (a replay)."""

    def ack(self) -> None:
        pass

    def forget(self) -> None:
        pass


AHEAD_MAX = 4096
"""Most training records a learner holds ahead of its next offset, for the
training topic to fill the gap before them (``Training.learn_ahead``)."""

LEARN_SLICE = 64
"""Labels learned between two turns of the event loop: a batch of 500 takes
River 30 to 50 ms, which scoring in the same process would wait out."""


def initial_state(settings: Settings) -> LearnerState:
    """The untrained model of version 0, with the learner's monitors."""
    model = build(settings.model, settings)
    return LearnerState.fresh(model, settings.drift_detector, settings.quality_window)


async def newest_state(
    store: Store, name: str, head: int | None, history: int
) -> tuple[LearnerState, Snapshot] | None:
    """The newest snapshot that loads, from ``head`` down the kept history,
    and its state. Unreadable ones are refused and counted."""
    return await _newest(store, name, head, history, True, lambda s: served_model(s, True))


Shadows = dict[str, OnlineModel]


async def newest_model(
    store: Store, name: str, head: int | None, history: int
) -> tuple[tuple[OnlineModel, Shadows], Snapshot] | None:
    """The newest snapshot whose model loads (the model alone, as serving
    needs it, and its challengers to score in shadow), and those models."""
    return await _newest(
        store, name, head, history, False, lambda s: (served_model(s, False), shadows_of(s))
    )


T = TypeVar("T")


async def _newest(
    store: Store,
    name: str,
    head: int | None,
    history: int,
    state: bool,
    load: Callable[[Snapshot], T],
) -> tuple[T, Snapshot] | None:
    if head is None:
        return None
    for version in range(head, max(head - history, -1), -1):
        snapshot = await store.load_snapshot(name, version, state=state)
        if snapshot is None:
            continue
        try:
            return load(snapshot), snapshot
        except BadSnapshot as exc:
            refused(name, version, exc)
    return None


@overload
def served_model(snapshot: Snapshot, state: Literal[True]) -> LearnerState: ...
@overload
def served_model(snapshot: Snapshot, state: Literal[False]) -> OnlineModel: ...
def served_model(snapshot: Snapshot, state: bool) -> LearnerState | OnlineModel:
    """The learner's state in ``snapshot``, or just its model; ``BadSnapshot``
    if it does not load."""
    if snapshot.refusal is not None:
        raise snapshot.refusal
    if state:
        return LearnerState.loads(snapshot.blob, snapshot.model, snapshot.shadow)
    if snapshot.model is None:  # written before the model was kept apart
        return LearnerState.loads(snapshot.blob).model
    return OnlineModel.loads(snapshot.model)


def shadows_of(snapshot: Snapshot) -> Shadows:
    """The challengers' models in ``snapshot`` (none if it has none, or was
    read without them); ``BadSnapshot`` if they do not load."""
    if snapshot.refusal is not None:
        raise snapshot.refusal
    return load_shadows(snapshot.shadow) if snapshot.shadow else {}


def refused(name: str, version: int, error: BadSnapshot) -> None:
    metrics.snapshots_refused.labels(name, error.reason).inc()
    log.error("%s version %d refused (%s): %s", name, version, error.reason, error)


async def bootstrap(store: Store, initial: LearnerState, history: int = 10) -> ServedModel:
    """The newest readable version from Redis, or ``initial`` as version 0 if
    there is none. Serving never writes: only the learner makes versions."""
    name = initial.model.name
    found = await newest_model(store, name, await store.head_version(name), history)
    if found is None:
        return ServedModel(initial.model, 0, line=name)
    (model, shadows), snapshot = found
    meta = snapshot.meta
    created = float(meta.get("created_at", 0.0))
    learned = meta.get("learned", 0)
    return ServedModel(
        model, snapshot.version, created, learned=learned, line=name, shadows=shadows
    )


async def refresh(store: Store, served: ServedModel) -> bool:
    """Serve the head version if this process does not; one round trip if it
    does. Only the model is loaded, not the learner's state. A snapshot that
    does not load is refused once, and the version in hand kept. A head
    older than the served version means the line was lost (Redis lost its
    data while no learner held the model): the head is what every
    prediction must name, so it is served."""
    if served.live:  # the learner's own model: newer than any version
        return False
    name = served.line
    head = await store.head_version(name)
    if head is None or head == served.version or head == served.refused:
        return False
    snapshot = await store.load_snapshot(name, head, state=False)
    if snapshot is None:  # trimmed between the two calls: the next refresh gets it
        return False
    try:
        model, shadows = served_model(snapshot, False), shadows_of(snapshot)
    except BadSnapshot as exc:
        served.refused = head
        refused(name, head, exc)
        return False
    previous = served.version
    if head < previous:
        log.warning("%s: versions went back from %d to %d", name, previous, head)
    swapped = served.swap(
        model,
        head,
        snapshot.meta.get("created_at", 0.0),
        learned=snapshot.meta.get("learned", 0),
        reset=head < served.version,
        shadows=shadows,
    )
    if swapped:
        now = time.time()
        skipped = await store.versions(name, previous + 1, head - 1) if head > previous + 1 else []
        for meta in [*skipped, snapshot.meta]:
            telemetry.record_version_served(meta.get("labels_at"), now)
    return swapped


class Training:
    """The learner's I/O: own the learning, join labels in Redis, learn,
    snapshot, resume, hand over."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        served: ServedModel,
        owns: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._settings = settings
        self._served = served
        self._name = served.line
        self._owns = owns
        """Whether this process holds the training partition (its consumer says)."""
        self._learner: Learner | None = None
        self._receipts: list[Receipt] = []
        self._unsaved: list[Record] = []
        """Records learned since the last snapshot: learned again on top of
        a newer version if another process wrote one meanwhile."""
        self._lock = asyncio.Lock()
        self._last_snapshot = time.monotonic()
        self._retry_pays = True
        """Whether the last retry of waiting labels resolved half of them."""
        self._labels_at: list[float] = []
        """First and last arrival, and count, of the labels learned since
        the last snapshot (``[]``: none): how other processes measure how
        soon they serve them."""
        self._ahead: dict[int, TrainingEvent] = {}
        """Records published here, by offset, not learned yet: past a gap
        (a record from another process, or one dropped on the way), held
        until the training topic brings the records before them."""

    @property
    def learner(self) -> Learner | None:
        """The learner, while this process owns the learning."""
        return self._learner if self._owns() else None

    async def acquire(self) -> None:
        """This process now owns the learning: load the newest version now,
        so labels waiting in it are retried at the next flush."""
        async with self._lock:
            if self._owns():
                await self._current()

    async def release(self) -> None:
        """This process no longer owns the learning (the caller stopped
        owning first): write what it learned, acknowledge it, and let go of
        the learner (it comes back from Redis if the partition does). What
        cannot be written is forgotten; Kafka gives its records to the next
        owner."""
        async with self._lock:
            learner = self._learner
            try:
                if learner is not None and (learner.dirty or self._receipts):
                    await self._snapshot(learner, learner.version)
            except (StoreUnavailable, SnapshotConflict) as exc:
                log.warning("last snapshot before hand-over not written: %s", exc)
            finally:
                self._abandon()

    def _abandon(self) -> None:
        """Forget the learner and what it holds unwritten. Its records are
        given back, not acknowledged: the next owner of the partition reads
        them again."""
        self._learner = None
        self._served.detach()
        receipts, self._receipts = self._receipts, []
        for receipt in receipts:
            receipt.forget()
        self._unsaved.clear()
        self._labels_at = []
        self._ahead.clear()

    async def _snapshot_if_owned(self, learner: Learner) -> bool:
        """Snapshot, unless the partition was revoked meanwhile: then only
        ``release`` writes (within the revocation's bound), and a learner that
        outlived it is forgotten. Whether this process still learns."""
        if not self._owns():
            self._abandon()
            return False
        await self._snapshot(learner, learner.version)
        return True

    async def learn(self, records: Sequence[Record], receipt: Receipt) -> Learned:
        """Learn a batch in order; its receipt is acknowledged once a snapshot
        holds it. If this process does not own the learning (any more), the
        batch is given back for the owner."""
        async with self._lock:
            if not self._owns():
                receipt.forget()
                return Learned()
            learner = self._learner
            if learner is not None and not learner.unseen(records) and not learner.state.waiting:
                # All learned ahead (``learn_ahead``): acknowledged by the
                # next snapshot, which the timer writes.
                self._receipts.append(receipt)
                return Learned()
            learner = await self._current()
            learned = await self._learn_batch(learner, learner.unseen(records), receipt)
            if self._ahead and self._learner is learner:
                # Held past a gap the topic has just filled: on from here.
                for offset, _ in records:
                    self._ahead.pop(offset, None)
                learned.add(await self._take_ahead(learner))
            return learned

    async def learn_ahead(self, records: Sequence[Record], stored: int = 0) -> Learned:
        """Learn records this process has just published to the training
        topic (acknowledged by the broker, at these offsets) before they come
        back from it: the learner's own process then serves them a broker
        round trip and a fetch sooner. ``stored``: features of that many
        events were just stored by this process, so as many labels waiting
        for their features are tried again now, not at the next timer.

        Records are taken only from the learner's next offset on, and only as
        far as the offsets follow one another. Past a gap (a record from
        another process in between, records the learner has not reached, a
        batch dropped on the way) they are held, up to ``AHEAD_MAX``, and
        taken as soon as the training topic has brought the records before
        them: one gap does not send every later label the long way round.
        The topic skips by offset what was learned here (nothing learned
        twice, nothing passed over). Nothing is acknowledged here: the
        topic's records are, by the snapshot that holds them, as always.
        """
        async with self._lock:
            learner = self._learner
            if not self._owns() or learner is None:
                return Learned()
            # Not checked against the head version in Redis (a round trip per
            # call): the topic's batches and the timer do, and a snapshot is
            # written only on top of the version it started from.
            learned = Learned()
            if stored and learner.state.waiting:
                learned.add(await self._retry_once(learner, stored))
            offset = learner.state.offset
            self._ahead.update((o, event) for o, event in records if o > offset)
            learned.add(await self._take_ahead(learner))
            return learned

    async def _take_ahead(self, learner: Learner) -> Learned:
        """Learn the held records that follow the learner's offset, the lock
        held (waiting labels are not retried here: stored features, the
        topic's batches and the timer do). Past ``AHEAD_MAX`` held, the
        oldest go: the topic brings them."""
        ahead = self._ahead
        start = learner.state.offset + 1
        follow: list[Record] = []
        while (event := ahead.pop(start + len(follow), None)) is not None:
            follow.append((start + len(follow), event))
        if len(ahead) > AHEAD_MAX:
            for o in sorted(ahead)[: len(ahead) - AHEAD_MAX // 2]:
                del ahead[o]
        if not follow:
            return Learned()
        metrics.labels_ahead.inc(len(follow))
        return await self._learn_batch(learner, follow, NoReceipt(), retry=False)

    @property
    def waiting(self) -> int:
        """Labels the learner holds, waiting for their features."""
        learner = self._learner
        return len(learner.state.waiting) if learner is not None else 0

    async def _learn_batch(
        self, learner: Learner, new: Sequence[Record], receipt: Receipt, *, retry: bool = True
    ) -> Learned:
        """``learn``'s work, the lock held (``retry``: unless the caller has
        just retried the waiting labels)."""
        learned = Learned()
        if retry and learner.state.waiting and self._retry_pays:
            # Labels that came just before their features (a label
            # right behind its event) are learned at the next batch,
            # not at the next timer.
            learned.add(await self._retry_once(learner))
        learned.add(await self._learn(learner, new, retry=0))
        self._unsaved.extend(new)
        self._receipts.append(receipt)
        if not self._owns():  # revoked while learning: release did not get the lock
            self._abandon()
        elif learned.resets or learned.challenges:
            await self._drift_version(learner, learned)
        elif (earned := learner.earned()) is not None:
            await self._promotion(learner, learned, earned)
        elif time.monotonic() - self._last_snapshot >= self._settings.snapshot_interval_seconds:
            try:
                await self._snapshot(learner, learner.version)
            except StoreUnavailable as exc:
                log.warning("snapshot postponed: %s", exc)  # the timer tries again
            except SnapshotConflict:
                pass  # logged; the next batch resolves it
        return learned

    async def skip(self, records: Sequence[Record], receipt: Receipt) -> None:
        """Give up on records that could not be learned (dead-lettered by the
        caller): acknowledged with the next snapshot, never tried again. If
        this process does not own the learning, they are given back."""
        async with self._lock:
            if not self._owns():
                receipt.forget()
                return
            learner = await self._current()
            learner.skip(records)
            self._receipts.append(receipt)

    async def flush(self) -> Learned:
        """Retry waiting labels, and snapshot what was learned since the last
        snapshot (the timer's call)."""
        async with self._lock:
            if not self._owns():
                return Learned()
            learner = await self._current()
            learned = await self._retry(learner)
            if (learned.resets or learned.challenges) and self._owns():
                await self._drift_version(learner, learned)
            elif self._owns() and (earned := learner.earned()) is not None:
                await self._promotion(learner, learned, earned)
            elif learner.dirty or self._receipts:
                await self._snapshot_if_owned(learner)
            return learned

    async def _promotion(self, learner: Learner, learned: Learned, name: str) -> None:
        """The challenger ``name`` earned the champion's place: promote it,
        as a version with the test's figures for its reason."""
        state = learner.state
        old, test = state.model.name, state.challengers[name].test
        alpha = learner.rules.alpha
        reason = (
            f"{name} beat {old}: lower loss on {test.better} labels, higher on "
            f"{test.worse}, of {test.compared} compared (sequential test, alpha {alpha})"
        )
        learner.promote(name)
        now = datetime.now(UTC)
        event = ModelEvent(
            model=self._name,
            version=learner.version + 1,
            action=ModelAction.PROMOTE,
            champion=state.model.name,
            reason=reason,
            requested_at=now,
            at=now,
        )
        await self._write_event(learner, learned, event)

    async def _write_event(self, learner: Learner, learned: Learned, event: ModelEvent) -> None:
        """Write a version for ``event`` now; if Redis cannot take it, the
        next snapshot holds the change (without its event)."""
        try:
            await self._snapshot(learner, learner.version, event)
        except StoreUnavailable as exc:
            log.warning("%s version postponed: %s", event.action.value, exc)
            return
        except SnapshotConflict:
            return  # logged; the next batch resolves it
        log.warning("%s version %d: %s", self._name, event.version, event.reason)
        learned.events.append(event)

    async def _drift_version(self, learner: Learner, learned: Learned) -> None:
        """Write what a drift policy did (a reset, or a challenger started)
        as a version with its reason (the batch's last, if it had several)."""
        if learned.resets:
            action, (first, last, warmed) = ModelAction.RESET, learned.resets[-1]
            did = f"a fresh {learner.state.model.name} warmed on the last {warmed} labels"
        else:
            action, (first, last, warmed) = ModelAction.CHALLENGE, learned.challenges[-1]
            did = (
                f"a fresh {learner.drift_challenger} warmed on the last {warmed} labels "
                "challenges the champion"
            )
        now = datetime.now(UTC)
        event = ModelEvent(
            model=self._name,
            version=learner.version + 1,
            action=action,
            reason=f"error drift over labels {first} to {last}: {did}",
            requested_at=now,
            at=now,
        )
        await self._write_event(learner, learned, event)

    async def obey(self) -> list[ModelEvent]:
        """Carry out the operators' commands queued for the learner, in
        order, each as a new version; what each did, or why it was refused,
        is left for whoever sent it."""
        async with self._lock:
            events: list[ModelEvent] = []
            while self._owns():
                raw = await self._store.next_command(self._name)
                if raw is None:
                    break
                try:
                    events.append(await self._obey(raw))
                except CommandRefused as exc:
                    log.warning("%s: command %s refused: %s", self._name, raw, exc)
                    await self._store.command_done(
                        self._name, str(raw.get("id")), {"done": False, "error": str(exc)}
                    )
            return events

    async def _obey(self, raw: dict[str, Any]) -> ModelEvent:
        command = Command.parse(raw)
        learner = await self._current()
        model = None
        if command.version is not None:
            snapshot = await self._store.load_snapshot(
                self._name, command.version, state=False, shadow=False
            )
            try:
                model = None if snapshot is None else served_model(snapshot, False)
            except BadSnapshot as exc:
                raise CommandRefused(f"version {command.version} does not load: {exc}") from exc
        state = learner.state
        restore = learner.saved()
        if command.action is ModelAction.PROMOTE:
            assert command.challenger is not None
            old = state.model.name
            learner.promote(command.challenger)
            reason = f"{command.challenger} promoted by hand over {old}"
        else:
            reason = apply(command, state, model)
        event = ModelEvent(
            model=self._name,
            version=learner.version + 1,
            action=command.action,
            source_version=command.version,
            champion=state.model.name,
            reason=reason,
            requested_at=datetime.fromtimestamp(command.requested_at, UTC),
            at=datetime.now(UTC),
        )
        try:
            await self._snapshot(learner, learner.version, event)
        except (StoreUnavailable, SnapshotConflict):
            # Not carried out: the state as it was, the command back in front.
            restore()
            await self._store.retake_command(self._name, raw)
            raise
        log.warning("%s version %d: %s", self._name, event.version, reason)
        await self._store.command_done(
            self._name, command.id, {"done": True, **event.model_dump(mode="json")}
        )
        return event

    async def _retry(self, learner: Learner) -> Learned:
        """Retry the waiting labels a batch at a time, and go on while at
        least half of a batch is resolved: a backlog of labels that came
        before their features costs one batch of Redis claims per retry, not
        the whole backlog's, and is learned as fast as its features come."""
        learned = Learned()
        left = len(learner.state.waiting)
        while left > 0 and self._owns():
            learned.add(await self._retry_once(learner))
            left -= self._settings.batch_max_events
            if not self._retry_pays:
                break
        return learned

    async def _retry_once(self, learner: Learner, most: int | None = None) -> Learned:
        """Retry a batch of waiting labels (at most ``most``); note whether
        half of them were resolved (if not, batches stop retrying until the
        timer's retry pays)."""
        before = len(learner.state.waiting)
        size = min(before, self._settings.batch_max_events, most or before)
        learned = await self._learn(learner, [], retry=size)
        self._retry_pays = (before - len(learner.state.waiting)) * 2 >= size
        return learned

    async def _learn(self, learner: Learner, records: Sequence[Record], *, retry: int) -> Learned:
        due = learner.due(records, retry=retry)
        claims = [(event.event_id, offset) for offset, event in due]
        joined = await self._store.join(claims, self._settings.pending_ttl_seconds)
        learned = Learned()
        now = time.time()
        # Labels without features wait for the scorers to reach their time:
        # where the stream's clock stands (one more round trip, only then).
        mark = None
        if any(raw is None for raw in joined):
            mark = watermark(await self._store.clock(), self._settings, now)
            if mark is None:  # nothing scored yet: the scorers are behind every label
                mark = -math.inf
        for start in range(0, len(due), LEARN_SLICE):
            if start:
                await asyncio.sleep(0)  # let scoring in between slices
            end = start + LEARN_SLICE
            part = learner.learn(
                due[start:end],
                joined[start:end],
                max_delay=self._settings.label_max_delay,
                wait=self._settings.label_wait_seconds,
                # Capped once per call: past the cap, each check walks
                # the whole waiting list.
                wait_max=self._settings.label_wait_max if end >= len(due) else None,
                now=now,
                watermark=mark,
            )
            learned.add(part)
            if learner is self._learner:
                self._serve(learner, part.label_times)
        return learned

    def _serve(self, learner: Learner, label_times: Sequence[float] = ()) -> None:
        """Score with what the learner knows now: no snapshot in between."""
        state = learner.state
        self._served.follow(state.model, learner.origin, state.learned, state.shadows())
        telemetry.record_served(self._served)
        if label_times:
            telemetry.record_label_served(list(label_times), time.time())
            first, last = min(label_times), max(label_times)
            if self._labels_at:
                before_first, before_last, n = self._labels_at
                self._labels_at = [
                    min(first, before_first),
                    max(last, before_last),
                    n + len(label_times),
                ]
            else:
                self._labels_at = [first, last, len(label_times)]

    async def _current(self) -> Learner:
        """The learner, agreeing with the head version in Redis."""
        head = await self._store.head_version(self._name)
        learner = self._learner
        if learner is not None and head == learner.version:
            return learner
        if learner is not None and (head is None or head < learner.version):
            log.warning(
                "%s: Redis holds %s, older than our version %d (restarted without its data?): "
                "writing ours back",
                self._name,
                "no version" if head is None else f"version {head}",
                learner.version,
            )
            await self._snapshot(learner, head)
            return learner
        learner = await self._load(head)
        replay = learner.unseen(self._unsaved)
        if replay:
            # Learned on the new learner before it replaces ours: if Redis
            # fails half-way, the next call loads and replays again.
            log.info("learning %d records again on top of version %d", len(replay), head)
            await self._learn(learner, replay, retry=0)
        self._learner = learner
        self._serve(learner)
        return learner

    async def _load(self, head: int | None) -> Learner:
        """A learner from the newest readable version, or a new model."""
        history = self._settings.snapshot_history
        found = await newest_state(self._store, self._name, head, history)
        if found is None:
            state, version = initial_state(self._settings), head or 0
            if head is None:
                blob, model, shadow = state.dumps()
                await self._store.save_snapshot(
                    self._name, None, 0, blob, state.meta(), model, shadow
                )
            else:
                log.error("%s: no snapshot up to version %d loads: a new model", self._name, head)
        else:
            state, version = found[0], found[1].version
            if version != head:
                log.error(
                    "%s: learning goes on from version %d; version %s did not load",
                    self._name,
                    version,
                    head,
                )
        # Learning goes on on top of the head, whichever version the state came from.
        learner = Learner(state, head if head is not None else version, origin=version)
        learner.configure(self._settings)
        state.model.max_features = self._settings.max_features
        log.info(
            "learner resumes from %s version %d (offset %d, %d learned, %d waiting)",
            self._name,
            learner.version,
            state.offset,
            state.learned,
            len(state.waiting),
        )
        return learner

    async def _snapshot(
        self, learner: Learner, base: int | None, event: ModelEvent | None = None
    ) -> None:
        """Write the learner as the next version if Redis still holds
        ``base`` (None: no version), then acknowledge what it holds. A
        version written for an ``event`` says so in its metadata, and its
        model is kept past the history."""
        version = learner.version + 1
        if event is not None and event.action in NEW_MODEL:
            learner.state.began(version)
        blob, model, shadow = learner.state.dumps()
        meta = learner.state.meta()
        if self._labels_at:
            meta["labels_at"] = self._labels_at
        if event is not None:
            meta["event"] = event.model_dump(mode="json") | {"version": version}
        try:
            await self._store.save_snapshot(
                self._name, base, version, blob, meta, model, shadow, keep=event is not None
            )
        except SnapshotConflict as exc:
            # Resolved by the next ``_current``: ours again on top of a newer
            # head, or ours written back over a lost one.
            metrics.snapshot_conflicts.labels(self._name).inc()
            log.warning(
                "%s: version %d not written, Redis holds %s. If this repeats, two processes "
                "learn at once: is an EDDY_ROLE=all process running next to a learner?",
                self._name,
                version,
                exc.head,
            )
            raise
        learner.wrote(version)
        self._last_snapshot = time.monotonic()
        self._unsaved.clear()
        self._labels_at = []
        if learner is self._learner:
            self._serve(learner)
        receipts, self._receipts = self._receipts, []
        for receipt in receipts:
            receipt.ack()
