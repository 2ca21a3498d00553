"""A killed worker comes back with its learned model; labels in flight at the
kill are neither lost nor learned twice."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from river import datasets

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events
from tests.conftest import both_redis
from tests.harness import Reader, Worker, as_records, eventually, produce, wait_assigned
from tests.test_worker_group import learned

pytestmark = pytest.mark.integration


@both_redis
async def test_killed_worker_resumes_from_its_snapshot(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(kafka_session_timeout_seconds=6)
    topics = {settings.topic_features: 4, settings.topic_training: 1}
    events = list(qa_events(datasets.Phishing(), 0, "r"))
    first_half, second_half = events[:1600], events[1600:]

    worker = spawn(settings)
    await wait_assigned([worker], topics)
    await produce(settings.kafka_bootstrap, as_records(first_half, settings), rate=800)
    await eventually("300 labels learned", lambda: learned(store, settings, 300), 60)
    worker.kill()  # mid-stream: some labels learned, some not yet snapshotted
    before = await store.load_snapshot(settings.model)
    assert before is not None

    successor = spawn(settings.model_copy(update={"web_port": make_settings().web_port}))
    await wait_assigned([successor], topics)
    await produce(settings.kafka_bootstrap, as_records(second_half, settings), rate=800)
    meta = await eventually("1250 labels learned", lambda: learned(store, settings, 1250), 90)

    assert meta["learned"] == 1250
    outcomes = meta["outcomes"]
    assert isinstance(outcomes, dict)
    # Redelivered labels are counted as duplicates, never learned twice.
    assert outcomes["joined"] == 1250
    assert outcomes["unknown"] == outcomes["expired"] == outcomes["invalid"] == 0

    # The successor's predictions came from the learned model, not version 0.
    second_ids = {e["event_id"] for kind, e in second_half if kind == "features"}
    versions = {v["version"]: v["learned"] for v in await store.versions(settings.model)}
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        predictions = await reader.until(
            "successor's predictions",
            lambda v: second_ids <= {p["event_id"] for p in v},
            60,
        )
    resumed = [versions[p["model_version"]] for p in predictions if p["event_id"] in second_ids]
    assert min(resumed) >= before.meta["learned"]
    labels = {e["event_id"]: e["label"] for kind, e in second_half if kind == "labels"}
    served = {p["event_id"]: p["prediction"] for p in predictions if p["event_id"] in second_ids}
    accuracy = sum(served[i] == labels[i] for i in served) / len(served)
    print(f"accuracy after the restart: {accuracy:.3f} ({len(served)} events)")
    assert accuracy > 0.8  # an untrained model scores about 0.45 here
