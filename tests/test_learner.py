"""The learner's decisions, without Redis: what ``Store.join`` returned is
given directly."""

from __future__ import annotations

import pickle
from dataclasses import fields
from typing import Any

import pytest

from app import catalog, pending
from app.errors import BadSnapshot
from app.learner import Learner, LearnerState, Outcome, Waiting
from app.model import Features, OnlineModel, Prediction
from app.selection import sampled, shadow_predict
from app.settings import Settings
from app.store import DUPLICATE
from benchmarks.drift import run
from schemas import TrainingEvent

SERVED = Prediction(True, ((False, 0.4), (True, 0.6)))


def learner() -> Learner:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    return Learner(LearnerState.fresh(model), version=0)


def label(event_id: str, label: object = True, at: float = 100.0) -> TrainingEvent:
    return TrainingEvent(event_id=event_id, label=label, label_at=at)


def stored(scored_at: float = 90.0) -> bytes:
    return pending.encode({"x": 1.0}, SERVED, 0, scored_at)


def old_getstate(state: LearnerState) -> dict[str, Any]:
    """``LearnerState.__getstate__`` before the model was kept apart."""
    full = {f.name: getattr(state, f.name) for f in fields(state) if f.name != "waiting_blocks"}
    full["waiting"] = [w.dump() for w in state.waiting]
    return full


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
    copy = LearnerState.loads(*lrn.state.dumps())
    assert copy.offset == 1 and copy.learned == 1 and copy.waiting == lrn.state.waiting
    assert copy.meta() == lrn.state.meta()
    assert copy.model.vocabulary == lrn.state.model.vocabulary


def test_the_model_is_kept_apart_from_the_state_and_loads_alone() -> None:
    lrn = learner()
    for i in range(50):
        lrn.learn(lrn.due([(i, label(f"w{i}"))], retry=0), [None], max_delay=60, wait=60, now=10)
    state, model, shadow = lrn.state.dumps()
    assert shadow == b""  # no challengers
    assert b"w49" in state and b"w49" not in model  # serving never unpickles waiting labels
    assert OnlineModel.loads(model).predict({"x": 1.0}) == lrn.state.model.predict({"x": 1.0})
    with pytest.raises(BadSnapshot, match="without its model"):
        LearnerState.loads(state)


def test_snapshots_that_hold_their_model_inside_still_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lrn = learner()
    lrn.learn(lrn.due([(0, label("a"))]), [stored()], max_delay=60, wait=5, now=10)
    with monkeypatch.context() as patch:
        patch.setattr(LearnerState, "__getstate__", old_getstate)
        old = pickle.dumps(lrn.state)
    assert b"LogisticRegression" in old
    copy = LearnerState.loads(old)
    assert copy.learned == 1 and copy.model.predict({"x": 2.0}) == lrn.state.model.predict(
        {"x": 2.0}
    )


def test_snapshots_written_before_waiting_labels_were_tuples_still_load() -> None:
    lrn = learner()
    lrn.learn(lrn.due([(0, label("a"))]), [None], max_delay=60, wait=5, now=10)
    # What pickle's default gave for this slotted class: (None, {slot: value}).
    old = LearnerState.__new__(LearnerState)
    old.__setstate__(
        (
            None,
            {
                f.name: getattr(lrn.state, f.name)
                for f in fields(lrn.state)
                if f.name != "waiting_blocks"
            },
        )
    )
    copy = LearnerState.loads(*old.dumps())
    assert copy.waiting == lrn.state.waiting and copy.meta() == lrn.state.meta()


