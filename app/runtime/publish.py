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
    producer, name = producer_of(topic.app), topic.get_topic_name()
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
