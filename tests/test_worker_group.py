"""Several worker processes in one consumer group: one model, consistently."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from river import datasets

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events
from tests.conftest import both_redis
from tests.harness import Reader, Worker, as_records, eventually, produce, wait_assigned

pytestmark = pytest.mark.integration


async def learned(store: Store, settings: Settings, n: int) -> dict[str, object] | None:
    meta = await store.head_meta(settings.model)
    return meta if meta and meta["learned"] >= n else None


async def stream_phishing(
    settings: Settings, store: Store, prefix: str
) -> tuple[list[dict[str, Any]], dict[str, object]]:
    """Phishing's 1,250 events and labels through the workers: each event
    predicted exactly once; the predictions, and the snapshot meta once
    every label is learned."""
    events = list(qa_events(datasets.Phishing(), 50, prefix))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=500)
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        predictions = await reader.until("1250 predictions", lambda v: len(v) >= 1250, 60)
    meta = await eventually("1250 labels learned", lambda: learned(store, settings, 1250), 60)
    per_event = Counter(p["event_id"] for p in predictions)
    assert len(per_event) == 1250 and set(per_event.values()) == {1}
    return predictions, meta


async def share_features(first: Worker, second: Worker, settings: Settings) -> None:
    def owns_features(w: Worker) -> bool:
        return bool(((w.status() or {}).get("partitions") or {}).get(settings.topic_features))

    async def both_own_features() -> bool:
        return owns_features(first) and owns_features(second)

    await eventually("both workers to own feature partitions", both_own_features, 60)


@both_redis
async def test_two_workers_share_the_stream_and_one_learns(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    base = make_settings(kafka_session_timeout_seconds=6)
    first = spawn(base)
    second = spawn(base.model_copy(update={"web_port": make_settings().web_port}))
    await wait_assigned([first, second], {base.topic_features: 4, base.topic_training: 1})

    await share_features(first, second, base)

    predictions, meta = await stream_phishing(base, store, "g")
    async with Reader(base.kafka_bootstrap, base.topic_dead_letter) as reader:
        assert await reader.poll() == []

    versions = await store.versions(base.model)
    known = {v["version"] for v in versions}
    assert {p["model_version"] for p in predictions} <= known
    # One learner: versions form one line, each learning on top of the last.
    learned_counts = [v["learned"] for v in versions]
    assert learned_counts == sorted(learned_counts)
    assert meta["learned"] == 1250
    learners = [w for w in (first, second) if (w.status() or {}).get("learner")]
    assert len(learners) == 1


async def test_a_scorer_and_a_learner_split_the_work(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    base = make_settings(kafka_session_timeout_seconds=6)
    scorer = spawn(base.model_copy(update={"role": "scorer"}))
    learner = spawn(
        base.model_copy(update={"role": "learner", "web_port": make_settings().web_port})
    )
    await wait_assigned([scorer, learner], {base.topic_features: 4, base.topic_training: 1})
    partitions = [(w.status() or {}).get("partitions", {}) for w in (scorer, learner)]
    assert set(partitions[0]) == {base.topic_features, base.topic_labels}
    assert set(partitions[1]) == {base.topic_training}

    _, meta = await stream_phishing(base, store, "s")
    assert meta["learned"] == 1250

    # The learner learns; the scorer serves what it learned.
    assert (scorer.status() or {}).get("learner") is None
    assert ((learner.status() or {}).get("learner") or {}).get("learned") == 1250
    head = await store.head_version(base.model)

    async def scorer_serves_the_newest() -> bool:
        return (scorer.status() or {}).get("serving_version") == head

    await eventually("the scorer to serve the newest version", scorer_serves_the_newest, 30)


async def test_a_rebalance_commits_what_was_handled_before_it(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker]
) -> None:
    # No periodic commit during the test: only the rebalance can commit.
    base = make_settings(kafka_session_timeout_seconds=6, kafka_commit_interval_seconds=300)
    first = spawn(base)
    await wait_assigned([first], {base.topic_features: 4, base.topic_training: 1})
    before = [e for e in qa_events(datasets.Phishing(), None, "r", limit=600)]
    await produce(base.kafka_bootstrap, as_records(before, base), rate=2000)

    def distinct(n: int) -> Callable[[list[dict[str, Any]]], bool]:
        return lambda values: len({v["event_id"] for v in values}) >= n

    async with Reader(base.kafka_bootstrap, base.topic_predictions) as reader:
        await reader.until("600 predictions", distinct(600), 60)
        # A second process joins: every partition is revoked from the first,
        # which must commit what it handled, or the partitions' next owners
        # handle it again.
        second = spawn(base.model_copy(update={"web_port": make_settings().web_port}))
        await share_features(first, second, base)
        # Events on every partition (their keys are fixed, and so their
        # partitions): a partition's redelivery would come before them.
        after = [e for e in qa_events(datasets.Phishing(), None, "s", limit=200)]
        await produce(base.kafka_bootstrap, as_records(after, base), rate=2000)
        await reader.until("800 predictions", distinct(800), 60)
        predictions = await reader.to_end()

    per_event = Counter(p["event_id"] for p in predictions)
    assert len(per_event) == 800
    assert [e for e, n in per_event.items() if n > 1] == []