def test_snapshots_hold_the_waiting_list_as_it_is_after_retries() -> None:
    lrn = learner()
    n = 3_000
    records = [(i, label(f"e{i}")) for i in range(n)]
    lrn.learn(lrn.due(records), [None] * n, max_delay=60, wait=60, now=10)
    assert LearnerState.loads(*lrn.state.dumps()).waiting == lrn.state.waiting
    # Retries: the first 500 back at the end, then 200 of the next joined.
    lrn.learn(lrn.due([], retry=500), [None] * 500, max_delay=60, wait=60, now=11)
    due = lrn.due([], retry=200)
    lrn.learn(due, [stored()] * 200, max_delay=60, wait=60, now=12)
    assert len(lrn.state.waiting) == n - 200
    copy = LearnerState.loads(*lrn.state.dumps())
    assert copy.waiting == lrn.state.waiting and copy.meta() == lrn.state.meta()
    assert [w.offset for w in copy.waiting][:2] == [700, 701]


def test_past_the_waiting_cap_the_labels_that_waited_longest_give_up() -> None:
    lrn = learner()
    for i, now in enumerate([10, 11, 12]):
        lrn.learn(lrn.due([(i, label(f"e{i}"))], retry=0), [None], max_delay=60, wait=60, now=now)
    # Two more come while three wait, with room for three: e0 and e1 give up.
    due = lrn.due([(3, label("e3")), (4, label("e4"))], retry=0)
    out = lrn.learn(due, [None, None], max_delay=60, wait=60, now=13, wait_max=3)
    assert out.outcomes == {Outcome.OVERFLOW: 2}
    assert [w.offset for w in lrn.state.waiting] == [2, 3, 4]
    assert lrn.state.outcomes[Outcome.OVERFLOW] == 2


def test_a_label_whose_learning_raises_fails_alone() -> None:
    lrn = learner()
    records = [(0, label("a")), (1, label("b")), (2, label("c"))]
    # b's stored record is corrupt (not what the scorer writes).
    out = lrn.learn(records, [stored(), b'{"x": 1}', stored()], max_delay=60, wait=0, now=0)
    assert out.outcomes == {Outcome.JOINED: 2, Outcome.FAILED: 1}
    [(offset, event, error)] = out.failed
    assert offset == 1 and event.event_id == "b" and error.startswith("KeyError")
    assert lrn.state.learned == 2 and lrn.state.offset == 2


def test_records_given_up_are_counted_failed_and_never_tried_again() -> None:
    lrn = learner()
    lrn.skip([(0, label("a")), (1, label("b"))])
    assert lrn.state.outcomes[Outcome.FAILED] == 2 and lrn.state.offset == 1 and lrn.dirty
    assert lrn.unseen([(1, label("b")), (2, label("c"))]) == [(2, label("c"))]


def test_the_models_vocabulary_is_capped_and_what_it_leaves_out_is_counted() -> None:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"), 50)
    lrn = Learner(LearnerState.fresh(model), version=0)
    served = Prediction(True, ((False, 0.4), (True, 0.6)))
    # 2,000 events, each with ten names never seen before: a producer's bug.
    records, joined = [], []
    for i in range(2000):
        features: Features = {f"n{i}-{k}": 1.0 for k in range(10)}
        records.append((i, label(f"e{i}")))
        joined.append(pending.encode(features, served, 0, 90.0))
    out = lrn.learn(records, joined, max_delay=60, wait=0, now=0)
    assert out.outcomes == {Outcome.JOINED: 2000}
    assert len(model.vocabulary) == 50 and out.dropped_features == 20_000 - 50
    assert len(pickle.dumps(model)) < 20_000


def test_a_drift_reset_warms_a_fresh_model_on_the_labels_since_the_change() -> None:
    lrn = learner()
    lrn.configure(Settings(drift_action="reset", drift_warm_labels=300))
    record = pending.encode({"x": 1.0}, SERVED, 0, 90.0)  # served True
    resets = []
    for i in range(600):  # right for 400 labels, then wrong: the error rate jumps
        y = i < 400
        out = lrn.learn([(i, label(f"e{i}", y))], [record], max_delay=60, wait=5, now=100)
        resets += out.resets
    assert lrn.resets == len(resets) >= 1
    first, last, warmed = resets[0]
    assert first == 0 and 400 < last < 600
    # ADWIN's window after the cut (its estimate of "since the change": a
    # cut falls on its bucket boundaries, so it may hold some labels from
    # before), not all 300 kept.
    assert 0 < warmed < 300
    assert lrn.state.model.predict({"x": 1.0}).label is False  # it learned the new concept


