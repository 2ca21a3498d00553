"""The learner: joins labels to what was scored and learns, in training-topic
order. Pure state; ``app.training`` does its I/O.

Its state (model, live quality, last training offset learned) is snapshotted
as a whole, so a restarted learner resumes exactly where its snapshot stands.
"""

from __future__ import annotations

import heapq
import logging
import pickle
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, cast

from app import catalog, pending
from app.blocks import Blocks, loads_rows
from app.drift import ErrorDrift
from app.errors import BadSnapshot, CommandRefused, ModelError
from app.model import Features, OnlineModel, Prediction, unpickle
from app.quality import Quality
from app.selection import Contender, Rules, SignTest, label_loss, sampled, shadow_predict
from app.settings import DetectorName, DriftAction, ModelName, Settings
from app.store import DUPLICATE
from schemas import Label, ModelEvent, TrainingEvent

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What became of a label."""

    JOINED = "joined"
    """Joined to its features and learned."""
    DUPLICATE = "duplicate"
    """Its event was already claimed by another label."""
    UNKNOWN = "unknown"
    """No features stored: never scored, or kept longer ago than the TTL."""
    EXPIRED = "expired"
    """Arrived later than the allowed label delay; not learned."""
    INVALID = "invalid"
    """Its type does not fit the model, or the model refused it."""
    OVERFLOW = "overflow"
    """It waited for its features while the waiting list was full, and was
    the oldest: given up, not learned."""
    FAILED = "failed"
    """Learning it raised an unexpected error: dead-lettered with reason
    ``processing_error``, not learned."""
    UNSAMPLED = "unsampled"
    """Its event was not in ``EDDY_PENDING_SAMPLE``'s share: its features
    were not kept, so it is not learned (nor waited for)."""
    FROZEN = "frozen"
    """Joined, and counted in the live quality, but not learned: an operator
    froze learning or pinned a version."""


def dump_shadows(models: dict[str, OnlineModel]) -> bytes:
    """Challengers' models as one blob (``b""``: none)."""
    return pickle.dumps(models, protocol=pickle.HIGHEST_PROTOCOL) if models else b""


def load_shadows(blob: bytes) -> dict[str, OnlineModel]:
    """The challengers' models of ``dump_shadows``, or ``BadSnapshot``."""
    models = unpickle(blob, dict, "challengers", "challengers' models")
    if not all(isinstance(k, str) and isinstance(m, OnlineModel) for k, m in models.items()):
        raise BadSnapshot("not challengers' models: a dict of something else")
    return cast(dict[str, OnlineModel], models)


def _contender(found: Contender | tuple[Any, ...]) -> Contender:
    """A challenger as a snapshot holds it: without its model (a tuple),
    or, written before the models were kept apart, whole."""
    if isinstance(found, tuple):
        quality, test, learned, since = found
        return Contender(cast(OnlineModel, None), quality, test, learned, since)
    # Slots unpickled from before ``since`` existed are unset.
    return Contender(found.model, found.quality, found.test, found.learned)


def build(name: ModelName, settings: Settings) -> OnlineModel:
    """An untrained model of the pipeline ``name``."""
    return OnlineModel(name, catalog.build(name), settings.max_features)


WARM_UNKNOWN = 100
"""Labels a reset model is warmed on when the detector does not say where
the change began."""

DRIFT_CHALLENGER = "{model}@drift"
"""The name of the challenger a drift starts (``EDDY_DRIFT_ACTION=challenge``)."""

Record = tuple[int, TrainingEvent]
"""A training-topic offset and its label."""


