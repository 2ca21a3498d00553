"""Record batches land where Kafka's own partitioner puts their keys, and
say at which offsets."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from app.runtime.publish import _send, send
from app.settings import Settings
from tests.harness import Reader

pytestmark = pytest.mark.integration


async def test_batches_split_when_full_and_keep_key_partitioning(
    kafka_up: None, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    topic = settings.topic_predictions
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, 4, 1)])
        await admin.close()
        # 2,000 records of 1 KB: many times the producer's batch size.
        records = [
            (f"e{i}".encode(), json.dumps({"i": i, "pad": "x" * 1000}).encode())
            for i in range(2000)
        ]
        sent = await _send(producer, topic, records[:1000])
        assert len(sent) > 4  # split when full
        for future, _ in sent:
            await future
        # The rest through ``send``, which says where each record went.
        offsets = await send(producer, topic, records[1000:])
    finally:
        await producer.stop()

    async with Reader(settings.kafka_bootstrap, topic) as reader:
        await reader.until("2000 records", lambda v: len(v) >= 2000, 30)
        got = await reader.to_end()
    assert sorted(v["i"] for v in got) == list(range(2000))
    partitioner = DefaultPartitioner()
    for r in reader.records:
        assert r.partition == partitioner(r.key, [0, 1, 2, 3], [0, 1, 2, 3])
    at = {r.key: r.offset for r in reader.records}
    assert offsets == [at[key] for key, _ in records[1000:]]
    assert len(set(offsets)) < 1000  # offsets are per partition: the check is not trivial
