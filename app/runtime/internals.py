"""Whole fetches, not single events: the worker's Kafka consumer.

Faust's consumer still owns the consumer group, partition assignment,
offsets and commits. What changes is delivery. Stock Faust hands every record
to its conductor one at a time (a flow-control wait, a decode, an ``Event``,
a queue hop, a stream step), which cost more than scoring the record. Here a
fetch of a *batch topic* goes to that topic's channel as one list of Faust
messages; records of any other topic take Faust's usual path.

The agent reading a batch channel does per batch what a Faust stream does
per event (``tracked``): it drops messages fetched before a rebalance and tracks
the rest as unacknowledged, so a rebalance waits for them. It acknowledges
each message once its outputs are safe (``ack``); Faust commits up to the
first unacknowledged offset, as always.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import Any, cast

import faust
from faust.transport import drivers
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka


class BatchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):  # type: ignore[misc]
    """Faust's thread around the aiokafka consumer, with our fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust fixes aiokafka's fetch_max_wait_ms at 1,500. aiokafka sends
        # one fetch at a time per broker, holding back partitions whose
        # buffered records are not consumed yet; so a fetch of only idle
        # partitions (labels, training) made the broker hold it 1.5 s while
        # the drained feature partitions waited: the worker idled half the
        # time. (Private to aiokafka 0.14; read by ``start()``.)
        consumer._fetch_max_wait_ms = round(self.app.fetch_max_wait * 1000)
        return consumer


class BatchConsumer(faust_aiokafka.Consumer):  # type: ignore[misc]
    """Faust's aiokafka consumer, delivering batch topics a fetch at a time."""

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        """Finish and commit what is in flight, then let Faust revoke.

        Faust (0.15) forgets the acknowledged offsets of revoked partitions
        *before* it waits for in-flight messages and commits, and under
        Kafka's eager rebalancing every partition is revoked: whatever was
        handled since the last periodic commit was handled again after each
        rebalance, by this process or the next owner. Here the flow stops,
        in-flight batches are acknowledged and committed first.
        """
        if self.assignment():
            self.stop_flow()
            self.app.flow_control.suspend()
            self.app.flow_control.clear()
            await self.wait_empty()
            # A periodic commit running during the wait made its last commit
            # a no-op; this one takes what was acknowledged since.
            await self.commit()
        await super().on_partitions_revoked(revoked)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
        # Faust's ``Consumer._drain_messages`` (faust-streaming 0.15), with
        # the per-record hand-off replaced for batch topics.
        routes: dict[str, Fetches] = self.app.batch_routes
        callback = self.callback
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                fetched: dict[str, list[Any]] = {}
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in self.getmany(timeout=1.0):
                        offset = message.offset
                        last = read_offset[tp]
                        if last is not None and offset < last:
                            continue  # read already: Faust drops it too
                        if last and offset - last > 1 and acks_enabled_for(message.topic):
                            # Offsets with no record (compaction, transaction
                            # markers) must not hold commits back.
                            await self._add_gap(tp, last + 1, offset)
                        read_offset[tp] = offset
                        if tp.topic in routes:
                            fetched.setdefault(tp.topic, []).append(message)
                        else:
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                    for topic, messages in fetched.items():
                        # A rebalance suspends the flow: the fetch is then
                        # dropped unacknowledged and read again after it.
                        await self.wait_first(routes[topic].put(messages), self.suspend_flow.wait())
                    n_acked: int = cast(Any, self)._n_acked
                    if self._commit_every is not None and n_acked >= self._commit_every:
                        self._n_acked = 0
                        await self.commit()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class Fetches(faust.Channel):  # type: ignore[misc]
    """One queue of fetched message lists, shared by whoever reads it.

    A plain Faust channel copies each value to every iterator cloned from
    it, and drops values put before the first one exists; a fetch must reach
    exactly one reader, and must not vanish while the agent starts.
    """

    def clone(self, *, is_iterator: bool | None = None, **kwargs: Any) -> Fetches:
        return self

    async def put(self, value: Any) -> None:
        try:
            await self.queue.put(value)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # A rebalance clears the queue and cancels waiting puts: the
            # fetch is dropped unacknowledged, and read again after the
            # rebalance seeks to the committed offsets.


class BatchTransport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer = BatchConsumer


class BatchApp(faust.App):  # type: ignore[misc]
    """A Faust app whose consumer can deliver topics in whole fetches."""

    def __init__(self, *args: Any, fetch_max_wait: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_routes: dict[str, Fetches] = {}
        self.fetch_max_wait = fetch_max_wait
        """Seconds the broker may hold a fetch with no new records."""

    def _new_transport(self) -> Any:
        url = self.conf.broker_consumer[0]
        if drivers.by_url(url) is not faust_aiokafka.Transport:
            raise ValueError(f"batch delivery needs the aiokafka transport, not {url}")
        return BatchTransport(self.conf.broker_consumer, self)

    def batches(self, topic: Any, maxsize: int) -> Fetches:
        """A channel of fetched message lists from ``topic``, for one agent.

        ``topic`` stays registered with Faust, so the consumer subscribes to
        it and commits its acknowledged offsets. ``maxsize`` fetches may wait
        in the channel; then the fetcher waits, and so does the broker.
        """
        self.topics.add(topic)
        channel = Fetches(self, maxsize=maxsize, is_iterator=True)
        self.batch_routes[topic.get_topic_name()] = channel
        return channel


def take(app: Any, messages: Sequence[Any]) -> list[Any]:
    """The messages of a fetch this process may still handle, now tracked.

    A fetch made before the latest rebalance may hold partitions this process
    no longer owns: it is dropped, as a Faust stream drops such events.
    """
    if not app.flow_control.is_active():
        return []
    generation = app.consumer_generation_id
    consumer = app.consumer
    kept = [m for m in messages if m.generation_id == generation]
    for message in kept:
        message.tracked = True
        consumer.track_message(message)
    return kept


async def tracked(app: Any, stream: AsyncIterable[Sequence[Any]]) -> AsyncIterator[list[Any]]:
    """An agent's fetches, each as ``take`` leaves it; empty ones skipped."""
    async for fetched in stream:
        messages = take(app, fetched)
        if messages:
            yield messages


def ack(app: Any, messages: Iterable[Any]) -> None:
    """Acknowledge handled messages; Faust commits past them in its own time."""
    consumer_ack = cast(Any, app.consumer).ack
    for message in messages:
        consumer_ack(message)