@dataclass(slots=True)
class Learned:
    """What a batch of labels did."""

    outcomes: Counter[Outcome] = field(default_factory=Counter)
    delays: list[float] = field(default_factory=list)
    """Seconds from scoring to label, of each joined label."""
    drifts: list[tuple[int, int]] = field(default_factory=list)
    """Error-stream drifts: windows ``(first, last)``, in labels."""
    failed: list[tuple[int, TrainingEvent, str]] = field(default_factory=list)
    """Labels whose learning raised: offset, label, and the error."""
    dropped_features: int = 0
    """Features left out of what was learned: the vocabulary was full."""
    resets: list[tuple[int, int, int]] = field(default_factory=list)
    """Models reset on a drift: its window, and the labels the new one was
    warmed on."""
    challenges: list[tuple[int, int, int]] = field(default_factory=list)
    """Fresh challengers started on a drift: its window, and the labels the
    challenger was warmed on."""
    events: list[ModelEvent] = field(default_factory=list)
    """Versions written for a reason (a reset), to publish."""
    label_times: list[float] = field(default_factory=list)
    """When each joined label reached the labels topic."""
    replies: list[tuple[str, str]] = field(default_factory=list)
    """``(reply, outcome)`` of each label sent by ``POST /learn``."""

    def add(self, other: Learned) -> None:
        self.outcomes.update(other.outcomes)
        self.delays.extend(other.delays)
        self.label_times.extend(other.label_times)
        self.replies.extend(other.replies)
        self.drifts.extend(other.drifts)
        self.resets.extend(other.resets)
        self.challenges.extend(other.challenges)
        self.events.extend(other.events)
        self.failed.extend(other.failed)
        self.dropped_features += other.dropped_features


@dataclass(frozen=True, slots=True)
class Waiting:
    """A label that came before its features were stored: the scorer may
    still have them in its backlog, so the label waits a while."""

    offset: int
    event: TrainingEvent
    since: float
    row: tuple[int, str, Label, float, float, str | None] = field(
        init=False, repr=False, compare=False
    )
    """What a snapshot writes, made once: every snapshot (ten a second by
    default) writes every waiting label again, and reading a pydantic
    model's fields for each of 50,000 took most of a snapshot's time."""

    def __post_init__(self) -> None:
        event = self.event
        row = (self.offset, event.event_id, event.label, event.label_at, self.since, event.reply)
        object.__setattr__(self, "row", row)

    def dump(self) -> tuple[int, str, Label, float, float, str | None]:
        return self.row

    @classmethod
    def load(cls, row: tuple[Any, ...]) -> Waiting:
        # Five fields when written before ``POST /learn`` replies.
        offset, event_id, label, label_at, since, *rest = row
        reply = rest[0] if rest else None
        event = TrainingEvent(event_id=event_id, label=label, label_at=label_at, reply=reply)
        return cls(offset, event, since)


UNWRITTEN = frozenset({"model", "waiting_blocks"})
"""LearnerState fields its pickle leaves out: the model goes in a blob of
its own, the waiting list's blocks are a cache."""


