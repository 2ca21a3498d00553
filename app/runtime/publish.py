"""What every agent does with Kafka records."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception_type, wait_exponential

from app import metrics
from app.intake import Message

log = logging.getLogger(__name__)

positions: dict[tuple[str, int], int] = {}
"""Next offset to read, per (topic, partition) this process consumed: for the lag."""


def messages(fetched: Sequence[Any]) -> list[Message]:
    """Faust's consumer messages as the core's plain ``Message``s."""
    out = [Message(m.key, m.value, m.topic, m.partition, m.offset, m.timestamp) for m in fetched]
    for m in out:
        positions[m.topic, m.partition] = m.offset + 1
    if out:
        metrics.events_consumed.labels(out[0].topic).inc(len(out))
    return out


async def publish(topic: Any, records: Iterable[tuple[str | None, BaseModel]]) -> None:
    """Send every record and wait until the broker has acknowledged all of them.

    The records go to the aiokafka producer under Faust's, a record batch
    per partition: the per-message machinery of ``Topic.send`` (attachments,
    futures, callbacks) cost more than the rest of scoring. The caller
    acknowledges its input only after this returns, so offsets are never
    committed past an output the broker does not hold. A failed send is
    retried whole: a consumer may see a record twice, never zero times.
    """
    encoded = [
        (None if key is None else key.encode(), record.model_dump_json().encode())
        for key, record in records
    ]
    if not encoded:
        return
    producer, name = topic.app.producer._ensure_producer(), topic.get_topic_name()
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(KafkaError),
        wait=wait_exponential(multiplier=0.1, max=5),
        before_sleep=before_sleep_log(log, logging.WARNING),
    ):
        with attempt:
            try:
                await asyncio.gather(*await send_batches(producer, name, encoded))
            except KafkaError:
                metrics.kafka_errors.labels(name).inc()
                raise


async def send_batches(
    producer: AIOKafkaProducer, topic: str, records: Sequence[tuple[bytes | None, bytes]]
) -> list[asyncio.Future[Any]]:
    """Hand ``records`` to the producer as one record batch per partition.

    Partitions are chosen as ``send`` would (murmur2 of the key, as Kafka's
    Java client does), without its per-record future and callbacks.
    """
    partitions = sorted(await producer.partitions_for(topic))
    by_partition: dict[int, list[tuple[bytes | None, bytes]]] = defaultdict(list)
    if len(partitions) == 1:  # the training topic: no key to hash (murmur2 is pure Python)
        by_partition[partitions[0]] = list(records)
    else:
        for key, value in records:
            by_partition[_partitioner(key, partitions, partitions)].append((key, value))
    sent = []
    for partition, chunk in by_partition.items():
        batch = producer.create_batch()
        for key, value in chunk:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                sent.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        sent.append(await producer.send_batch(batch, topic, partition=partition))
    return sent


_partitioner = DefaultPartitioner()

IN_FLIGHT = 4
"""Batches an agent handles while earlier ones wait for the broker."""


class InFlight:
    """Batches whose outputs are on their way to the broker.

    An agent hands over a batch's publishing and goes on to the next fetch
    instead of waiting a broker round trip per batch. Each batch's ``done``
    (acknowledging its input) runs only once its own outputs are acknowledged
    *and* every earlier batch is done, so offsets are acknowledged in order
    and never past an output the broker does not hold. At most ``limit``
    batches are in flight; a failure is raised to the agent.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._tasks: deque[asyncio.Future[None]] = deque()

    async def add(self, publishing: Awaitable[None], done: Callable[[], None]) -> None:
        previous = self._tasks[-1] if self._tasks else None
        task = asyncio.ensure_future(_deliver(publishing, previous, done))
        # A failure is raised once, to the agent; the batches after it fail
        # with it and are not acknowledged either.
        task.add_done_callback(_observed)
        self._tasks.append(task)
        while self._tasks and self._tasks[0].done():
            self._tasks.popleft().result()
        if len(self._tasks) >= self._limit:
            await self._tasks[0]


def _observed(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


async def _deliver(
    publishing: Awaitable[None], previous: asyncio.Future[None] | None, done: Callable[[], None]
) -> None:
    await publishing
    if previous is not None:
        await previous
    done()
