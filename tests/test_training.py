"""Model versions across learners and processes, against the real Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app import catalog, metrics, pending
from app.errors import SnapshotConflict
from app.learner import LearnerState, Outcome
from app.model import OnlineModel, Prediction
from app.settings import Settings
from app.store import Store
from app.training import Training, bootstrap, refresh
from schemas import TrainingEvent

pytestmark = pytest.mark.integration


def untrained() -> LearnerState:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    return LearnerState.fresh(model)


async def score(store: Store, *ids: str) -> None:
    served = Prediction(True, ((False, 0.5), (True, 0.5)))
    await store.put_pending([(i, pending.encode({"x": 1.0}, served, 0, 1e9)) for i in ids], 600)


def label(i: str) -> TrainingEvent:
    return TrainingEvent(event_id=i, label=True, label_at=1e9)


async def test_a_new_learner_resumes_without_relearning(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    served = await bootstrap(store, untrained())
    first = Training(store, settings, served)
    await score(store, "a", "b", "c")
    acked: list[int] = []
    await first.learn([(0, label("a")), (1, label("b"))], [lambda: acked.append(0)])
    assert acked == []  # not acknowledged before a snapshot holds it
    await first.flush()
    assert acked == [0] and served.version == 1

    # The process dies after learning offset 2 but before its snapshot.
    await first.learn([(2, label("c"))], [])

    successor = Training(store, settings, await bootstrap(store, untrained()))
    redelivered = [(1, label("b")), (2, label("c"))]
    learned = await successor.learn(redelivered, [])
    assert learned.outcomes == {
        Outcome.JOINED: 1
    }  # b is in the snapshot; c is reclaimed by its offset
    await successor.flush()
    assert successor.learner is not None and successor.learner.state.learned == 3


def conflicts() -> float:
    labels = {"model": "logistic-regression"}
    return metrics.REGISTRY.get_sample_value("eddy_snapshot_conflicts_total", labels) or 0.0


async def test_a_stale_learner_cannot_fork_the_model(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    await score(store, "a", "b")
    old = Training(store, settings, await bootstrap(store, untrained()))
    new = Training(store, settings, await bootstrap(store, untrained()))
    await old.learn([(0, label("a"))], [])
    await new.learn([(0, label("a")), (1, label("b"))], [])
    await new.flush()
    before = conflicts()
    with pytest.raises(SnapshotConflict):
        await old.flush()
    assert conflicts() == before + 1
    head = await store.load_snapshot("logistic-regression")
    assert head is not None and head.version == 1 and head.meta["learned"] == 2
    # The loser forgot its fork; its next batch resumes from the winner's version.
    assert old.learner is None
    await old.learn([(1, label("b"))], [])
    assert old.learner is not None and old.learner.version == 1
    assert old.learner.state.learned == 2


async def test_every_process_refreshes_to_the_newest_version(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    learner_side = await bootstrap(store, untrained())
    other_side = await bootstrap(store, untrained())
    training = Training(store, settings, learner_side)
    await score(store, "a")
    await training.learn([(0, label("a"))], [])
    await training.flush()
    assert other_side.version == 0
    assert await refresh(store, other_side) and other_side.version == 1
    assert not await refresh(store, other_side)


async def test_waiting_labels_are_retried_a_batch_at_a_time_while_it_pays(
    store: Store, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(snapshot_interval_seconds=60, batch_max_events=10)
    training = Training(store, settings, await bootstrap(store, untrained()))
    ids = [f"e{i}" for i in range(50)]
    claimed: list[int] = []
    join = store.join

    async def counted(claims: list[tuple[str, int]], ttl: int) -> list[bytes | None]:
        claimed.append(len(claims))
        return await join(claims, ttl)

    monkeypatch.setattr(store, "join", counted)
    # Fifty labels come before their features: all wait.
    await training.learn([(i, label(e)) for i, e in enumerate(ids)], [])
    assert training.learner is not None and len(training.learner.state.waiting) == 50
    # The scorer has stored the first 25: the retry stops after the first
    # batch that resolved less than half of its labels.
    await score(store, *ids[:25])
    claimed.clear()
    learned = await training.flush()
    assert learned.outcomes == {Outcome.JOINED: 25} and claimed == [10, 10, 10, 10]
    assert len(training.learner.state.waiting) == 25
    # The next retries start with the labels not tried yet, and take turns.
    await score(store, *ids[25:])
    claimed.clear()
    learned = await training.flush()
    assert learned.outcomes == {Outcome.JOINED: 25} and claimed == [10, 10, 5]
    assert training.learner.state.waiting == [] and training.learner.state.learned == 50
