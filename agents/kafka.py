"""What every agent does with Kafka records."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.errors import KafkaError
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

    The records go straight to Faust's transport producer: the per-message
    machinery of ``Topic.send`` (attachments, futures, callbacks) cost more
    than the rest of scoring. The caller acknowledges its input only after
    this returns, so offsets are never committed past an output the broker
    does not hold. A failed send is retried whole: a consumer may see a
    record twice, never zero times.
    """
    encoded = [
        (None if key is None else key.encode(), record.model_dump_json().encode())
        for key, record in records
    ]
    if not encoded:
        return
    producer, name = topic.app.producer, topic.get_topic_name()
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(KafkaError),
        wait=wait_exponential(multiplier=0.1, max=5),
        before_sleep=before_sleep_log(log, logging.WARNING),
    ):
        with attempt:
            try:
                pending = [await producer.send(name, k, v, None, None, None) for k, v in encoded]
                await asyncio.gather(*pending)
            except KafkaError:
                metrics.kafka_errors.labels(name).inc()
                raise