def test_a_reset_recovers_from_a_concept_flip_sooner_than_an_alert() -> None:
    alert = run("alert", 8000, 100, 42)
    reset = run("reset", 8000, 100, 42)
    assert alert.resets == 0 and reset.resets >= 1
    assert reset.detected == alert.detected is not None
    assert reset.recovered is not None
    assert alert.recovered is None or reset.recovered < alert.recovered


def test_a_drift_challenge_starts_one_warmed_challenger_that_earns_promotion() -> None:
    lrn = learner()
    settings = Settings(drift_action="challenge", drift_warm_labels=300, promotion_min_labels=50)
    lrn.configure(settings)
    challenges, promoted_at = [], None
    for i in range(1400):  # True for 1000 labels, then False: the error rate jumps
        y = i < 1000
        # Scored by the champion, and by a challenger in shadow once one started.
        record = lrn.scored({"x": 1.0}, f"e{i}", at=90.0)
        out = lrn.learn([(i, label(f"e{i}", y))], [record], max_delay=60, wait=5, now=100)
        challenges += out.challenges
        if (name := lrn.earned()) is not None:
            assert name == "logistic-regression@drift" and promoted_at is None
            compared = lrn.state.challengers[name].test.compared
            lrn.promote(name)
            promoted_at = i
        lrn.wrote(lrn.version + 1)  # a snapshot after each label
    # Each drift started a fresh copy, replacing the one on trial: one
    # challenger at a time under one name.
    assert lrn.challenges == len(challenges) >= 1 and lrn.resets == 0
    _, last, warmed = challenges[0]
    assert 1000 < last < 1400 and 0 < warmed < 300
    # The champion was never replaced by the drift itself, only by the test:
    # at least ``promotion_min_labels`` compared after the challenge began.
    assert promoted_at is not None and compared >= 50 and promoted_at >= 1000 + 50
    assert lrn.state.model.predict({"x": 1.0}).label is False
    # The old champion stays on as a challenger; a later drift may start a
    # new ``@drift`` copy (the name is free again).
    assert "logistic-regression" in lrn.state.challengers
    assert set(lrn.state.challengers) <= {"logistic-regression", "logistic-regression@drift"}


def test_a_drift_challenger_survives_a_restart_and_alert_drops_it() -> None:
    lrn = learner()
    lrn.configure(Settings(drift_action="challenge"))
    record = pending.encode({"x": 1.0}, SERVED, 0, 90.0)
    for i in range(600):
        lrn.learn([(i, label(f"e{i}", i < 400))], [record], max_delay=60, wait=5, now=100)
    assert "logistic-regression@drift" in lrn.state.challengers
    again = Learner(LearnerState.loads(*lrn.state.dumps()), 1)
    again.configure(Settings(drift_action="challenge"))
    assert "logistic-regression@drift" in again.state.challengers
    again.configure(Settings(drift_action="alert"))
    assert not again.state.challengers and again.state.champion is None


def test_quality_by_version_counts_only_labels_of_events_the_new_model_scored() -> None:
    lrn = learner()
    right = pending.encode({"x": 1.0}, SERVED, 4, 90.0)  # served True by version 4
    lrn.learn([(0, label("a", True))], [right], max_delay=60, wait=5, now=100)
    assert lrn.state.since == 0 and lrn.state.version_quality is lrn.state.quality
    lrn.state.began(5)  # a rollback, pin, promotion or reset wrote version 5
    older = pending.encode({"x": 1.0}, SERVED, 4, 90.0)
    newer = pending.encode({"x": 1.0}, SERVED, 5, 90.0)
    lrn.learn([(1, label("b", False))], [older], max_delay=60, wait=5, now=100)
    lrn.learn([(2, label("c", True))], [newer], max_delay=60, wait=5, now=100)
    assert lrn.state.quality.count == 3 and lrn.state.version_quality.count == 1
    assert lrn.state.version_quality.report()["accuracy"] == 1.0
    meta = LearnerState.loads(*lrn.state.dumps()).meta()
    assert meta["since"] == 5 and meta["labels_scored_since"] == 1


