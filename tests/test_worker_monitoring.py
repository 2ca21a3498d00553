"""Metrics and drift events of a running worker, on real Kafka and Redis."""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
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
    for name, metric in offline.items():
        key = ("eddy_model_quality", (("metric", name), ("window", "all")))
        assert values[key] == pytest.approx(metric.get(), abs=1e-9), name
    assert values[("eddy_events_scored_total", ())] == 1250
    assert values[("eddy_predictions_published_total", ())] == 1250
    assert values[("eddy_label_delay_seconds_count", ())] == 1250
    assert values[("eddy_model_version", (("model", settings.model),))] >= 1
    # Each learned label is served by the learner's process at once.
    assert values[("eddy_label_served_seconds_count", (("path", "live"),))] == 1250

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
    settings = make_settings(drift_window_seconds=window, drift_min_events=200)
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
