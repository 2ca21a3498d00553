"""What the scenarios share: a run's names and worker processes, a stream
sent at a fixed rate, taps on output topics, and the counts that judge a run."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import signal
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from redis import asyncio as aioredis

from app.settings import Settings
from app.signing import Signer
from app.store import Store
from demo.stream import qa_events, sea_drift
from faults.runner import Context, Endpoints, Report
from tests.harness import SNAPSHOT_KEY, Worker, free_port, poll

T = TypeVar("T")
Record = tuple[str, str | None, bytes | None, int | None]
"""``(topic, key, value, partition)``: partition None lets the key choose."""


settle = poll
"""Poll until truthy, None after ``within`` s: the caller's checks then say
what did not happen (``tests.harness.eventually`` would raise instead)."""


async def ready(worker: Worker, within: float = 90) -> bool:
    """Until ``/ready`` says 200 (False if it never does, or the worker dies)."""

    async def probe() -> bool:
        return not worker.alive() or bool((worker.ready() or {}).get("ready"))

    return bool(await settle(probe, within)) and worker.alive()


class NotReady(Exception):
    """A scenario's worker never got ready: the scenario cannot go on."""


class Run:
    """One scenario's names (group, topics, Redis prefix), its worker
    processes, and its clean-up: workers stopped, and on the shared stack
    its Redis keys and topics deleted."""

    def __init__(self, context: Context, report: Report, endpoints: Endpoints) -> None:
        self.report = report
        self.endpoints = endpoints
        # Unique, not seeded: names must not collide with an earlier run's.
        self.id = f"faults-{report.name}-{uuid.uuid4().hex[:6]}"
        self.logs = context.logs / report.name
        self.logs.mkdir(parents=True, exist_ok=True)
        self.workers: list[Worker] = []
        self.store = Store.connect(
            endpoints.redis, self.id, 5.0, 10, signer=Signer(SNAPSHOT_KEY.encode())
        )
        self.data_dir = f"{tempfile.gettempdir()}/{self.id}"

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "app_id": self.id,
            "redis_prefix": self.id,
            "kafka_bootstrap": self.endpoints.kafka,
            "redis_url": self.endpoints.redis,
            "topic_features": f"{self.id}-features",
            "topic_labels": f"{self.id}-labels",
            "topic_predictions": f"{self.id}-predictions",
            "topic_dead_letter": f"{self.id}-dead-letter",
            "topic_drift": f"{self.id}-drift",
            "topic_model_events": f"{self.id}-model-events",
            "data_dir": self.data_dir,
            # A dead worker's partitions move after this: keep hand-overs short.
            "kafka_session_timeout_seconds": 6,
            "snapshot_key": SNAPSHOT_KEY,
            "snapshot_key_file": None,
        }
        values.update(overrides)
        return Settings(**values)

    def start(self, settings: Settings) -> Worker:
        """Start a worker process, on a web port of its own."""
        worker = Worker(settings.model_copy(update={"web_port": free_port()}), self.logs).start()
        self.workers.append(worker)
        assert worker.proc is not None
        self.report.say(f"worker {worker.proc.pid} ({settings.role}) started: {worker.log_path}")
        return worker

    async def ready_worker(self, **overrides: Any) -> tuple[Settings, Worker]:
        """A worker of this run with these settings, started and ready; if it
        never gets ready, a failed check, and the scenario stops."""
        settings = self.settings(**overrides)
        worker = self.start(settings)
        if not self.report.check("the worker is ready", await ready(worker)):
            raise NotReady(worker.tail(5))
        return settings, worker

    async def end(self, worker: Worker, sig: signal.Signals) -> float:
        """Send ``sig`` to a worker; the seconds until it exited."""
        return await asyncio.to_thread(worker.end, sig)

    async def head(self, model: str = "logistic-regression") -> dict[str, Any] | None:
        """The newest model version's metadata (None if Redis has none or does not answer)."""
        try:
            return await self.store.head_meta(model)
        except Exception:
            return None

    async def keys(self) -> int:
        """How many Redis keys the run has."""
        client = aioredis.Redis.from_url(self.endpoints.redis)
        try:
            return len([k async for k in client.scan_iter(match=f"{self.id}:*", count=10_000)])
        finally:
            await client.aclose()

    async def __aenter__(self) -> Run:
        return self

    async def __aexit__(self, *exc: object) -> None:
        failed = exc[0] is not None or not all(ok for _, ok in self.report.checks)
        for worker in self.workers:
            if worker.alive():
                await self.end(worker, signal.SIGTERM)
            if failed:
                print(f"--- {worker.log_path}, its last warnings:\n{warnings(worker)}", flush=True)
        await self.store.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.endpoints.shared:
            await forget(self.endpoints, self.id)