def test_a_command_not_written_is_undone_whole() -> None:
    lrn = learner()
    lrn.configure(Settings(drift_action="challenge", challengers="hoeffding-tree"))
    for i in range(600):  # a drift starts logistic-regression@drift
        shadow = shadow_predict(lrn.state.shadows(), {"x": 1.0}, f"e{i}", 1.0)
        record = pending.encode({"x": 1.0}, SERVED, lrn.version, 90.0, shadow)
        lrn.learn([(i, label(f"e{i}", i < 400))], [record], max_delay=60, wait=5, now=100)
        lrn.wrote(lrn.version + 1)
    state = lrn.state
    assert set(state.challengers) == {"hoeffding-tree", "logistic-regression@drift"}
    tests = {n: c.test for n, c in state.challengers.items()}
    compared = {n: t.compared for n, t in tests.items()}
    champion, model, since, since_quality = state.champion, state.model, state.since, None
    restore = lrn.saved()
    lrn.promote("logistic-regression@drift")
    state.began(7)  # as the command's snapshot does before writing
    restore()  # ... which failed
    assert set(state.challengers) == {"hoeffding-tree", "logistic-regression@drift"}
    assert state.model is model and state.champion is champion
    assert {n: c.test for n, c in state.challengers.items()} == tests
    assert {n: c.test.compared for n, c in state.challengers.items()} == compared
    assert all(compared.values())
    assert state.since == since and state.since_quality is since_quality
    lrn.promote("logistic-regression@drift")  # the retried command still finds it


def test_a_learn_requests_reply_survives_a_snapshot_and_an_overflow() -> None:
    lrn = learner()
    asked = TrainingEvent(event_id="w1", label=True, label_at=100.0, reply="r1:0")
    out = lrn.learn([(0, asked)], [None], max_delay=60, wait=5, now=100)
    assert out.replies == [] and len(lrn.state.waiting) == 1  # waits for its features
    again = Learner(LearnerState.loads(*lrn.state.dumps()), 1)
    assert again.state.waiting[0].event.reply == "r1:0"
    # A snapshot written before replies (five fields) still loads.
    old = again.state.waiting[0].dump()[:5]
    assert Waiting.load(old).event.reply is None
    other = TrainingEvent(event_id="w2", label=True, label_at=100.0)
    out = again.learn([(1, other)], [None], max_delay=60, wait=5, now=101, wait_max=1)
    assert out.outcomes == {Outcome.OVERFLOW: 1} and out.replies == [("r1:0", "overflow")]


def test_a_challenger_is_compared_on_what_it_predicted_in_shadow_where_the_event_was_scored() -> (
    None
):
    lrn = learner()
    lrn.configure(Settings(challengers="hoeffding-tree"))
    lrn.wrote(1)  # the first version holding the challenger
    contender = lrn.state.challengers["hoeffding-tree"]
    assert contender.since == 1
    right, wrong = Prediction(True, ((True, 0.9),)), Prediction(False, ((False, 0.9),))
    shadowed = pending.encode({"x": 1.0}, wrong, 1, 90.0, {"hoeffding-tree": right})
    lrn.learn([(0, label("a", True))], [shadowed], max_delay=60, wait=5, now=100)
    # Judged by its shadow prediction (right) against the served one (wrong),
    # whatever it would say now; the label learned by both, once.
    assert (contender.test.better, contender.test.worse, contender.test.compared) == (1, 0, 1)
    assert contender.quality.count == 1 and contender.learned == 1
    assert lrn.state.champion is not None and lrn.state.champion.count == 1
    # Not in the sample (no shadow prediction), or scored before the
    # challenger existed: learned, not compared.
    unscored = pending.encode({"x": 1.0}, wrong, 1, 90.0)
    older = pending.encode({"x": 1.0}, wrong, 0, 90.0, {"hoeffding-tree": right})
    lrn.learn(
        [(1, label("b", True)), (2, label("c", True))],
        [unscored, older],
        max_delay=60,
        wait=5,
        now=100,
    )
    assert contender.test.compared == 1 and contender.learned == 3
    # Scored by an older champion (before a promotion, rollback or reset
    # began a new one at version 5): nothing to compare with.
    lrn.state.began(5)
    stale = pending.encode({"x": 1.0}, wrong, 4, 90.0, {"hoeffding-tree": right})
    lrn.learn([(3, label("d", True))], [stale], max_delay=60, wait=5, now=100)
    assert contender.test.compared == 1 and contender.learned == 4


