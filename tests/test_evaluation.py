"""``eddy replay``: history through a model equals River's
``progressive_val_score`` on the same labelled events, from files and from
the topics; what has no partner is counted and left out."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from river import datasets, evaluate, metrics

from app import catalog
from app.evaluation import pairs
from app.model import OnlineModel, present
from app.settings import Settings
from app.store import Store
from benchmarks.contenders import create_topics
from tests.harness import run_eddy


def river(delay: int) -> dict[str, float]:
    metric = metrics.Accuracy() + metrics.ROCAUC() + metrics.LogLoss() + metrics.F1()
    evaluate.progressive_val_score(
        datasets.Phishing(), catalog.build("logistic-regression"), metric, delay=delay or None
    )
    return {type(m).__name__: m.get() for m in metric}


def phishing() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    features, labels = [], []
    for i, (x, y) in enumerate(datasets.Phishing()):
        features.append({"event_id": f"p{i}", "features": x})
        labels.append({"event_id": f"p{i}", "label": y})
    return features, labels


def eddy_replay(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_eddy(settings, "replay", *args)


def test_pairs_follow_the_events_order_and_count_what_is_left_out() -> None:
    features = [b'{"event_id": "a", "features": {"x": 1}}', b'{"event_id": "b", "features": {}}']
    features += [b"not json", b'{"event_id": "a", "features": {"x": 9}}']  # redelivered
    labels = [b'{"event_id": "z", "label": 1}', b'{"event_id": "a", "label": 0}']
    found, left = pairs(features, labels)
    assert found == [({"x": 1}, 0)]
    assert left == {"unlabelled": 1, "orphan_labels": 1, "bad_lines": 1}


@pytest.mark.parametrize("delay", [0, 100])
def test_a_replay_from_files_equals_progressive_val_score(
    delay: int, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    features, labels = phishing()
    random.Random(7).shuffle(labels)  # labels in any order: the events' order counts
    (tmp_path / "f.jsonl").write_text("".join(json.dumps(e) + "\n" for e in features))
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(e) + "\n" for e in labels))
    report = tmp_path / "report.json"
    done = eddy_replay(
        make_settings(),
        *("--features", str(tmp_path / "f.jsonl"), "--labels", str(tmp_path / "l.jsonl")),
        *("--model", "logistic-regression", "--delay", str(delay), "--report", str(report)),
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(report.read_text())
    assert figures["pairs"] == 1250 and figures["metrics"] == river(delay)
    assert "Accuracy:" in done.stdout and "ROCAUC:" in done.stdout


@pytest.mark.integration
async def test_a_replay_of_a_stored_version_learns_on_from_it(
    make_settings: Callable[..., Settings], store: Store, tmp_path: Path
) -> None:
    features, labels = phishing()
    trained = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    for f, label in zip(features[:600], labels[:600], strict=True):
        trained.learn(f["features"], label["label"])
    await store.save_snapshot(trained.name, None, 1, b"", {"learned": 600}, trained.dumps())
    (tmp_path / "f.jsonl").write_text("".join(json.dumps(e) + "\n" for e in features[600:]))
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(e) + "\n" for e in labels[600:]))
    report = tmp_path / "report.json"
    done = eddy_replay(
        make_settings(),
        *("--features", str(tmp_path / "f.jsonl"), "--labels", str(tmp_path / "l.jsonl")),
        *("--version", "1", "--delay", "100", "--report", str(report)),
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(report.read_text())
    assert figures["model"] == "logistic-regression version 1" and figures["pairs"] == 650
    # River's own evaluation of the same stored model on the same events.
    metric = metrics.Accuracy() + metrics.ROCAUC() + metrics.LogLoss() + metrics.F1()
    later = zip(features[600:], labels[600:], strict=True)
    rest = [(present(f["features"]), y["label"]) for f, y in later]
    evaluate.progressive_val_score(rest, trained.copy().pipeline, metric, delay=100)
    assert figures["metrics"] == {type(m).__name__: m.get() for m in metric}
    missing = eddy_replay(
        make_settings(),
        *("--features", str(tmp_path / "f.jsonl"), "--labels", str(tmp_path / "l.jsonl")),
        *("--version", "7"),
    )
    assert missing.returncode == 1 and "no version 7 kept of logistic-regression" in missing.stderr


@pytest.mark.integration
async def test_a_replay_from_the_topics_over_a_time_range_equals_it_too(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    features, labels = phishing()
    await create_topics(
        settings.kafka_bootstrap, [settings.topic_features, settings.topic_labels], 4
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    base = int(time.time() * 1000) - 60_000
    try:
        for i, (f, label) in enumerate(zip(features, labels, strict=True)):
            key = f["event_id"].encode()
            await producer.send(
                settings.topic_features, json.dumps(f).encode(), key=key, timestamp_ms=base + i
            )
            await producer.send(
                settings.topic_labels, json.dumps(label).encode(), key=key, timestamp_ms=base + i
            )
        await producer.flush()
    finally:
        await producer.stop()
    since = datetime.fromtimestamp(base / 1000, UTC).isoformat()
    done = eddy_replay(settings, "--since", since, "--delay", "100", "--report", "/dev/stdout")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout[done.stdout.index("{") :])
    assert report["pairs"] == 1250 and report["metrics"] == river(100)


def test_a_missing_value_is_an_absent_key_as_the_live_model_has_it() -> None:
    found, _ = pairs(
        [b'{"event_id": "a", "features": {"x": null, "y": 2}}'], [b'{"event_id": "a", "label": 1}']
    )
    assert found == [({"y": 2}, 1)]
