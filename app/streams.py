"""The composition root: the Faust app, its topics, and the worker's parts.

Built once per process from one ``Settings``. Agents import ``app`` and
``topics`` and ask ``runtime`` for the model; nothing else here is global.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from faust.auth import SASLCredentials
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception, wait_exponential

from app.errors import EddyError
from app.kafka_auth import ssl_context
from app.learner import Record
from app.runtime.internals import BatchApp, Fetches, Partitions
from app.runtime.readiness import HEARTBEAT_TTL_SECONDS
from app.runtime.topics import provision
from app.serving import ServedModel
from app.settings import Settings
from app.store import Store
from app.training import Training, bootstrap, initial_state

log = logging.getLogger(__name__)
T = TypeVar("T")

FORWARDED_BATCHES = 64
"""Batches of published training records the learner's process keeps for
its learner to take ahead (``Runtime.offer``)."""


def faust_credentials(settings: Settings) -> SASLCredentials | ssl.SSLContext | None:
    """Faust's ``broker_credentials``: the same as ``client_options``."""
    protocol = settings.kafka_security_protocol
    context = ssl_context(settings)
    if not protocol.startswith("SASL_"):
        return context
    assert settings.kafka_sasl_password is not None
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )


def create_app(settings: Settings) -> Any:
    app = BatchApp(
        settings.group_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        store="memory://",
        # Payloads are bytes both ways: pydantic validates and encodes them.
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        # A fetch is a batch: one Redis round trip, one produce per batch.
        broker_max_poll_records=settings.batch_max_events,
        producer_acks=-1,
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka_session_timeout_seconds / 3,
        broker_commit_interval=settings.kafka_commit_interval_seconds,
        # Faust's default is 300 s: a topic the consumer did not see when it
        # joined would wait that long to be assigned.
        consumer_metadata_max_age_ms=round(settings.kafka_metadata_max_age_seconds * 1000),
        fetch_max_wait=settings.kafka_fetch_max_wait_seconds,
        stop_timeout=settings.stop_timeout_seconds,
        provision=partial(provision, settings),
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        datadir=settings.data_dir,
    )
    app.task(freeze_heap)  # run once the app has started
    return app


async def freeze_heap() -> None:
    """Leave what imports and start-up made out of later full collections.

    Those objects live as long as the process, yet each full collection of
    the cyclic garbage collector walked all of them: pauses of 30 to 60 ms,
    a dozen a minute at 2,000 events/s, each one a stall of every event in
    flight. Frozen, they are never scanned; full collections then take a few
    milliseconds.
    """
    gc.collect()
    gc.freeze()
    log.info("start-up heap frozen: %d objects", gc.get_freeze_count())


@dataclass
class Topics:
    features: Any
    labels: Any
    training: Any
    predictions: Any
    dead_letter: Any
    drift: Any
    model_events: Any


def declare_topics(app: Any, settings: Settings) -> Topics:
    """The worker's topics, as Faust sees them. ``app.runtime.topics``
    creates them (Faust does not: ``internal`` is off) before the consumer
    joins its group."""
    return Topics(
        features=app.topic(settings.topic_features),
        labels=app.topic(settings.topic_labels),
        training=app.topic(settings.topic_training),
        predictions=app.topic(settings.topic_predictions),
        dead_letter=app.topic(settings.topic_dead_letter),
        drift=app.topic(settings.topic_drift),
        model_events=app.topic(settings.topic_model_events),
    )


@dataclass
class Fetched:
    """The topics this process consumes, a whole fetch at a time (by role:
    a scorer never reads the training topic, a learner reads nothing else)."""

    features: Fetches | None
    labels: Fetches | None
    training: Fetches | None


def fetch_batches(app: Any, topics: Topics, settings: Settings) -> Fetched:
    # Two fetches may wait per topic: the next is ready when one is done.
    def batches(topic: Any, wanted: bool) -> Fetches | None:
        return app.batches(topic, maxsize=2) if wanted else None

    return Fetched(
        features=batches(topics.features, settings.scores),
        labels=batches(topics.labels, settings.scores),
        training=batches(topics.training, settings.learns),
    )


