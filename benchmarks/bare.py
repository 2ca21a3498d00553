"""The baseline: a bare aiokafka + River loop doing the scoring path and
nothing else: consume in batches, validate, predict, produce, commit.

With ``learn_first``, it also learns each of the first events right after
scoring it, its label computed in place: the least that learning can cost,
with no join, no delay and no Redis, to tell learning's share of the
worker's time from everything else's."""

from __future__ import annotations

import asyncio
import json
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from app import catalog
from app.model import OnlineModel
from benchmarks.data import label
from schemas import FeatureEvent


async def bare_loop(
    bootstrap: str, source: str, sink: str, group: str, n: int, learn_first: int = 0
) -> float:
    """Score ``n`` events from ``source`` into ``sink`` (learning the events
    numbered below ``learn_first``); the seconds it took from the first record
    read to the last prediction acknowledged."""
    model = OnlineModel("logistic-regression", catalog.build("logistic-regression"))
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await consumer.start()
    await producer.start()
    done, started = 0, 0.0
    try:
        while done < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            if not started and batches:
                started = time.perf_counter()
            futures = []
            for records in batches.values():
                for record in records:
                    event = FeatureEvent.model_validate_json(record.value)
                    prediction = model.predict(event.features)
                    if learn_first and int(event.event_id.rsplit("-", 1)[1]) < learn_first:
                        model.learn(event.features, label({"features": event.features}))
                    out = json.dumps(
                        {"event_id": event.event_id, "prediction": prediction.label}
                    ).encode()
                    futures.append(await producer.send(sink, out, key=record.key))
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()
        await consumer.stop()
