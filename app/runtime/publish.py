"""Outputs to Kafka: a record batch per partition, acknowledged by the broker
before the inputs behind them are."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception_type, wait_exponential

from app import metrics
from app.runtime.internals import producer as producer_of

log = logging.getLogger(__name__)


async def publish(
    topic: Any, records: Iterable[tuple[str | None, BaseModel]], *, express: bool = False
) -> list[int]:
    """Send every record and wait until the broker has acknowledged all of
    them; each record's offset in its partition, in the order given.
    ``express``: on the producer of its own for records a reader waits on
    (the training records the learner's process learns as soon as they are
    acknowledged), not queued behind the predictions' requests.

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
    return await send(producer_of(topic.app, express=express), topic.get_topic_name(), encoded)


async def send(
    producer: AIOKafkaProducer, name: str, encoded: Sequence[tuple[bytes | None, bytes]]
) -> list[int]:
    """``publish`` for records already encoded."""
    if not encoded:
        return []
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(KafkaError),
        wait=wait_exponential(multiplier=0.1, max=5),
        before_sleep=before_sleep_log(log, logging.WARNING),
    ):
        with attempt:
            try:
                sent = await _send(producer, name, encoded)
                acked = await asyncio.gather(*(future for future, _ in sent))
            except KafkaError:
                metrics.kafka_errors.labels(name).inc()
                raise
    # A record batch's records take consecutive offsets from its first.
    offsets = [0] * len(encoded)
    for metadata, (_, held) in zip(acked, sent, strict=True):
        for i, index in enumerate(held):
            offsets[index] = metadata.offset + i
    return offsets


async def _send(
    producer: AIOKafkaProducer, topic: str, records: Sequence[tuple[bytes | None, bytes]]
) -> list[tuple[asyncio.Future[Any], list[int]]]:
    """Hand ``records`` to the producer as one record batch per partition
    (split when full); each batch's future, with the positions in
    ``records`` of the records it holds, in order.

    Partitions are chosen as ``send`` would (murmur2 of the key, as Kafka's
    Java client does), without its per-record future and callbacks.
    """
    partitions = sorted(await producer.partitions_for(topic))
    by_partition: dict[int, list[int]] = defaultdict(list)
    if len(partitions) == 1:  # the training topic: no key to hash (murmur2 is pure Python)
        by_partition[partitions[0]] = list(range(len(records)))
    else:
        for index, (key, _) in enumerate(records):
            by_partition[_partitioner(key, partitions, partitions)].append(index)
    sent = []
    for partition, chunk in by_partition.items():
        batch, held = producer.create_batch(), list[int]()
        for index in chunk:
            key, value = records[index]
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                sent.append((await producer.send_batch(batch, topic, partition=partition), held))
                batch, held = producer.create_batch(), list[int]()
                batch.append(key=key, value=value, timestamp=None)
            held.append(index)
        sent.append((await producer.send_batch(batch, topic, partition=partition), held))
    return sent


_partitioner = DefaultPartitioner()