@dataclass
class Runtime:
    """The worker's parts in this process; the model is loaded on first use.

    The learning follows the training partition: ``assigned`` and
    ``revoking`` are called by the consumer as it gets and gives it up.
    """

    settings: Settings
    store: Store
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    """How this process names itself in the learner's heartbeat."""
    learning: bool = False
    """Whether this process holds the training partition."""
    forwarded: asyncio.Queue[list[Record] | int] = field(
        default_factory=lambda: asyncio.Queue(FORWARDED_BATCHES)
    )
    """For this process's learner to take ahead of the training topic
    (``Training.learn_ahead``): training records this process published,
    with their offsets, and how many events' features it stored."""
    _served: ServedModel | None = None
    _training: Training | None = None
    _acquiring: asyncio.Future[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        return cls(settings, Store.from_settings(settings))

    @property
    def loaded(self) -> bool:
        """Whether the served model is loaded."""
        return self._served is not None

    async def served(self) -> ServedModel:
        if self._served is None:
            async with self._lock:
                if self._served is None:
                    initial = initial_state(self.settings)
                    history = self.settings.snapshot_history
                    served = await persist(bootstrap, self.store, initial, history)
                    log.info("serving %s version %d", served.model.name, served.version)
                    self._served = served
        return self._served

    async def training(self) -> Training:
        served = await self.served()
        if self._training is None:
            async with self._lock:
                if self._training is None:
                    self._training = Training(self.store, self.settings, served, self.owns)
        return self._training

    def owns(self) -> bool:
        return self.learning

    def offer(self, records: list[Record]) -> None:
        """Training records just published, with their offsets: for this
        process's learner."""
        if records:
            self._hand(records)

    def stored(self, events: int) -> None:
        """Features of ``events`` events just stored: if this process's
        learner holds labels waiting for features, it tries as many again."""
        if events and self._training is not None and self._training.waiting:
            self._hand(events)

    def _hand(self, item: list[Record] | int) -> None:
        """To the learner, if this process learns now; dropped if it is that
        far behind (the training topic and the timer make up for it)."""
        if self.learning:
            with contextlib.suppress(asyncio.QueueFull):
                self.forwarded.put_nowait(item)

    def assigned(self, partitions: Partitions) -> None:
        """The consumer's assignment: take the learning over if it holds the
        training partition (loading the newest version right away)."""
        if not any(tp.topic == self.settings.topic_training for tp in partitions):
            return
        self.learning = True
        self._acquiring = asyncio.ensure_future(self._acquire())

    async def _acquire(self) -> None:
        training = await self.training()
        await persist(training.acquire)
        await persist(self.store.beat, self.owner, HEARTBEAT_TTL_SECONDS)
        log.info("this process learns (%s)", self.owner)

    async def revoking(self, partitions: Partitions) -> None:
        """Partitions about to go: if the training partition is one of them,
        write the last snapshot and stop learning."""
        if not self.learning or not any(
            tp.topic == self.settings.topic_training for tp in partitions
        ):
            return
        self.learning = False
        if self._acquiring is not None:
            self._acquiring.cancel()
        if self._training is not None:
            await self._training.release()
        # Its heartbeat is not renewed any more: it expires, or the next
        # owner's replaces it.
        log.info("this process no longer learns")


async def persist(op: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``op`` until Redis answers (and a snapshot conflict is resolved).
    While Redis is away the stream waits: nothing is acknowledged, so nothing
    is lost."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(lambda e: isinstance(e, EddyError) and e.retriable),
        wait=wait_exponential(multiplier=0.1, max=5),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    ):
        with attempt:
            return await op(*args)
    raise AssertionError("unreachable")


settings = Settings()
app = create_app(settings)
topics = declare_topics(app, settings)
fetches = fetch_batches(app, topics, settings)
runtime = Runtime.build(settings)
app.when_assigned(runtime.assigned)
app.when_revoking(runtime.revoking)