def warnings(worker: Worker, lines: int = 15) -> str:
    """The last warnings and errors of a worker's log."""
    text = worker.log_path.read_text(errors="replace") if worker.log_path.exists() else ""
    picked = [line for line in text.splitlines() if "[WARNING]" in line or "[ERROR]" in line]
    return "\n".join(picked[-lines:]) or "(none)"


async def forget(endpoints: Endpoints, prefix: str) -> None:
    """Delete a run's Redis keys and topics from the shared stack."""
    client = aioredis.Redis.from_url(endpoints.redis)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=10_000)]
        for start in range(0, len(keys), 10_000):
            await client.unlink(*keys[start : start + 10_000])
    finally:
        await client.aclose()
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()


async def topics(bootstrap: str) -> list[str]:
    """The broker's topics, its own internal ones aside."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return [t for t in await admin.list_topics() if not t.startswith("__")]
    finally:
        await admin.close()


async def send(bootstrap: str, records: Iterable[Record], rate: float | None = None) -> list[Any]:
    """Send records in order, ``rate`` a second at most, and wait until the
    broker holds every one: their ``RecordMetadata`` (topic, partition,
    offset). The producer is idempotent and patient, so a broker that goes
    away for a while neither loses nor doubles the input."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=180_000,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    futures = []
    began = time.monotonic()
    try:
        for sent, (topic, key, value, partition) in enumerate(records):
            if rate is not None:
                ahead = began + sent / rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            encoded = None if key is None else key.encode()
            futures.append(await producer.send(topic, value, key=encoded, partition=partition))
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


@dataclass
class Stream:
    """SEA events (``demo.stream.sea_drift``), each labelled ``delay`` events
    later, for as long as asked: ``stop()`` ends the features, and the labels
    of the events sent still follow."""

    settings: Settings
    events: int
    """At most this many events."""
    seed: int
    delay: int = 100
    prefix: str = "e"
    features: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    stopping: bool = False

    def stop(self) -> None:
        self.stopping = True

    def records(self) -> Iterator[Record]:
        topics = {"features": self.settings.topic_features, "labels": self.settings.topic_labels}
        sent: set[str] = set()
        for kind, event in qa_events(sea_drift(self.events, self.seed), self.delay, self.prefix):
            event_id = event["event_id"]
            if kind == "features":
                if self.stopping:
                    continue
                sent.add(event_id)
                self.features.append(event_id)
            elif event_id in sent:
                self.labels.append(event_id)
            else:
                continue
            yield topics[kind], event_id, json.dumps(event).encode(), None
            if self.stopping and len(self.labels) == len(self.features):
                return

    async def send(self, rate: float) -> None:
        """At ``rate`` events a second (twice as many records)."""
        await send(self.settings.kafka_bootstrap, self.records(), 2 * rate)


