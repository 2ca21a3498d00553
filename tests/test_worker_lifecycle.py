"""The worker's lifecycle on the real broker and Redis: readiness, a clean
stop mid-stream, and a hand-over of the learning with labels waiting for
their features."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events, sea_drift
from tests.harness import Reader, Worker, as_records, eventually, produce, wait_assigned

pytestmark = pytest.mark.integration


async def head_learned(store: Store, settings: Settings, n: int) -> dict[str, object] | None:
    meta = await store.head_meta(settings.model)
    return meta if meta and meta["learned"] >= n else None


async def test_ready_only_while_a_live_process_learns(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker]
) -> None:
    base = make_settings(kafka_session_timeout_seconds=6)
    scorer = spawn(base.model_copy(update={"role": "scorer"}))
    await wait_assigned([scorer], {base.topic_features: 4}, ready=False)

    async def waits_for_a_learner() -> list[str] | None:
        answer = scorer.ready() or {}
        why = answer.get("reasons", [])
        return why if why and all("training partition" in r for r in why) else None

    # Scoring works, but nobody learns: not ready, and it says why.
    assert await eventually("the scorer to miss its learner", waits_for_a_learner, 30)
    learner = spawn(
        base.model_copy(update={"role": "learner", "web_port": make_settings().web_port})
    )
    for worker in (learner, scorer):
        answer = await worker.wait_ready(60)
        assert answer["learner"] and answer["reasons"] == []
    # The learner dies: within its heartbeat's life, everyone says so.
    learner.kill()
    assert await eventually("the scorer to miss its learner again", waits_for_a_learner, 30)
    assert "no process learns" in scorer.tail(200)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_mid_stream_stops_within_seconds_and_loses_nothing(
    sig: signal.Signals,
    make_settings: Callable[..., Settings],
    spawn: Callable[[Settings], Worker],
    store: Store,
) -> None:
    settings = make_settings(kafka_session_timeout_seconds=6)
    worker = spawn(settings)
    await worker.wait_ready()
    n = 12_000
    events = list(qa_events(sea_drift(n, seed=5), 100, f"stop{sig.value}"))
    # 2,000 events/s with a label each: the stop comes half-way through.
    sending = asyncio.ensure_future(
        produce(settings.kafka_bootstrap, as_records(events, settings), rate=4000)
    )
    await eventually("2,000 labels learned", lambda: head_learned(store, settings, 2000), 60)
    seconds = worker.end(sig)
    stopped = await store.head_meta(settings.model)
    assert stopped is not None
    print(
        f"{sig.name}: exited in {seconds:.1f} s, {stopped['learned']} labels in its last snapshot"
    )
    assert seconds < 10
    assert "still in flight" not in worker.tail(400)  # everything settled in time

    successor = spawn(settings.model_copy(update={"web_port": make_settings().web_port}))
    await sending
    meta = await eventually("every label learned", lambda: head_learned(store, settings, n), 90)
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        predictions = await reader.until(
            "every event predicted", lambda v: len({p["event_id"] for p in v}) >= n, 60
        )
        predictions = await reader.to_end()
    per_event = Counter(p["event_id"] for p in predictions)
    duplicates = sum(per_event.values()) - len(per_event)
    outcomes = meta["outcomes"]
    assert isinstance(outcomes, dict)
    print(f"after the restart: {duplicates} duplicate predictions, outcomes {outcomes}")
    assert len(per_event) == n
    # Every label joined once (its claim) and learned once: none lost, none twice.
    assert meta["learned"] == n and outcomes["joined"] == n and await claims(store) == n
    assert duplicates == 0  # the stop settled what was in flight: nothing is read again
    assert successor.alive()


@pytest.mark.parametrize("end", ["kill", "stop"])
async def test_a_hand_over_learns_every_waiting_label_exactly_once(
    end: str,
    make_settings: Callable[..., Settings],
    spawn: Callable[[Settings], Worker],
    store: Store,
) -> None:
    base = make_settings(kafka_session_timeout_seconds=6, label_wait_seconds=300)
    scorer = spawn(base.model_copy(update={"role": "scorer"}))
    first, standby = (
        spawn(base.model_copy(update={"role": "learner", "web_port": make_settings().web_port}))
        for _ in range(2)
    )
    await wait_assigned([scorer, first, standby], {base.topic_features: 4, base.topic_training: 1})
    holds = base.topic_training in ((first.status() or {}).get("partitions") or {})
    owner, other = (first, standby) if holds else (standby, first)
    assert base.topic_training not in ((other.status() or {}).get("partitions") or {})
    await owner.wait_ready()

    # Labels come first: their features are not scored yet, so they wait.
    ids = [f"h{i}" for i in range(500)]
    labels = [
        (base.topic_labels, i, json.dumps({"event_id": i, "label": True}).encode()) for i in ids
    ]
    await produce(base.kafka_bootstrap, labels)

    async def all_waiting() -> dict[str, object] | None:
        meta = await store.head_meta(base.model)
        return meta if meta and meta["waiting"] == 500 else None

    await eventually("500 labels waiting in a snapshot", all_waiting, 30)
    getattr(owner, end)()

    async def other_learns() -> bool:
        learner = (other.status() or {}).get("learner")
        return bool(learner) and learner["waiting"] == 500  # type: ignore[index]

    await eventually("the standby to take the learning over", other_learns, 60)
    # The features come; no label arrives after them.
    features = [
        (base.topic_features, i, json.dumps({"event_id": i, "features": {"x": 1.0}}).encode())
        for i in ids
    ]
    await produce(base.kafka_bootstrap, features)
    meta = await eventually("500 labels learned", lambda: head_learned(store, base, 500), 60)
    outcomes = meta["outcomes"]
    assert isinstance(outcomes, dict)
    assert meta["learned"] == 500 and outcomes["joined"] == 500 and meta["waiting"] == 0
    assert await claims(store) == 500
    assert outcomes["unknown"] == outcomes["overflow"] == 0


async def test_a_topic_created_after_the_worker_joined_is_assigned_within_seconds(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker]
) -> None:
    # The safety net under provisioning: with Faust's default metadata age
    # (300 s) a topic the consumer did not see at its last look waited
    # minutes to be assigned.
    settings = make_settings()
    worker = spawn(settings)
    await worker.wait_ready()

    def owns_training() -> bool:
        return settings.topic_training in (worker.status() or {}).get("partitions", {})

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([settings.topic_training])

        async def lost() -> bool:
            return not owns_training()

        await eventually("the training partition gone", lost, 60)
        await admin.create_topics([NewTopic(settings.topic_training, 1, 1)])
        created = time.monotonic()

        async def back() -> bool:
            return owns_training()

        await eventually("the new training partition assigned", back, 60)
    finally:
        await admin.close()
    seconds = time.monotonic() - created
    print(f"a topic created after the worker joined was assigned {seconds:.1f} s later")
    assert seconds < 20
    assert worker.alive()


async def claims(store: Store) -> int:
    """Events claimed by a label: each joined once, whoever learned it."""
    return len([k async for k in store._redis.scan_iter(store._key("claim", "*"), count=1000)])


async def test_two_learners_at_once_learn_every_label_exactly_once(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    # The misconfiguration the README warns about, and what a stale owner
    # looks like: two processes own a training partition at once (an `all`
    # process in one group, a learner in the other) and keep writing on top
    # of each other. Each conflict must make one learn again, on the other's
    # version, what it had not written, and nothing twice.
    settings = make_settings(kafka_session_timeout_seconds=6)
    both = spawn(settings)
    learner = spawn(
        settings.model_copy(update={"role": "learner", "web_port": make_settings().web_port})
    )
    await wait_assigned([both, learner], {settings.topic_features: 4, settings.topic_training: 1})
    n = 6000
    events = list(qa_events(sea_drift(n, seed=9), 50, "two"))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=3000)
    meta = await eventually("every label learned", lambda: head_learned(store, settings, n), 90)
    outcomes = meta["outcomes"]
    assert isinstance(outcomes, dict)
    print(f"two learners: {meta['version']} versions, outcomes {outcomes}")
    assert meta["learned"] == n and outcomes["joined"] == n and await claims(store) == n
    versions = await store.versions(settings.model)
    learned_counts = [v["learned"] for v in versions]
    assert learned_counts == sorted(learned_counts)  # one line, never a fork
    # And they did get in each other's way: one learned again on top of the
    # other's version, or had a snapshot refused.
    logs = both.tail(5000) + learner.tail(5000)
    assert "again on top of version" in logs or "not written, Redis holds" in logs
