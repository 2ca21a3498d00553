"""The baseline: a bare aiokafka + River loop doing the scoring path and
nothing else: consume in batches, validate, predict, produce, commit.

With ``learn_first``, it also learns each of the first events right after
scoring it, its label computed in place: the least that learning can cost,
with no join, no delay and no Redis, to tell learning's share of the
worker's time from everything else's.

It is timed as every contender is, by the broker's append times of its
outputs (``benchmarks.contenders``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from benchmarks.data import contender_args, label, scored, warm_model


@contextlib.asynccontextmanager
async def clients(
    bootstrap: str, source: str, group: str
) -> AsyncIterator[tuple[AIOKafkaConsumer, AIOKafkaProducer]]:
    """The consumer of ``source`` (in ``group``, from the earliest offset,
    committing by hand) and the producer every aiokafka contender uses,
    started, and stopped after."""
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
    try:
        yield consumer, producer
    finally:
        await producer.stop()
        await consumer.stop()


async def bare_loop(
    bootstrap: str, source: str, sink: str, group: str, n: int, learn_first: int = 0
) -> None:
    """Score ``n`` events from ``source`` into ``sink`` (learning the events
    numbered below ``learn_first``)."""
    model = warm_model()
    done = 0
    async with clients(bootstrap, source, group) as (consumer, producer):
        while done < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            futures = []
            for records in batches.values():
                for record in records:
                    event, out = scored(model, record.value)
                    if learn_first and int(event.event_id.rsplit("-", 1)[1]) < learn_first:
                        model.learn(event.features, label({"features": event.features}))
                    futures.append(await producer.send(sink, out, key=record.key))
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(futures)


def main() -> None:
    """``python -m benchmarks.bare``: the bare loop in a process of its own
    (``benchmarks.profile`` profiles it so)."""
    args = contender_args("python -m benchmarks.bare", __doc__)
    asyncio.run(
        bare_loop(args.bootstrap, args.source, args.sink, args.sink, args.events, args.learn_first)
    )


if __name__ == "__main__":
    main()
