"""Model versions across learners and processes, against the real Redis:
resume, hand-over, a stale learner, Redis emptied, a snapshot that does not
load."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator, Callable

import pytest
import redis

from app import catalog, metrics, pending
from app.control import Command
from app.learner import Learned, LearnerState, Outcome
from app.model import Features, OnlineModel, Prediction
from app.settings import Settings
from app.signing import Signer
from app.store import Store
from app.training import NoReceipt, Training, bootstrap, refresh
from schemas import ModelAction, TrainingEvent
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.integration

REFUSED_UNREADABLE = {"model": "logistic-regression", "reason": "unreadable"}


def untrained() -> LearnerState:
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    return LearnerState.fresh(model)


async def score(store: Store, *ids: str) -> None:
    served = Prediction(True, ((False, 0.5), (True, 0.5)))
    await store.put_pending([(i, pending.encode({"x": 1.0}, served, 0, 1e9)) for i in ids], 600)


def label(i: str) -> TrainingEvent:
    return TrainingEvent(event_id=i, label=True, label_at=1e9)


class Tally:
    """A receipt that notes what became of its records."""

    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def ack(self) -> None:
        self.log.append(f"ack {self.name}")

    def forget(self) -> None:
        self.log.append(f"forget {self.name}")


async def learn(training: Training, records: list[tuple[int, TrainingEvent]]) -> Learned:
    return await training.learn(records, NoReceipt())


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
async def twin(store: Store) -> AsyncIterator[Store]:
    """A second connection to the same keys: another process's store."""
    other = Store.connect(REDIS_URL, store._prefix, 2.0, store._history, signer=store._signer)
    yield other
    await other.close()