@dataclass(slots=True)
class LearnerState:
    model: OnlineModel
    quality: Quality
    error_drift: ErrorDrift
    offset: int = -1
    """Last training-topic offset learned (-1: none)."""
    learned: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    """Every label's outcome since the model was created."""
    waiting: list[Waiting] = field(default_factory=list)
    """Labels whose features were not stored yet when they came."""
    frozen: bool = False
    """An operator froze learning."""
    pinned: int | None = None
    """The version an operator pinned (its model serves, and is not learned)."""
    challengers: dict[str, Contender] = field(default_factory=dict)
    """By pipeline name: they learn the same labels, and are compared."""
    champion: Quality | None = None
    """The champion's served quality on the labels the challengers are
    compared on (events scored in shadow), while there are challengers."""
    since: int = 0
    """The version the serving model began at: the last promotion,
    rollback, pin or reset (0: none since the model was created)."""
    since_quality: Quality | None = None
    """The served predictions' quality since ``since``: labels of events
    scored by an older version are left out (None: as ``quality``)."""
    waiting_blocks: Blocks[Waiting] = field(default_factory=Blocks, repr=False, compare=False)
    """The waiting list as the last snapshot pickled it, a block at a time:
    the next one pickles again only what changed (not written itself)."""

    def began(self, version: int) -> None:
        """A new model serves from ``version`` on: its quality starts afresh."""
        self.since = version
        self.since_quality = Quality(self.model.kind, self.quality.window)

    @property
    def version_quality(self) -> Quality:
        """The quality of the model serving since ``since``."""
        return self.quality if self.since_quality is None else self.since_quality

    @property
    def learns(self) -> bool:
        return not self.frozen and self.pinned is None

    def dumps(self) -> tuple[bytes, bytes, bytes]:
        """The state, its model and its challengers' models, apart: every
        process loads the model to serve it and the challengers' to score
        in shadow; only the learner loads the rest (which may hold
        thousands of waiting labels). No challengers: ``b""``."""
        state = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        return state, self.model.dumps(), dump_shadows(self.shadows())

    def shadows(self) -> dict[str, OnlineModel]:
        """The challengers' models, by name: what scores in shadow."""
        return {name: c.model for name, c in self.challengers.items()}

    def __getstate__(self) -> dict[str, Any]:
        state = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in UNWRITTEN}
        # The challengers' models go in their own blob (``dumps``).
        state["challengers"] = {
            name: (c.quality, c.test, c.learned, c.since) for name, c in self.challengers.items()
        }
        # Waiting labels as plain tuples (a backlog of 50,000 pickles in 16 ms
        # this way, in 470 ms as pydantic models), in blocks: the learner
        # snapshots ten times a second, and most blocks are as they were.
        del state["waiting"]
        state["waiting_blocks"] = self.waiting_blocks.dump(self.waiting, Waiting.dump)
        return state

    def __setstate__(self, state: dict[str, Any] | tuple[None, dict[str, Any]]) -> None:
        if isinstance(state, tuple):  # written before waiting labels were tuples
            state = state[1]
        # Written before operators' controls, challengers, or quality by version.
        state = {
            "frozen": False,
            "pinned": None,
            "challengers": {},
            "champion": None,
            "since": 0,
            "since_quality": None,
            **state,
        }
        self.waiting_blocks = Blocks()
        for name, value in state.items():
            if name == "waiting_blocks":
                name, value = "waiting", [Waiting.load(row) for row in loads_rows(value)]
            elif name == "waiting":  # written before blocks
                value = [w if isinstance(w, Waiting) else Waiting.load(w) for w in value]
            elif name == "challengers":
                value = {n: _contender(c) for n, c in value.items()}
            object.__setattr__(self, name, value)

    @staticmethod
    def loads(blob: bytes, model: bytes | None = None, shadow: bytes | None = None) -> LearnerState:
        """The state in a snapshot, with its model and its challengers'
        models, or ``BadSnapshot``. (Snapshots written before the model, or
        the challengers' models, were kept apart hold them inside.)"""
        state = unpickle(blob, LearnerState, "snapshot", "a learner snapshot")
        if model is not None:
            state.model = OnlineModel.loads(model)
        elif not hasattr(state, "model"):
            raise BadSnapshot("a learner snapshot without its model")
        models = load_shadows(shadow) if shadow else {}
        for name, contender in state.challengers.items():
            if name in models:
                contender.model = models[name]
            elif getattr(contender, "model", None) is None:
                raise BadSnapshot(f"a learner snapshot without its challenger {name}'s model")
        return state

    @classmethod
    def fresh(
        cls, model: OnlineModel, detector: DetectorName = "adwin", quality_window: int = 1000
    ) -> LearnerState:
        return cls(model, Quality(model.kind, quality_window), ErrorDrift(detector))

    def meta(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "learned": self.learned,
            "offset": self.offset,
            "quality": self.quality.report(),
            "labels_scored": self.quality.count,
            "since": self.since,
            "quality_since": self.version_quality.report(),
            "labels_scored_since": self.version_quality.count,
            "outcomes": {o.value: self.outcomes[o] for o in Outcome},
            "waiting": len(self.waiting),
            "frozen": self.frozen,
            "pinned": self.pinned,
            "challengers": {name: c.report() for name, c in self.challengers.items()},
            "champion_compared": None if self.champion is None else self.champion.report(),
        }


