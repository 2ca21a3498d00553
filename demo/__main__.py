"""``python -m demo``: stream real data to a running worker and watch it learn.

One stream in two parts: River's Phishing dataset, then a SEA stream whose
concept flips half-way. Labels arrive ``--delay`` events after their
features. Every second a line shows what was sent, what the worker predicted
and learned, and its live accuracy. At the end the demo checks what it
exists to show: every event predicted, every label learned; it exits 1, with
the reason, if either did not happen. Its last line puts the worker's live
accuracy next to River's ``progressive_val_score`` on the same stream, with
the same model and the same delay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from river import evaluate, metrics

from app import catalog
from app.kafka_auth import client_options
from app.settings import Settings
from app.signing import Signer
from app.store import Store
from demo.stream import QaEvent, Sample, phishing, qa_events, sea_drift
from monitoring import report as dashboard

PHISHING_EVENTS = 1250


class Progress:
    """What the demo saw: predictions received, scored against the labels it sent."""

    def __init__(self, window: int = 500) -> None:
        self.labels: dict[str, Any] = {}
        self.predictions: dict[str, Any] = {}
        self.recent: deque[bool] = deque(maxlen=window)
        self.features_sent = 0
        self.labels_sent = 0
        self.sending = True
        self.caught_up = asyncio.Event()

    def predicted(self, event_id: str, prediction: Any) -> None:
        if event_id in self.predictions:
            return
        self.predictions[event_id] = prediction
        if event_id in self.labels:
            self.recent.append(prediction == self.labels[event_id])
        self.check()

    def check(self) -> None:
        if not self.sending and len(self.predictions) >= self.features_sent:
            self.caught_up.set()

    def labelled(self, event_id: str, label: Any) -> None:
        self.labels[event_id] = label
        if event_id in self.predictions:
            self.recent.append(self.predictions[event_id] == label)

    def rolling_accuracy(self) -> float | None:
        return sum(self.recent) / len(self.recent) if self.recent else None


def samples(sea_events: int) -> Iterator[Sample]:
    """The demo's stream: Phishing, then SEA with its concept flip."""
    return itertools.chain(phishing(), sea_drift(sea_events))


def phase(event_id: str) -> str:
    return "phishing" if int(event_id.rsplit("-", 1)[1]) < PHISHING_EVENTS else "sea-drift"


def river_accuracy(settings: Settings, sea_events: int, delay: int) -> float:
    """River's progressive validation of the same model on the same stream."""
    metric = metrics.Accuracy()
    model = catalog.build(settings.model)
    evaluate.progressive_val_score(samples(sea_events), model, metric, delay=delay)
    return float(metric.get())


async def read_predictions(consumer: AIOKafkaConsumer, progress: Progress) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=200, max_records=5000)
        for records in batches.values():
            for record in records:
                p = json.loads(record.value)
                progress.predicted(p["event_id"], p["prediction"])


class Learning:
    """What the model has learned since the demo began (the head's metadata)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.model = store, settings.model
        self.before = 0
        self.meta: dict[str, Any] = {}

    async def read(self) -> dict[str, Any]:
        self.meta = await self.store.head_meta(self.model) or {}
        return self.meta

    @property
    def learned(self) -> int:
        return int(self.meta.get("learned", 0)) - self.before


async def report(progress: Progress, learning: Learning, now: list[str]) -> None:
    while True:
        await asyncio.sleep(1)
        await learning.read()
        print(line(progress, learning, now[0]), flush=True)


def line(progress: Progress, learning: Learning, where: str) -> str:
    meta = learning.meta
    quality = meta.get("quality", {})
    rolling = progress.rolling_accuracy()
    return (
        f"[{where:9}] sent {progress.features_sent:6} events, {progress.labels_sent:6} labels | "
        f"predictions {len(progress.predictions):6} | learned {learning.learned:6} "
        f"(model v{meta.get('version', 0)}) | accuracy: whole stream "
        f"{quality.get('accuracy', 0):.3f}, last {len(progress.recent)} "
        f"{'-' if rolling is None else f'{rolling:.3f}'}"
    )


async def send(
    producer: AIOKafkaProducer,
    settings: Settings,
    events: Iterable[QaEvent],
    rate: float,
    progress: Progress,
    now: list[str],
    delay: int,
) -> None:
    started = time.monotonic()
    for sent, (kind, event) in enumerate(events):
        ahead = started + sent / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
        topic = settings.topic_features if kind == "features" else settings.topic_labels
        await producer.send(topic, json.dumps(event).encode(), key=event["event_id"].encode())
        if kind == "features":
            progress.features_sent += 1
            if phase(event["event_id"]) != now[0]:
                now[0] = phase(event["event_id"])
                print(f"--- {now[0]}: labels arrive {delay} events late")
        else:
            progress.labels_sent += 1
            progress.labelled(event["event_id"], event["label"])
    await producer.flush()


async def topic_partitions(producer: AIOKafkaProducer, topic: str) -> set[int]:
    """The topic's partitions, once the worker has created it."""
    for _ in range(30):
        with contextlib.suppress(KafkaError):
            partitions: set[int] = await producer.partitions_for(topic)
            return partitions
    raise SystemExit(f"topic {topic} does not exist: is the worker running?")


