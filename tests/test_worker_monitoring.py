"""Metrics and drift events of a running worker, on real Kafka and Redis."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from river import datasets, metrics

from app.settings import Settings
from app.store import Store
from demo.stream import qa_events
from tests.conftest import both_redis
from tests.harness import Reader, Worker, as_records, eventually, produce, wait_assigned
from tests.test_worker_group import learned

pytestmark = pytest.mark.integration


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        data: dict[str, Any] = json.load(response)
        return data


async def test_exported_quality_equals_offline_metrics_on_served_predictions(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings()
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})
    events = list(qa_events(datasets.Phishing(), 100, "m"))
    await produce(settings.kafka_bootstrap, as_records(events, settings), rate=1000)
    await eventually("1250 labels learned", lambda: learned(store, settings, 1250), 60)
    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        predictions = await reader.until("1250 predictions", lambda v: len(v) >= 1250, 30)

    served: dict[str, dict[str, object]] = {}
    for p in predictions:
        served.setdefault(p["event_id"], p)
    offline = {
        "accuracy": metrics.Accuracy(),
        "roc_auc": metrics.ROCAUC(),
        "log_loss": metrics.LogLoss(),
        "f1": metrics.F1(),
    }
    for kind, e in events:
        if kind == "labels":
            p = served[e["event_id"]]
            probabilities = p["probabilities"]
            assert isinstance(probabilities, dict)
            proba = {json.loads(k): v for k, v in probabilities.items()}
            for m in offline.values():
                m.update(e["label"], p["prediction"] if m.requires_labels else proba)

    def exported() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        values = worker.metrics()
        joined = values.get(("eddy_label_outcomes_total", (("outcome", "joined"),)), 0)
        return values if joined == 1250 else None

    async def probe() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        return exported()

    values = await eventually("the learner's metrics", probe, 30)

    def quality(values: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> list[float]:
        return [
            values.get(("eddy_model_quality", (("metric", name), ("window", "all"))), math.nan)
            for name in offline
        ]

    # The quality gauges are read once a second: they come to River's figures.
    async def quality_reported() -> bool:
        return quality(worker.metrics()) == pytest.approx(
            [m.get() for m in offline.values()], abs=1e-9
        )

    await eventually("the quality reported", quality_reported, 5)
    assert values[("eddy_events_scored_total", ())] == 1250
    assert values[("eddy_predictions_published_total", ())] == 1250
    assert values[("eddy_label_delay_seconds_count", ())] == 1250
    assert values[("eddy_model_version", (("model", settings.model),))] >= 1
    # Each learned label is served by the learner's process at once.
    assert values[("eddy_label_served_seconds_count", (("path", "live"),))] == 1250
    assert values[("eddy_label_received_seconds_count", ())] == 1250

    # The rolling window (the last 1000 labels) is read once a second: the
    # gauge comes to equal what /status computes when asked.
    status = worker.status()
    assert status is not None and status["learner"] is not None
    rolling = status["learner"]["quality_rolling"]

    async def rolling_reported() -> bool:
        values = worker.metrics()
        key = ("eddy_model_quality", (("metric", "accuracy"), ("window", "rolling")))
        return values.get(key) == pytest.approx(rolling["accuracy"], abs=1e-12)

    await eventually("the rolling window reported", rolling_reported, 5)


def shifting_features(n: int, shift_from: int, seed: int) -> list[tuple[str, str, bytes]]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        mean = 3.0 if i >= shift_from else 0.0
        x = {"x0": rng.gauss(mean, 1), "x1": rng.gauss(0, 1), "c": rng.choice("abc")}
        records.append(("", f"d-{i}", json.dumps({"event_id": f"d-{i}", "features": x}).encode()))
    return records


@both_redis
async def test_a_feature_shift_raises_one_drift_event_and_a_stationary_stream_none(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker]
) -> None:
    window = 1.5
    settings = make_settings(
        drift_window_seconds=window, drift_min_events=200, allowed_lateness_seconds=1
    )
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})

    rate, stationary, shifted = 500, 3500, 3000  # about 7 s, then 6 s
    records = [
        (settings.topic_features, key, value)
        for _, key, value in shifting_features(stationary + shifted, stationary, seed=11)
    ]
    started = time.time()
    await produce(settings.kafka_bootstrap, records[:stationary], rate=rate)
    shift_at = time.time()
    await produce(settings.kafka_bootstrap, records[stationary:], rate=rate)

    async with Reader(settings.kafka_bootstrap, settings.topic_drift) as reader:
        drifts = await reader.until(
            "a drift event for x0", lambda v: any(d["subject"] == "x0" for d in v), 30
        )
        # Two more windows: a second alarm for the same shift would show now.
        await reader.until("two more windows", lambda v: time.time() > shift_at + 9 * window, 30)
        drifts = reader.values

    assert all(d["window_start"] >= shift_at - window for d in drifts), drifts
    assert [d["subject"] for d in drifts] == ["x0"], drifts
    event = drifts[0]
    assert event["kind"] == "feature" and event["detector"] == "psi"
    assert event["statistic"] > settings.drift_psi_threshold
    assert started - window <= event["reference_start"] < shift_at

    status = get_json(f"http://127.0.0.1:{settings.web_port}/drift")
    assert {"x0", "x1", "c"} <= set(status["statistics"])
    assert [e["subject"] for e in status["events"]] == ["x0"]
    assert worker.alive()


async def test_a_replayed_hour_is_judged_as_it_happened_no_false_alarm_no_label_expired(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    # An hour of stationary events, one each 0.3 s, each labelled a minute
    # later (in event time: the label's Kafka timestamp), replayed in
    # seconds. In processing time the hour would fall in one or two windows
    # and every label would look hours late or early.
    settings = make_settings(
        drift_window_seconds=300,
        drift_min_events=500,
        allowed_lateness_seconds=30,
        label_max_delay_seconds=120,
    )
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})
    start = (int(time.time()) // 300 - 36) * 300  # three hours ago, on a window
    n, step = 12_000, 0.3
    rng = random.Random(17)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for i in range(n):
            at = start + i * step
            x0 = rng.gauss(0, 1)
            x = {"x0": x0, "x1": rng.gauss(0, 1), "c": rng.choice("abc")}
            when = datetime.fromtimestamp(at, UTC).isoformat()
            event = json.dumps({"event_id": f"h-{i}", "features": x, "occurred_at": when})
            label = json.dumps({"event_id": f"h-{i}", "label": x0 > 0})
            key = str(i).encode()
            sent.append(await producer.send(settings.topic_features, event.encode(), key=key))
            sent.append(
                await producer.send(
                    settings.topic_labels,
                    label.encode(),
                    key=key,
                    timestamp_ms=round((at + 60) * 1000),
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()

    async def learned_all() -> dict[str, int] | None:
        meta = await store.head_meta(settings.model) or {}
        outcomes: dict[str, int] = meta.get("outcomes", {})
        return outcomes if sum(outcomes.values()) >= n else None

    outcomes = await eventually("every label's outcome", learned_all, 90)
    assert outcomes["joined"] == n and outcomes["expired"] == 0

    judged = ("eddy_drift_windows_judged_total", ())

    async def hour_judged() -> bool:
        return worker.metrics().get(judged, 0) >= 11  # all but the last, still open

    await eventually("the hour's windows judged one by one", hour_judged, 30)
    status = get_json(f"http://127.0.0.1:{settings.web_port}/drift")
    assert status["statistics"]["x0"]["window_start"] >= start + 10 * 300
    async with Reader(settings.kafka_bootstrap, settings.topic_drift) as reader:
        alarms = [d for d in await reader.to_end() if d["kind"] == "feature"]
    # (The predictions may drift as the model learns: not asserted here.)
    assert alarms == []


async def test_labels_that_come_before_their_events_wait_for_the_scorers_to_get_there(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    # A replay whose labels are all read before their events: each waits
    # well past its one second of wall-clock wait, until the scored stream
    # has passed its time (in event time), and is then learned.
    settings = make_settings(label_wait_seconds=1, allowed_lateness_seconds=5)
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})
    start, n = time.time() - 3600, 500
    rng = random.Random(3)
    events, labels = [], []
    for i in range(n):
        x0 = rng.gauss(0, 1)
        when = datetime.fromtimestamp(start + i, UTC).isoformat()
        event = {"event_id": f"w-{i}", "features": {"x0": x0}, "occurred_at": when}
        events.append((settings.topic_features, f"w-{i}", json.dumps(event).encode()))
        label = {"event_id": f"w-{i}", "label": x0 > 0, "occurred_at": when}
        labels.append((settings.topic_labels, f"w-{i}", json.dumps(label).encode()))
    await produce(settings.kafka_bootstrap, labels)

    async def waiting() -> bool:
        meta = await store.head_meta(settings.model) or {}
        return bool(meta.get("waiting") == n)

    await eventually("every label waiting", waiting, 30)
    await asyncio.sleep(3)  # three times its wall-clock wait: still waiting
    assert await waiting()
    await produce(settings.kafka_bootstrap, events)

    async def learned_all() -> dict[str, int] | None:
        meta = await store.head_meta(settings.model) or {}
        outcomes: dict[str, int] = meta.get("outcomes", {})
        return outcomes if outcomes.get("joined") == n else None

    outcomes = await eventually("every label learned", learned_all, 60)
    assert outcomes["unknown"] == 0