class Learner:
    def __init__(self, state: LearnerState, version: int, origin: int | None = None) -> None:
        self.state = state
        self.version = version
        """The version its next snapshot goes on top of."""
        self.origin = version if origin is None else origin
        """The version its model comes from (older than ``version`` when
        the newest did not load), learning since: what predictions name."""
        self.dirty = False
        """Learned something not yet in a snapshot."""
        self.fresh: Callable[[], OnlineModel] | None = None
        """With ``EDDY_DRIFT_ACTION`` ``reset`` or ``challenge``: a new
        model of the same pipeline."""
        self.drift_action: DriftAction = "alert"
        self.recent: deque[tuple[Features, Label]] = deque(maxlen=1000)
        """The newest labels learned, with their features: what a fresh
        model is warmed on (kept in memory only, with ``fresh`` set)."""
        self.resets = 0
        self.challenges = 0
        self.rules = Rules()
        self.kept = 1.0
        """The share of events whose features are kept (``EDDY_PENDING_SAMPLE``)."""

    def configure(self, settings: Settings) -> None:
        """Take the drift action and the challengers of ``settings``: those
        named and not in the state start untrained; those in the state and
        no longer named are dropped."""
        state = self.state
        self.drift_action = settings.drift_action
        self.kept = settings.pending_sample
        if settings.drift_action != "alert":
            self.fresh = lambda: build(cast(ModelName, state.model.name), settings)
        self.recent = deque(maxlen=settings.drift_warm_labels)
        self.rules = Rules(
            settings.promotion_loss,
            settings.promotion_alpha,
            settings.promotion_effect,
            settings.promotion_min_labels,
            settings.promotion == "auto",
            [n for n in settings.challenger_names if n != state.model.name],
        )
        for name in list(state.challengers):
            if name not in self.rules.names and name != self.drift_challenger:
                del state.challengers[name]
        for name in self.rules.names:
            if name not in state.challengers:
                state.challengers[name] = self.contender(build(name, settings))
        if state.challengers and state.champion is None:
            state.champion = Quality(state.model.kind, state.quality.window)
        if not state.challengers:
            state.champion = None

    def wrote(self, version: int) -> None:
        """A snapshot of it was written as ``version``: what it learns next
        goes on top, and what its process scores names it."""
        self.version = self.origin = version
        self.dirty = False

    def scored(self, x: Features, event_id: str, share: float = 1.0, at: float = 0.0) -> bytes:
        """The pending record of an event scored by this learner's own
        models, as its process keeps it (the champion serves, the
        challengers score in shadow if the event is in ``share``): for a
        stream replayed through the learner alone (benchmarks, tests)."""
        state = self.state
        shadow = shadow_predict(state.shadows(), x, event_id, share)
        return pending.encode(x, state.model.predict(x), self.origin, at, shadow)

    @property
    def drift_challenger(self) -> str | None:
        """The name a drift's challenger takes, with ``challenge``."""
        if self.drift_action != "challenge":
            return None
        return DRIFT_CHALLENGER.format(model=self.state.model.name)

    def saved(self) -> Callable[[], None]:
        """What an operator's command may change in the state (the model,
        pin, freeze, challengers and their tests, quality by version), and
        a function that puts it back: the command's version was not
        written, so it did not happen."""
        state = self.state
        kept = (
            state.model,
            state.pinned,
            state.frozen,
            dict(state.challengers),
            {name: c.test for name, c in state.challengers.items()},
            state.champion,
            state.since,
            state.since_quality,
        )

        def restore() -> None:
            (
                state.model,
                state.pinned,
                state.frozen,
                challengers,
                tests,
                state.champion,
                state.since,
                state.since_quality,
            ) = kept
            state.challengers = challengers
            for name, test in tests.items():
                challengers[name].test = test

        return restore

    def contender(self, model: OnlineModel) -> Contender:
        """A new challenger: its shadow predictions count from the next
        version on (the first to hold it)."""
        test = SignTest(self.rules.alpha, self.rules.effect)
        quality = Quality(model.kind, self.state.quality.window)
        return Contender(model, quality, test, since=self.version + 1)

    def promote(self, name: str) -> Contender:
        """``name`` becomes the champion; the champion becomes a challenger.
        Every test starts over (they were against the old champion)."""
        state = self.state
        if name not in state.challengers:
            raise CommandRefused(f"no challenger {name}: {', '.join(state.challengers) or 'none'}")
        winner = state.challengers.pop(name)
        old = state.model
        state.challengers[old.name] = self.contender(old)
        state.model = winner.model
        state.champion = winner.quality
        for contender in state.challengers.values():
            contender.test = SignTest(self.rules.alpha, self.rules.effect)
        return winner

    def earned(self) -> str | None:
        """The challenger the test says to promote, if promotions are
        automatic (tests that concluded "no better" start over)."""
        for name, contender in self.state.challengers.items():
            decision = contender.test.decision(self.rules.min_labels)
            if decision == "reject":
                contender.test.restart()
            elif decision == "promote" and self.rules.auto:
                return name
        return None

    def _challenge(self, record: pending.Pending, y: Label) -> None:
        """The challengers learn the label (the champion learns it after).
        Each one that scored the event in shadow, as the champion served it
        (a version of the current champion, since the challenger started),
        is compared with the champion on it."""
        state = self.state
        kind, loss = state.model.kind, self.rules.loss
        shadow = record.shadow if record.version >= state.since else {}
        champion_loss = 0.0
        if shadow:
            assert state.champion is not None
            state.champion.update(y, record.served)
            champion_loss = label_loss(kind, y, record.served, loss)
        for name, contender in state.challengers.items():
            try:
                contender.model.learn(record.features, y)
            except ModelError:
                log.exception("challenger %s could not learn a label", name)
                continue
            contender.learned += 1
            prediction = shadow.get(name)
            if prediction is not None and record.version >= contender.since:
                contender.quality.update(y, prediction)
                contender.test.update(champion_loss, label_loss(kind, y, prediction, loss))

    def unseen(self, records: Sequence[Record]) -> list[Record]:
        """Drop records the state has already learned (redelivered by Kafka
        after a restart from an older committed offset)."""
        return [r for r in records if r[0] > self.state.offset]

    def skip(self, records: Sequence[Record]) -> None:
        """Give up on records that could not be learned: counted ``failed``,
        and never tried again."""
        new = self.unseen(records)
        if new:
            self.state.offset = max(offset for offset, _ in new)
            self.state.outcomes[Outcome.FAILED] += len(new)
            self.dirty = True

    def due(self, records: Sequence[Record], *, retry: int | None = None) -> list[Record]:
        """What to join now: the first ``retry`` waiting labels (all of them
        if None), then the new records. Labels retried and still missing go
        to the back of the waiting list, so successive retries take turns."""
        new = self.unseen(records)
        waiting = self.state.waiting if retry is None else self.state.waiting[:retry]
        return [(w.offset, w.event) for w in waiting] + new

    def learn(
        self,
        records: Sequence[Record],
        joined: Sequence[bytes | None],
        *,
        max_delay: float,
        wait: float,
        now: float,
        wait_max: int | None = None,
        watermark: float | None = None,
    ) -> Learned:
        """Learn each record of ``due()`` in order, given what ``Store.join``
        returned for it. A label with no features yet waits (kept in the
        state, so snapshots hold it) at least ``wait`` seconds, and until the
        scored stream's ``watermark`` (event time: see ``app.watch``) has
        passed the label's time, before it counts as unknown: in a replay
        whose scoring lags its labels, a label waits for the scorer to get
        there. At most ``wait_max`` labels wait, the oldest gives up first
        (``overflow``). A label whose learning raises anything the model does
        not (a bug, a corrupt record) is ``failed``, and the batch goes on."""
        result = Learned()
        outcomes = result.outcomes
        state = self.state
        waiting = state.waiting
        before = len(waiting)
        # ``due()`` puts the retried labels first, in waiting order: take
        # them off the front (a backlog may hold tens of thousands, and
        # ``learn`` runs every few dozen labels).
        retried = 0
        for (offset, _), w in zip(records, waiting, strict=False):
            if offset != w.offset:
                break
            retried += 1
        since = {w.offset: w.since for w in waiting[:retried]}
        del waiting[:retried]
        for (offset, event), raw in zip(records, joined, strict=True):
            state.offset = max(state.offset, offset)
            if raw is None and not sampled(event.event_id, self.kept):
                outcomes[Outcome.UNSAMPLED] += 1
                if event.reply is not None:
                    result.replies.append((event.reply, Outcome.UNSAMPLED.value))
                continue
            if raw is None and (
                now - since.get(offset, now) < wait
                or (watermark is not None and watermark < min(event.label_at, now))
            ):
                waiting.append(Waiting(offset, event, since.get(offset, now)))
                continue
            try:
                outcome = self._learn_one(event, raw, max_delay, result)
            except Exception as exc:
                log.exception("label for %s at offset %d failed", event.event_id, offset)
                result.failed.append((offset, event, f"{type(exc).__name__}: {exc}"))
                outcome = Outcome.FAILED
            outcomes[outcome] += 1
            if event.reply is not None:
                result.replies.append((event.reply, outcome.value))
        if wait_max is not None and len(waiting) > wait_max:
            for given_up in self._give_up_oldest(len(waiting) - wait_max):
                outcomes[Outcome.OVERFLOW] += 1
                if given_up.event.reply is not None:
                    result.replies.append((given_up.event.reply, Outcome.OVERFLOW.value))
        changed = bool(outcomes) or len(waiting) != before
        state.outcomes.update(outcomes)
        self.dirty = self.dirty or changed
        return result

    def _give_up_oldest(self, n: int) -> list[Waiting]:
        """Drop the ``n`` labels that have waited longest (returned); keep
        the others' order."""
        waiting = self.state.waiting
        oldest = set(heapq.nsmallest(n, range(len(waiting)), key=lambda i: waiting[i].since))
        dropped = [w for i, w in enumerate(waiting) if i in oldest]
        waiting[:] = [w for i, w in enumerate(waiting) if i not in oldest]
        return dropped

    def _learn_one(
        self, event: TrainingEvent, raw: bytes | None, max_delay: float, result: Learned
    ) -> Outcome:
        if raw is None:
            return Outcome.UNKNOWN
        if raw == DUPLICATE:
            return Outcome.DUPLICATE
        record = pending.decode(raw)
        if event.label_at - record.at > max_delay:  # in event time: a replay as it happened
            return Outcome.EXPIRED
        state = self.state
        if not state.model.accepts(event.label):
            return Outcome.INVALID
        if not state.learns:
            state.quality.update(event.label, record.served)
            if state.since_quality is not None and record.version >= state.since:
                state.since_quality.update(event.label, record.served)
            state.error_drift.update(loss(event.label, record.served))
            return Outcome.FROZEN
        if state.challengers:
            self._challenge(record, event.label)
        try:
            result.dropped_features += state.model.learn(record.features, event.label)
        except ModelError:
            log.exception("label for %s not learned", event.event_id)
            return Outcome.INVALID
        state.quality.update(event.label, record.served)
        if state.since_quality is not None and record.version >= state.since:
            state.since_quality.update(event.label, record.served)
        state.learned += 1
        result.delays.append(event.label_at - record.scored_at)
        result.label_times.append(event.label_at)
        if self.fresh is not None:
            self.recent.append((record.features, event.label))
        window = state.error_drift.update(loss(event.label, record.served))
        if window is not None:
            result.drifts.append(window)
            if self.drift_action == "reset":
                result.resets.append((*window, self._reset()))
            elif self.drift_action == "challenge":
                result.challenges.append((*window, self._start_challenger()))
        return Outcome.JOINED

    def _warmed(self) -> tuple[OnlineModel, int]:
        """A fresh model warmed on the labels since the change (as ADWIN
        estimates it: its window, which drops what came before; other
        detectors do not say, and the newest ``WARM_UNKNOWN`` are used),
        and how many it learned."""
        assert self.fresh is not None
        width = getattr(self.state.error_drift.detector, "width", None)
        n = min(len(self.recent), int(width) if width else WARM_UNKNOWN)
        model = self.fresh()
        for x, y in list(self.recent)[len(self.recent) - n :]:
            model.learn(x, y)
        return model, n

    def _reset(self) -> int:
        """A fresh model takes over; how many labels it was warmed on."""
        self.state.model, n = self._warmed()
        self.resets += 1
        return n

    def _start_challenger(self) -> int:
        """A fresh model starts as a challenger (promoted only by the test,
        as any challenger); how many labels it was warmed on. It replaces
        the one an earlier drift started, if still on trial: the newest
        change is the one to catch up with (on SEA, a false alarm early in
        the stream starts one, and the flip replaces it)."""
        state, name = self.state, self.drift_challenger
        assert name is not None
        model, n = self._warmed()
        contender = self.contender(model)
        contender.learned = n
        state.challengers[name] = contender
        if state.champion is None:
            state.champion = Quality(state.model.kind, state.quality.window)
        self.challenges += 1
        return n


def loss(y: Label, served: Prediction) -> float:
    """0/1 for classes, absolute error for values (1 when nothing was predicted)."""
    if served.label is None:
        return 1.0
    if served.probabilities is not None:
        return float(served.label != y)
    return abs(float(y) - float(served.label))