async def test_a_new_learner_resumes_without_relearning(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    served = await bootstrap(store, untrained())
    first = Training(store, settings, served)
    await score(store, "a", "b", "c")
    done: list[str] = []
    await first.learn([(0, label("a")), (1, label("b"))], Tally(done, "ab"))
    assert done == []  # not acknowledged before a snapshot holds it
    await first.flush()
    assert done == ["ack ab"] and served.version == 1

    # The process dies after learning offset 2 but before its snapshot.
    await learn(first, [(2, label("c"))])

    successor = Training(store, settings, await bootstrap(store, untrained()))
    redelivered = [(1, label("b")), (2, label("c"))]
    learned = await learn(successor, redelivered)
    # b is in the snapshot; c is reclaimed by its offset.
    assert learned.outcomes == {Outcome.JOINED: 1}
    await successor.flush()
    assert successor.learner is not None and successor.learner.state.learned == 3


async def test_serving_never_writes_a_version(store: Store) -> None:
    served = await bootstrap(store, untrained())
    assert served.version == 0 and await store.head_version("logistic-regression") is None


async def test_a_stale_learner_learns_on_top_of_the_newer_version(
    store: Store, twin: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    await score(store, "a", "b", "c")
    old = Training(store, settings, await bootstrap(store, untrained()))
    new = Training(twin, settings, await bootstrap(twin, untrained()))
    await learn(old, [(0, label("a"))])
    await old.flush()  # version 1: a
    await learn(old, [(1, label("b")), (2, label("c"))])  # not in a snapshot yet
    # Meanwhile another process took the partition over from version 1 and
    # learned b again (Kafka redelivered it: not committed).
    await learn(new, [(1, label("b"))])
    await new.flush()  # version 2: a, b
    # The old learner's next snapshot does not fork the model: it learns what
    # it held (c) on top of version 2, and b, which version 2 holds, not again.
    await old.flush()
    head = await store.load_snapshot("logistic-regression")
    assert head is not None and head.version == 3
    assert head.meta["learned"] == 3 and head.meta["offset"] == 2
    learned_counts = [v["learned"] for v in await store.versions("logistic-regression")]
    assert learned_counts == [0, 1, 2, 3]


async def test_a_snapshot_refused_by_compare_and_set_is_counted_and_resolved(
    store: Store,
    twin: Store,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await score(store, "a", "b")
    # The old learner snapshots after every batch; the new one on its timer.
    old = Training(
        store, make_settings(snapshot_interval_seconds=0.001), await bootstrap(store, untrained())
    )
    new = Training(
        twin, make_settings(snapshot_interval_seconds=60), await bootstrap(twin, untrained())
    )
    await learn(old, [(0, label("a"))])
    await old.flush()  # version 1, if ``learn`` came within the interval
    await learn(new, [(0, label("a"))])  # new resumes from version 1: nothing to learn
    join = store.join
    raced = False

    async def join_while_another_writes(claims: list[tuple[str, int]], ttl: int) -> object:
        nonlocal raced
        if not raced:  # between old's check of the head and its snapshot
            raced = True
            await learn(new, [(1, label("b"))])
            await new.flush()  # version 2
        return await join(claims, ttl)

    monkeypatch.setattr(store, "join", join_while_another_writes)
    model = {"model": "logistic-regression"}
    before = sample("eddy_snapshot_conflicts_total", model)
    done: list[str] = []
    await old.learn([(1, label("b"))], Tally(done, "b"))
    assert sample("eddy_snapshot_conflicts_total", model) == before + 1
    assert done == []  # its snapshot was refused: not acknowledged
    await old.flush()  # resolved: on top of version 2, where b already is
    assert done == ["ack b"]
    head = await store.load_snapshot("logistic-regression")
    assert head is not None and head.version == 3 and head.meta["learned"] == 2


async def test_a_new_owner_loads_at_once_and_learns_the_labels_waiting_in_the_snapshot(
    store: Store, twin: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    owner = Training(store, settings, await bootstrap(store, untrained()))
    # Three labels come before their features: they wait, in the snapshot.
    await learn(owner, [(i, label(e)) for i, e in enumerate("abc")])
    assert owner.learner is not None and len(owner.learner.state.waiting) == 3
    await owner.release()  # the partition moves
    taken_over = Training(twin, settings, await bootstrap(twin, untrained()))
    await taken_over.acquire()
    assert taken_over.learner is not None and len(taken_over.learner.state.waiting) == 3
    await score(store, "a", "b", "c")  # the features come
    # No new label arrives: the timer's flush alone learns them.
    learned = await taken_over.flush()
    assert learned.outcomes == {Outcome.JOINED: 3}
    head = await store.load_snapshot("logistic-regression")
    assert head is not None and head.meta["learned"] == 3 and head.meta["waiting"] == 0


async def test_a_released_learner_acknowledges_its_last_snapshot_and_stops(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    owns = True
    training = Training(store, settings, await bootstrap(store, untrained()), lambda: owns)
    await score(store, "a")
    done: list[str] = []
    await training.learn([(0, label("a"))], Tally(done, "a"))
    owns = False  # the consumer is giving the partition up
    await training.release()
    assert done == ["ack a"]
    head = await store.load_snapshot("logistic-regression")
    assert head is not None and head.meta["learned"] == 1
    # A batch still waiting for the lock is given back for the next owner.
    assert (await training.learn([(1, label("b"))], Tally(done, "b"))).outcomes == {}
    assert done == ["ack a", "forget b"]
    assert training.learner is None
    assert (await training.flush()).outcomes == {}


async def test_a_learner_revoked_while_it_learns_gives_its_records_back_unwritten(
    store: Store, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The revocation's bound passed before ``release`` got the lock: the batch
    # in hand is learned, but neither written nor acknowledged afterwards.
    settings = make_settings(snapshot_interval_seconds=0.001)
    owns = True
    training = Training(store, settings, await bootstrap(store, untrained()), lambda: owns)
    await score(store, "a", "b")
    done: list[str] = []
    await training.learn([(0, label("a"))], Tally(done, "a"))
    await training.flush()  # version 1, if ``learn`` came within the interval
    join = store.join

    async def revoked_meanwhile(claims: list[tuple[str, int]], ttl: int) -> object:
        nonlocal owns
        owns = False
        return await join(claims, ttl)

    monkeypatch.setattr(store, "join", revoked_meanwhile)
    await training.learn([(1, label("b"))], Tally(done, "b"))
    assert done == ["ack a", "forget b"]
    head = await store.head_meta("logistic-regression")
    assert head is not None and head["version"] == 1 and head["learned"] == 1
    assert training.learner is None


async def test_a_redis_emptied_gets_the_learners_model_back_as_the_next_version(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    served = await bootstrap(store, untrained())
    training = Training(store, settings, served)
    await score(store, "a", "b")
    await learn(training, [(0, label("a")), (1, label("b"))])
    await training.flush()
    assert served.version == 1
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(*client.scan_iter(f"{store._prefix}:*", count=1000))  # restarted empty
    client.close()
    await training.flush()  # noticed: written back, versions go on
    head = await store.load_snapshot("logistic-regression")
    assert head is not None and head.version == 2 and head.meta["learned"] == 2
    # A process that starts now serves the learned model, not an untrained one.
    assert (await bootstrap(store, untrained())).version == 2
    # Learning goes on; the lost features make labels unknown, never a crash.
    await score(store, "c")
    learned = await learn(training, [(2, label("c")), (3, label("a"))])
    assert learned.outcomes == {Outcome.JOINED: 1}
    assert training.learner is not None
    assert [w.event.event_id for w in training.learner.state.waiting] == ["a"]


async def test_a_lost_line_of_versions_is_followed_by_every_process(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    # Redis lost its data while no learner held the model: the learner that
    # comes next starts a new line from version 0, which every prediction
    # must name from then on.
    settings = make_settings(snapshot_interval_seconds=60)
    training = Training(store, settings, await bootstrap(store, untrained()))
    for i in range(3):
        await score(store, f"e{i}")
        await learn(training, [(i, label(f"e{i}"))])
        await training.flush()
    scorer = await bootstrap(store, untrained())
    assert scorer.version == 3
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(*client.scan_iter(f"{store._prefix}:*", count=1000))
    client.close()
    newcomer = Training(store, settings, await bootstrap(store, untrained()))
    await score(store, "f")
    await learn(newcomer, [(0, label("f"))])
    await newcomer.flush()  # versions 0 and 1 of the new line
    assert await refresh(store, scorer) and scorer.version == 1
    assert not await refresh(store, scorer)


async def test_a_snapshot_that_does_not_load_is_refused_and_the_version_in_hand_kept(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    served = await bootstrap(store, untrained())
    training = Training(store, settings, served)
    await score(store, "a", "b")
    await learn(training, [(0, label("a"))])
    await training.flush()
    other = await bootstrap(store, untrained())
    assert other.version == 1
    # Someone writes version 2: a pickle of something else than a learner.
    await store.save_snapshot("logistic-regression", 1, 2, pickle.dumps({"not": "a model"}), {})
    before = sample("eddy_snapshots_refused_total", REFUSED_UNREADABLE)
    assert not await refresh(store, other)
    assert not await refresh(store, other)  # refused once, not retried
    assert other.version == 1
    assert sample("eddy_snapshots_refused_total", REFUSED_UNREADABLE) == before + 1
    # A process starting now serves the newest version that loads.
    assert (await bootstrap(store, untrained())).version == 1
    # The learner goes on from its own state, on top of the refused version.
    await learn(training, [(1, label("b"))])
    await training.flush()
    head = await store.load_snapshot("logistic-regression")
    assert head is not None and head.version == 3 and head.meta["learned"] == 2
    assert await refresh(store, other) and other.version == 3


async def test_every_process_refreshes_to_the_newest_version(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    learner_side = await bootstrap(store, untrained())
    other_side = await bootstrap(store, untrained())
    training = Training(store, settings, learner_side)
    await score(store, "a")
    await learn(training, [(0, label("a"))])
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
    await learn(training, [(i, label(e)) for i, e in enumerate(ids)])
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


async def test_records_published_here_are_learned_ahead_of_the_topic_once_in_order(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    served = await bootstrap(store, untrained())
    training = Training(store, settings, served)
    # Nothing before the learner is loaded (at assignment).
    assert (await training.learn_ahead([(0, label("a"))])).outcomes == {}
    await training.acquire()
    await score(store, "a", "b", "c", "d")
    before = sample("eddy_labels_learned_ahead_total")
    # From the learner's next offset, as far as the offsets follow one another.
    learned = await training.learn_ahead([(0, label("a")), (1, label("b")), (3, label("d"))])
    assert learned.outcomes == {Outcome.JOINED: 2}
    assert served.live and served.learned == 2  # served at once
    assert sample("eddy_labels_learned_ahead_total") - before == 2
    await training.flush()  # a snapshot keeps what is held (3)
    # The topic brings every record: those learned ahead are skipped by
    # offset, the rest learned (offset 2 came from another process, say,
    # and 3, held past it, is learned as soon as 2 is); all are acknowledged
    # by the next snapshot.
    done: list[str] = []
    learned = await training.learn([(0, label("a")), (1, label("b"))], Tally(done, "0-1"))
    assert learned.outcomes == {}
    learned = await training.learn([(2, label("c"))], Tally(done, "2"))
    assert learned.outcomes == {Outcome.JOINED: 2}
    assert sample("eddy_labels_learned_ahead_total") - before == 3
    await training.learn([(3, label("d"))], Tally(done, "3"))
    await training.learn([(0, label("a"))], Tally(done, "0 again"))
    assert done == []
    await training.flush()
    assert done == ["ack 0-1", "ack 2", "ack 3", "ack 0 again"]
    assert training.learner is not None and training.learner.state.learned == 4
    # A process that does not own the learning takes nothing.
    other = Training(store, settings, served, owns=lambda: False)
    assert (await other.learn_ahead([(4, label("e"))])).outcomes == {}


async def test_labels_waiting_for_features_stored_here_are_tried_again_at_once(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    training = Training(store, settings, await bootstrap(store, untrained()))
    await training.acquire()
    # The label is published before its event's features are stored.
    learned = await training.learn_ahead([(0, label("early"))])
    assert learned.outcomes == {} and training.waiting == 1
    await score(store, "early")
    learned = await training.learn_ahead([], stored=1)
    assert learned.outcomes == {Outcome.JOINED: 1} and training.waiting == 0


async def test_the_learners_process_serves_what_it_learned_before_any_snapshot(
    store: Store, twin: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(snapshot_interval_seconds=60)
    served = await bootstrap(store, untrained())
    training = Training(store, settings, served)
    await score(store, "a", "b")
    untaught = served.model.predict({"x": 1.0})
    await learn(training, [(0, label("a")), (1, label("b"))])
    assert await store.head_version("logistic-regression") == 0  # no version since
    assert training.learner is not None
    assert served.live and served.model is training.learner.state.model
    assert (served.version, served.learned) == (0, 2)
    assert served.model.predict({"x": 1.0}) != untaught
    assert not await refresh(store, served)  # nothing in Redis is newer than what it learns

    # Once it lets go, the next version (another learner's) replaces it.
    await training.release()
    assert not served.live and served.version == 1
    other = Training(twin, settings, await bootstrap(twin, untrained()))
    await score(store, "c")
    await learn(other, [(2, label("c"))])
    await other.flush()
    assert await refresh(store, served) and (served.version, served.learned) == (2, 3)


async def test_serving_loads_the_model_without_the_learners_state(
    store: Store, make_settings: Callable[..., Settings]
) -> None:
    served = await bootstrap(store, untrained())
    model = untrained().model
    model.learn({"x": 1.0}, True)
    # A version whose learner state is unreadable, but whose model is sound.
    await store.save_snapshot("logistic-regression", None, 1, b"not a state", {}, model.dumps())
    assert await refresh(store, served) and served.version == 1
    assert served.model.predict({"x": 1.0}) == model.predict({"x": 1.0})
    # The learner needs the state: it refuses that version.
    training = Training(store, make_settings(), served)
    before = sample("eddy_snapshots_refused_total", REFUSED_UNREADABLE)
    await training.acquire()
    assert sample("eddy_snapshots_refused_total", REFUSED_UNREADABLE) == before + 1


async def test_operators_commands_become_versions_every_process_serves(
    store: Store, twin: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        snapshot_interval_seconds=60, snapshot_history=2, model_keep_every=2, models_kept=3
    )
    # This test's own retention: the fixture's store keeps the defaults.
    signer = Signer.from_settings(settings)
    store = Store.connect(REDIS_URL, settings.redis_prefix, 2.0, 2, 2, 3, signer=signer)
    try:
        await operate(store, twin, settings)
    finally:
        await store.close()


async def operate(store: Store, twin: Store, settings: Settings) -> None:
    served = await bootstrap(store, untrained())
    training = Training(store, settings, served)
    models = {}
    for i in range(6):  # versions 0 (untrained) to 6, one label each
        await score(store, f"e{i}")
        await learn(training, [(i, label(f"e{i}"))])
        await training.flush()
        models[served.version] = served.model.predict({"x": 1.0})
    assert served.version == 6 and await store.kept("logistic-regression") == [2, 4, 6]
    assert not await store.loadable("logistic-regression", 3)  # past the history, not kept

    async def obey(action: ModelAction, version: int | None = None) -> dict[str, object]:
        command = Command.new(action, version)
        await store.send_command("logistic-regression", command.dump())
        events = await training.obey()
        result = await store.command_result("logistic-regression", command.id)
        assert result is not None
        assert len(events) == (1 if result["done"] else 0)
        return result

    rolled = await obey(ModelAction.ROLLBACK, 2)
    assert rolled["done"] and rolled["version"] == 7 and rolled["source_version"] == 2
    assert served.model.predict({"x": 1.0}) == models[2]  # the learner's own process
    other = await bootstrap(twin, untrained())
    assert other.version == 7 and other.model.predict({"x": 1.0}) == models[2]
    meta = await store.head_meta("logistic-regression")
    assert meta is not None and meta["event"]["action"] == "rollback"
    assert 7 in await store.kept("logistic-regression")  # an operator's version is kept

    refused = await obey(ModelAction.ROLLBACK, 3)
    assert refused == {"done": False, "error": "version 3's model is not kept any more"}

    assert (await obey(ModelAction.FREEZE))["done"]
    await score(store, "f")
    learned = await learn(training, [(6, label("f"))])
    assert learned.outcomes == {Outcome.FROZEN: 1}
    assert training.learner is not None and training.learner.state.learned == 6
    assert (await obey(ModelAction.UNFREEZE))["done"]


async def test_every_process_scores_with_the_learners_challengers_in_shadow(
    store: Store, twin: Store, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(challengers="hoeffding-tree", snapshot_interval_seconds=60)
    learner_side = await bootstrap(store, untrained())
    training = Training(store, settings, learner_side)
    await score(store, "a", "b")
    await learn(training, [(0, label("a")), (1, label("b"))])
    # The learner's own process scores with its live challenger...
    assert training.learner is not None
    live = training.learner.state.challengers["hoeffding-tree"].model
    assert learner_side.shadows == {"hoeffding-tree": live}
    await training.flush()  # ... and writes it with the version
    # Another process loads it with the version, as it loads the model.
    other = await bootstrap(twin, untrained())
    assert other.version == 1 and set(other.shadows) == {"hoeffding-tree"}
    x: Features = {"x": 1.0}
    assert other.shadows["hoeffding-tree"].predict(x) == live.predict(x)
    # Challengers dropped from the settings: the next version has none, and
    # a process that refreshes to it stops scoring in shadow.
    follower = await bootstrap(store, untrained())
    assert follower.version == 1 and follower.shadows
    plain = Training(twin, make_settings(snapshot_interval_seconds=60), other)
    await score(twin, "c")
    await learn(plain, [(2, label("c"))])
    await plain.flush()
    assert await refresh(store, follower) and follower.version == 2 and follower.shadows == {}
