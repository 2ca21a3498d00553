"""The ceilings of a worker on aiokafka: records moved through and nothing
else, and the same with the least scoring there is.

Consume in batches, publish one record per record consumed the way the
worker publishes (``app.runtime.publish.send``: a record batch per
partition, no per-record future), commit. Without ``score`` each value goes
out unchanged: no validation, no model, no Redis. With ``score`` each is
validated and scored as the bare loop does (``benchmarks.bare``), and its
prediction published instead. Whatever the worker does per event comes on
top of these, since it consumes and produces through aiokafka too: how far
they are ahead of a contender on another Kafka client bounds what any
worker on aiokafka can make against that contender.

It is timed as every contender is, by the broker's append times of its
outputs (``benchmarks.contenders``)."""

from __future__ import annotations

import asyncio

from app.runtime.publish import send
from benchmarks.bare import clients
from benchmarks.data import contender_args, scored, warm_model


async def pipe(bootstrap: str, source: str, sink: str, group: str, n: int, score: bool) -> None:
    """One output per record of the first ``n`` in ``source``, into ``sink``:
    the record as it is, or with ``score`` its prediction."""
    model = warm_model() if score else None
    done = 0
    async with clients(bootstrap, source, group) as (consumer, producer):
        while done < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            records = [(r.key, r.value) for rs in batches.values() for r in rs]
            if model is not None:
                records = [(key, scored(model, value)[1]) for key, value in records]
            await send(producer, sink, records)
            await consumer.commit()
            done += len(records)


def main() -> None:
    """``python -m benchmarks.pipe``: a pipe in a process of its own."""
    args = contender_args(
        "python -m benchmarks.pipe",
        __doc__,
        [("--score", "validate and score each record, and publish its prediction")],
    )
    asyncio.run(pipe(args.bootstrap, args.source, args.sink, args.sink, args.events, args.score))


if __name__ == "__main__":
    main()