class Tap(Generic[T]):
    """Reads a topic from its start, in the background, keeping what
    ``keep`` takes of each record and when it arrived (monotonic seconds)."""

    def __init__(self, bootstrap: str, topic: str, keep: Callable[[Any], T]) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
        )
        self.keep = keep
        self.items: list[tuple[float, T]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            try:
                batches = await self.consumer.getmany(timeout_ms=100, max_records=10_000)
            except Exception:  # the broker away: read on once it is back
                await asyncio.sleep(0.5)
                continue
            now = time.monotonic()
            for records in batches.values():
                self.items.extend((now, self.keep(r)) for r in records)

    def values(self) -> list[T]:
        return [item for _, item in self.items]


@dataclass(frozen=True, slots=True)
class Predicted:
    event_id: str
    version: int


def predicted(record: Any) -> Predicted:
    value = json.loads(record.value)
    return Predicted(value["event_id"], value["model_version"])


class Predictions(Tap[Predicted]):
    """The predictions topic, as it fills."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.kafka_bootstrap, settings.topic_predictions, predicted)

    def ids(self) -> Counter[str]:
        return Counter(p.event_id for _, p in self.items)

    async def all_of(self, ids: Iterable[str], within: float) -> bool:
        wanted = set(ids)

        async def done() -> bool:
            return wanted <= {p.event_id for _, p in self.items}

        return bool(await settle(done, within))

    def longest_gap(self) -> float:
        """The longest time between two predictions in a row, as they arrived."""
        times = sorted(t for t, _ in self.items)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def first_after(self, moment: float) -> float | None:
        later = [t for t, _ in self.items if t > moment]
        return min(later) - moment if later else None


@dataclass
class Tally:
    """What came out of a stream: predictions per event, label outcomes."""

    events: int
    labels: int
    predicted: int
    """Events with at least one prediction."""
    duplicates: int
    """Predictions beyond the first of their event."""
    meta: dict[str, Any]

    @property
    def learned(self) -> int:
        return int(self.meta.get("learned", 0))

    @property
    def outcomes(self) -> dict[str, int]:
        return dict(self.meta.get("outcomes", {}))

    @property
    def missing(self) -> int:
        return self.events - self.predicted

    @property
    def lost(self) -> int:
        """Labels sent but not joined."""
        return self.labels - self.outcomes.get("joined", 0)

    @property
    def twice(self) -> int:
        """Labels learned more than once, at least (learned beyond the labels sent)."""
        return max(0, self.learned - self.labels)

    def line(self) -> str:
        return (
            f"{self.events:,} events, {self.labels:,} labels sent: {self.missing:,} events "
            f"without a prediction, {self.duplicates:,} duplicate predictions, "
            f"{self.lost:,} labels lost, {self.twice:,} learned twice "
            f"(learned {self.learned:,}, outcomes {compact(self.outcomes)})"
        )


def compact(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in outcomes.items() if v) or "none"


async def finish(
    run: Run,
    stream: Stream,
    predictions: Predictions,
    within: float = 120,
    quiet: float | None = None,
) -> Tally:
    """Once the stream is sent: wait until every event is predicted and
    every label joined (or, where labels may be lost, until nothing changed
    for ``quiet`` seconds with no label waiting), then count."""
    await predictions.all_of(stream.features, within)
    last: dict[str, Any] | None = None
    since = time.monotonic()

    async def settled() -> dict[str, Any] | None:
        nonlocal last, since
        meta = await run.head()
        if meta is None:
            return None
        if meta["outcomes"]["joined"] >= len(set(stream.labels)):
            return meta
        if meta != last:
            last, since = meta, time.monotonic()
        if quiet is None or meta["waiting"]:
            return None
        return meta if time.monotonic() - since > quiet else None

    meta = await settle(settled, within) or await run.head() or {}
    # Anything learned a second time would show in the snapshots that follow.
    await asyncio.sleep(2)
    meta = await run.head() or meta
    ids = predictions.ids()
    sent = set(stream.features)
    return Tally(
        events=len(sent),
        labels=len(set(stream.labels)),
        predicted=len(sent & ids.keys()),
        duplicates=sum(ids.values()) - len(ids),
        meta=meta,
    )


def metric(worker: Worker, name: str) -> float | None:
    """The sum of a Prometheus metric's samples on the worker's ``/metrics``
    (None if it does not answer or has no such sample)."""
    url = f"http://127.0.0.1:{worker.settings.web_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name} ", f"{name}{{"))
    ]
    return sum(values) if values else None


def rss_mib(worker: Worker) -> float:
    assert worker.proc is not None
    for line in Path(f"/proc/{worker.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def owns_training(worker: Worker) -> bool:
    status = worker.status() or {}
    return bool(status.get("partitions", {}).get(worker.settings.topic_training))