async def drain(progress: Progress, learning: Learning, within: float) -> None:
    """Until every event is predicted and every label learned, or ``within`` s."""
    deadline = time.monotonic() + within
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(progress.caught_up.wait(), within)
    while time.monotonic() < deadline:
        await learning.read()
        if learning.learned >= progress.labels_sent:
            return
        await asyncio.sleep(0.5)


def verdict(progress: Progress, learning: Learning) -> list[str]:
    """What the demo exists to show and did not happen (nothing: success)."""
    failures = []
    missing = progress.features_sent - len(progress.predictions)
    if missing:
        failures.append(f"{missing} of {progress.features_sent} events got no prediction")
    if learning.learned < progress.labels_sent:
        failures.append(f"the model learned {learning.learned} of {progress.labels_sent} labels")
    return failures


async def run(args: argparse.Namespace) -> int:
    settings = Settings()
    store = Store.connect(
        settings.redis_url,
        settings.redis_prefix,
        settings.redis_timeout_seconds,
        1,
        signer=Signer.from_settings(settings),
    )
    events = qa_events(samples(args.sea_events), args.delay, f"demo-{time.strftime('%H%M%S')}")
    consumer = AIOKafkaConsumer(**client_options(settings))
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=5)
    await consumer.start()
    await producer.start()
    progress, learning, now = Progress(), Learning(store, settings), ["starting"]
    recorder = dashboard.Recorder()
    try:
        learning.before = int((await learning.read()).get("learned", 0))
        partitions = await topic_partitions(producer, settings.topic_predictions)
        consumer.assign([TopicPartition(settings.topic_predictions, p) for p in partitions])
        await consumer.seek_to_end()
        reader = asyncio.create_task(read_predictions(consumer, progress))
        reporter = asyncio.create_task(report(progress, learning, now))
        worker = args.worker or f"http://127.0.0.1:{settings.web_port}"
        sampler = asyncio.create_task(dashboard.record(recorder, f"{worker}/metrics", 1.0))
        print(f"--- streaming {args.rate:.0f} messages/s to {settings.topic_features}")
        await send(producer, settings, events, args.rate, progress, now, args.delay)
        now[0], progress.sending = "draining", False
        progress.check()  # all predictions may be in already
        await drain(progress, learning, args.drain_seconds)
        for task in (reporter, reader, sampler):
            task.cancel()
        print(line(progress, learning, "done"))
        path = dashboard.write(recorder, args.dashboard)
        print(
            f"--- the dashboard's plots: {path.resolve()} (open it in a browser); "
            f"live: {worker}/metrics, drift: {worker}/drift"
        )
        failures = verdict(progress, learning)
        if failures:
            print(f"--- FAILED: {'; '.join(failures)}")
            return 1
        accuracy = learning.meta.get("quality", {}).get("accuracy", 0.0)
        reference = river_accuracy(settings, args.sea_events, args.delay)
        print(
            f"--- every event predicted, labels learned {learning.learned} of "
            f"{progress.labels_sent}, live accuracy {accuracy:.3f}; River's "
            f"progressive_val_score on the same stream (delay {args.delay}): {reference:.3f}"
        )
        return 0
    finally:
        await producer.stop()
        await consumer.stop()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--delay", type=int, default=100, help="label delay, in events")
    parser.add_argument("--rate", type=float, default=500, help="messages sent per second")
    parser.add_argument("--sea-events", type=int, default=10_000, help="events in the SEA part")
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=60,
        help="how long to wait, once all is sent, for the last predictions and labels",
    )
    parser.add_argument(
        "--dashboard", type=Path, default=Path("reports/dashboard.html"), help="report to write"
    )
    parser.add_argument(
        "--worker",
        help="the worker's HTTP address, for its metrics (default: this host, EDDY_WEB_PORT)",
    )
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
