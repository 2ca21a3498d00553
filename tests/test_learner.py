"""The learner's decisions, without Redis: what ``Store.join`` returned is
given directly."""

from __future__ import annotations

from dataclasses import fields

from app import catalog, pending
from app.learner import Learner, LearnerState, Outcome
from app.model import OnlineModel, Prediction
from app.store import DUPLICATE
from schemas import TrainingEvent

SERVED = Prediction(True, ((False, 0.4), (True, 0.6)))


def learner() -> Learner:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    return Learner(LearnerState.fresh(model), version=0)


def label(event_id: str, label: object = True, at: float = 100.0) -> TrainingEvent:
    return TrainingEvent(event_id=event_id, label=label, label_at=at)


def stored(scored_at: float = 90.0) -> bytes:
    return pending.encode({"x": 1.0}, SERVED, 0, scored_at)


def test_each_outcome() -> None:
    lrn = learner()
    records = [(0, label("a")), (1, label("b")), (2, label("c", at=1000.0)), (3, label("d", 0.5))]
    joined = [stored(), DUPLICATE, stored(), stored()]
    outcomes = lrn.learn(records, joined, max_delay=60, wait=0, now=0).outcomes
    assert outcomes == {
        Outcome.JOINED: 1,
        Outcome.DUPLICATE: 1,
        Outcome.EXPIRED: 1,
        Outcome.INVALID: 1,
    }
    assert lrn.state.learned == 1 and lrn.state.offset == 3 and lrn.dirty
    assert lrn.state.quality.count == 1


def test_redelivered_records_are_skipped() -> None:
    lrn = learner()
    lrn.learn([(0, label("a")), (1, label("b"))], [stored(), stored()], max_delay=60, wait=0, now=0)
    assert lrn.unseen([(0, label("a")), (1, label("b")), (2, label("c"))]) == [(2, label("c"))]


def test_label_before_features_waits_then_counts_unknown() -> None:
    lrn = learner()
    out = lrn.learn(lrn.due([(0, label("a"))]), [None], max_delay=60, wait=5, now=10).outcomes
    assert out == {} and lrn.state.offset == 0 and len(lrn.state.waiting) == 1
    # Features stored meanwhile: the waiting label is learned.
    due = lrn.due([(1, label("b"))])
    assert [offset for offset, _ in due] == [0, 1]
    out = lrn.learn(due, [stored(), None], max_delay=60, wait=5, now=12).outcomes
    assert out == {Outcome.JOINED: 1} and [w.offset for w in lrn.state.waiting] == [1]
    # b waited since 12: still waiting at 16, unknown at 17.
    assert lrn.learn(lrn.due([]), [None], max_delay=60, wait=5, now=16).outcomes == {}
    unknown = lrn.learn(lrn.due([]), [None], max_delay=60, wait=5, now=17)
    assert unknown.outcomes == {Outcome.UNKNOWN: 1}
    assert lrn.state.waiting == []


def test_a_batch_without_retry_keeps_the_waiting_labels_waiting() -> None:
    lrn = learner()
    lrn.learn(lrn.due([(0, label("a"))]), [None], max_delay=60, wait=5, now=10)
    due = lrn.due([(1, label("b"))], retry=0)
    assert [offset for offset, _ in due] == [1]
    assert lrn.learn(due, [stored()], max_delay=60, wait=5, now=11).outcomes == {Outcome.JOINED: 1}
    assert [w.offset for w in lrn.state.waiting] == [0]
    # The next retry finds a's features.
    out = lrn.learn(lrn.due([]), [stored()], max_delay=60, wait=5, now=12).outcomes
    assert out == {Outcome.JOINED: 1} and lrn.state.waiting == []


def test_state_survives_a_snapshot_round_trip() -> None:
    lrn = learner()
    lrn.learn(lrn.due([(0, label("a"))]), [None], max_delay=60, wait=5, now=10)
    lrn.learn(lrn.due([(1, label("b"))]), [None, stored()], max_delay=60, wait=5, now=11)
    copy = LearnerState.loads(lrn.state.dumps())
    assert copy.offset == 1 and copy.learned == 1 and copy.waiting == lrn.state.waiting
    assert copy.meta() == lrn.state.meta()


def test_snapshots_written_before_waiting_labels_were_tuples_still_load() -> None:
    lrn = learner()
    lrn.learn(lrn.due([(0, label("a"))]), [None], max_delay=60, wait=5, now=10)
    # What pickle's default gave for this slotted class: (None, {slot: value}).
    old = LearnerState.__new__(LearnerState)
    old.__setstate__((None, {f.name: getattr(lrn.state, f.name) for f in fields(lrn.state)}))
    copy = LearnerState.loads(old.dumps())
    assert copy.waiting == lrn.state.waiting and copy.meta() == lrn.state.meta()
