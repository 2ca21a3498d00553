"""``python -m demo``: stream real data to a running worker and watch it learn.

Two phases: River's Phishing dataset, then a SEA stream whose concept flips
half-way. Labels arrive ``--delay`` events after their features. Every
second a line shows what was sent, what the worker predicted and learned,
and its live accuracy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from app.settings import Settings
from app.store import Store
from demo.stream import QaEvent, phishing, qa_events, sea_drift
from monitoring import report as dashboard


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


async def read_predictions(consumer: AIOKafkaConsumer, progress: Progress) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=200, max_records=5000)
        for records in batches.values():
            for record in records:
                p = json.loads(record.value)
                progress.predicted(p["event_id"], p["prediction"])


async def report(store: Store, settings: Settings, progress: Progress, phase: list[str]) -> None:
    while True:
        await asyncio.sleep(1)
        print(await line(store, settings, progress, phase[0]), flush=True)


async def line(store: Store, settings: Settings, progress: Progress, phase: str) -> str:
    snapshot = await store.load_snapshot(settings.model)
    meta = snapshot.meta if snapshot else {}
    quality = meta.get("quality", {})
    rolling = progress.rolling_accuracy()
    return (
        f"[{phase:9}] sent {progress.features_sent:6} events, {progress.labels_sent:6} labels | "
        f"predictions {len(progress.predictions):6} | learned {meta.get('learned', 0):6} "
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


async def run(args: argparse.Namespace) -> None:
    settings = Settings()
    store = Store.connect(
        settings.redis_url, settings.redis_prefix, settings.redis_timeout_seconds, 1
    )
    run_id = time.strftime("%H%M%S")
    phases = [
        ("phishing", qa_events(phishing(), args.delay, f"phishing-{run_id}")),
        ("sea-drift", qa_events(sea_drift(args.sea_events), args.delay, f"sea-{run_id}")),
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    progress, phase = Progress(), ["starting"]
    recorder = dashboard.Recorder()
    try:
        partitions = await topic_partitions(producer, settings.topic_predictions)
        consumer.assign([TopicPartition(settings.topic_predictions, p) for p in partitions])
        await consumer.seek_to_end()
        reader = asyncio.create_task(read_predictions(consumer, progress))
        reporter = asyncio.create_task(report(store, settings, progress, phase))
        metrics_url = f"http://127.0.0.1:{settings.web_port}/metrics"
        sampler = asyncio.create_task(dashboard.record(recorder, metrics_url, 1.0))
        for name, events in phases:
            phase[0] = name
            print(f"--- {name}: labels arrive {args.delay} events late, {args.rate:.0f} msg/s")
            await send(producer, settings, events, args.rate, progress)
        phase[0], progress.sending = "draining", False
        progress.check()  # all predictions may be in already
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(progress.caught_up.wait(), 30)
        # Let the learner snapshot the last labels before the final line.
        await asyncio.sleep(2 * settings.snapshot_interval_seconds)
        reporter.cancel()
        reader.cancel()
        sampler.cancel()
        print(await line(store, settings, progress, "done"))
        missing = progress.features_sent - len(progress.predictions)
        print(
            f"--- every event predicted: {'yes' if missing == 0 else f'no, {missing} missing'}. "
            "The SEA concept flips half-way: watch the rolling accuracy dip, then recover."
        )
        path = dashboard.write(recorder, args.dashboard)
        print(
            f"--- the dashboard's plots: {path.resolve()} (open it in a browser); "
            f"live: {metrics_url}, drift: http://127.0.0.1:{settings.web_port}/drift"
        )
    finally:
        await producer.stop()
        await consumer.stop()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--delay", type=int, default=100, help="label delay, in events")
    parser.add_argument("--rate", type=float, default=500, help="messages sent per second")
    parser.add_argument("--sea-events", type=int, default=10_000, help="events in the SEA phase")
    parser.add_argument(
        "--dashboard", type=Path, default=Path("reports/dashboard.html"), help="report to write"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