def test_challengers_models_are_kept_apart_from_the_state() -> None:
    lrn = learner()
    lrn.configure(Settings(challengers="hoeffding-tree,adaptive-random-forest"))
    for i in range(30):
        lrn.learn([(i, label(f"e{i}", i % 2 == 0))], [stored()], max_delay=60, wait=5, now=100)
    state, model, shadow = lrn.state.dumps()
    assert b"ARFClassifier" not in state and b"ARFClassifier" in shadow
    copy = LearnerState.loads(state, model, shadow)
    for name, contender in lrn.state.challengers.items():
        again = copy.challengers[name]
        assert again.learned == contender.learned == 30 and again.since == contender.since
        assert again.model.predict({"x": 1.0}) == contender.model.predict({"x": 1.0})
    with pytest.raises(BadSnapshot, match="without its challenger hoeffding-tree's model"):
        LearnerState.loads(state, model)


def test_snapshots_that_hold_their_challengers_inside_still_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lrn = learner()
    lrn.configure(Settings(challengers="hoeffding-tree"))
    lrn.learn([(0, label("a"))], [stored()], max_delay=60, wait=5, now=100)
    with monkeypatch.context() as patch:
        patch.setattr(LearnerState, "__getstate__", old_getstate)
        old = pickle.dumps(lrn.state)
    copy = LearnerState.loads(old)
    contender = copy.challengers["hoeffding-tree"]
    assert contender.learned == 1 and contender.since == 0
    assert contender.model.predict({"x": 1.0}) == lrn.state.challengers[
        "hoeffding-tree"
    ].model.predict({"x": 1.0})


def test_a_label_of_an_event_outside_the_kept_share_counts_unsampled_at_once() -> None:
    lrn = learner()
    lrn.configure(Settings(pending_sample=0.5))
    ids = [f"e{i}" for i in range(40)]
    outside = next(e for e in ids if not sampled(e, 0.5))
    inside = next(e for e in ids if sampled(e, 0.5))
    out = lrn.learn(
        [(0, label(outside)), (1, label(inside))], [None, None], max_delay=60, wait=30, now=10
    )
    # The sampled one waits for its features; the other never will have any.
    assert out.outcomes == {Outcome.UNSAMPLED: 1}
    assert [w.event.event_id for w in lrn.state.waiting] == [inside]


def test_a_label_without_features_waits_for_the_scored_stream_to_reach_its_time() -> None:
    lrn = learner()
    at = label("late-scored", at=1000.0)
    # Its wall-clock wait is over, but the scorers have not reached its time
    # (a replay whose labels run ahead of its events): it waits on.
    out = lrn.learn(lrn.due([(0, at)]), [None], max_delay=60, wait=5, now=2000, watermark=900)
    assert not out.outcomes and len(lrn.state.waiting) == 1
    out = lrn.learn(lrn.due([]), [None], max_delay=60, wait=5, now=2010, watermark=999.9)
    assert not out.outcomes
    # Scoring went past it (by the allowed lateness): its features would be
    # there; it gives up.
    out = lrn.learn(lrn.due([]), [None], max_delay=60, wait=5, now=2020, watermark=1000.0)
    assert out.outcomes == {Outcome.UNKNOWN: 1} and lrn.state.waiting == []
