"""Operators' commands: what each does to the learner's state (pure)."""

from __future__ import annotations

import pytest

from app import catalog
from app.control import Command, apply
from app.errors import CommandRefused
from app.learner import Learner, LearnerState, Outcome
from app.model import OnlineModel, Prediction
from app.pending import encode
from schemas import ModelAction, TrainingEvent


def state() -> LearnerState:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    return LearnerState.fresh(model)


def command(action: ModelAction, version: int | None = None) -> Command:
    return Command.new(action, version)


def test_a_rollback_serves_the_old_model_and_learns_on_from_it() -> None:
    s, old = state(), OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    s.pinned = 3
    reason = apply(command(ModelAction.ROLLBACK, 7), s, old)
    assert s.model is old and s.pinned is None and s.learns
    assert reason == "rolled back to version 7"


def test_a_pin_serves_a_version_and_stops_learning_until_unpinned() -> None:
    s, old = state(), OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    apply(command(ModelAction.PIN, 4), s, old)
    assert s.model is old and s.pinned == 4 and not s.learns
    assert "unpinned" in apply(command(ModelAction.UNPIN), s, None)
    assert s.pinned is None and s.learns


def test_freeze_and_unfreeze_toggle_learning_and_refuse_to_repeat() -> None:
    s = state()
    apply(command(ModelAction.FREEZE), s, None)
    assert s.frozen and not s.learns
    with pytest.raises(CommandRefused, match="frozen already"):
        apply(command(ModelAction.FREEZE), s, None)
    apply(command(ModelAction.UNFREEZE), s, None)
    with pytest.raises(CommandRefused, match="not frozen"):
        apply(command(ModelAction.UNFREEZE), s, None)
    with pytest.raises(CommandRefused, match="nothing is pinned"):
        apply(command(ModelAction.UNPIN), s, None)


def test_a_version_whose_model_is_gone_or_of_another_kind_is_refused_and_nothing_changes() -> None:
    s = state()
    model = s.model
    with pytest.raises(CommandRefused, match="not kept"):
        apply(command(ModelAction.ROLLBACK, 2), s, None)
    regressor = OnlineModel("linear-regression", catalog.build("linear-regression"))
    with pytest.raises(CommandRefused, match="is a regressor"):
        apply(command(ModelAction.PIN, 2), s, regressor)
    assert s.model is model and s.pinned is None


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"id": "a", "action": "rollback", "requested_at": 0}, "needs a version"),
        ({"id": "a", "action": "freeze", "version": 3, "requested_at": 0}, "takes no version"),
        ({"id": "a", "action": "explode", "requested_at": 0}, "not a command"),
        ({"id": "a", "action": "pin", "version": -1, "requested_at": 0}, "no version -1"),
        ({"action": "freeze"}, "not a command"),
    ],
)
def test_malformed_commands_are_refused_with_a_reason(raw: dict[str, object], error: str) -> None:
    with pytest.raises(CommandRefused, match=error):
        Command.parse(raw)


def test_a_frozen_learner_joins_and_counts_labels_without_learning_them() -> None:
    s = state()
    s.frozen = True
    learner = Learner(s, 0)
    served = Prediction(True, ((False, 0.4), (True, 0.6)))
    record = encode({"x": 1.0}, served, 0, 90.0)
    before = s.model.dumps()
    out = learner.learn(
        [(0, TrainingEvent(event_id="a", label=False, label_at=100.0))],
        [record],
        max_delay=60,
        wait=5,
        now=100,
    )
    assert out.outcomes == {Outcome.FROZEN: 1}
    assert s.learned == 0 and s.quality.count == 1  # counted in the live quality
    assert s.model.dumps() == before  # not learned
