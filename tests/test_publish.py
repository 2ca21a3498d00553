"""Record batches land where Kafka's own partitioner puts their keys, and
say at which offsets."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from app.runtime.internals import producer
from app.runtime.publish import _send, publish, send
from app.settings import Settings
from app.streams import create_app
from schemas.events import TrainingEvent
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


async def test_express_records_go_on_a_producer_of_their_own_started_and_stopped_with_faust_s(
    kafka_up: None, make_settings: Callable[..., Settings]
) -> None:
    # aiokafka sends one request per broker at a time: a training record
    # behind a batch of predictions waited for that batch's request.
    settings = make_settings()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(settings.topic_training, 1, 1)])
    await admin.close()
    app = create_app(settings)
    await app.producer.start()
    try:
        main, express = producer(app), producer(app, express=True)
        assert express is not main
        for client in (main, express):
            assert client.client._bootstrap_servers == [settings.kafka_bootstrap]
            assert client._sender._acks == -1
        events = [TrainingEvent(event_id=f"e{i}", label=i % 2 == 0, label_at=i) for i in range(50)]
        offsets = await publish(
            app.topic(settings.topic_training), [(e.event_id, e) for e in events], express=True
        )
    finally:
        await app.producer.stop()
    assert main._closed and express._closed
    async with Reader(settings.kafka_bootstrap, settings.topic_training) as reader:
        await reader.until("50 records", lambda v: len(v) >= 50, 30)
    assert [v["event_id"] for v in reader.values] == [e.event_id for e in events]
    assert offsets == [r.offset for r in reader.records] == list(range(50))
