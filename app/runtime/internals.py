"""Every private attribute, fork and subclass of faust-streaming, mode and
aiokafka that the worker relies on, behind a small interface. Nothing else in
the project touches them; ``tests/test_internals.py`` pins each one to the
exact versions this module was written against, so an upgrade that changes
one fails loudly instead of silently changing delivery.

What it gives the rest of the worker:

==================================  ==========================================
``BatchApp``                        the Faust app: ``batches(topic)`` delivers
                                    a topic a fetch at a time; ``provision``
                                    runs before the group is joined;
                                    ``when_assigned`` / ``when_revoking``
                                    hooks; a bounded ``settle`` on every
                                    revocation and on stop
``tracked`` / ``ack`` / ``forget``  an agent's fetches, tracked until their
                                    outputs are safe, or given back unhandled
``messages``                        Faust messages as the core's ``Message``
``producer``                        the aiokafka producer under Faust's,
                                    or a second one for records a reader
                                    waits on
``assignment`` / ``joined`` /       what this process holds, whether it holds
``lag``                             it now, and how far behind it is
==================================  ==========================================

Why each piece exists:

- Stock Faust hands every record to its conductor one at a time (a
  flow-control wait, a decode, an ``Event``, a queue hop, a stream step),
  which cost more than scoring the record. Here a fetch of a batch topic
  goes to that topic's channel as one list; the agent does per batch what a
  Faust stream does per event (``tracked``), and acknowledges each message
  once its outputs are safe (``ack``); Faust commits up to the first
  unacknowledged offset, as always.
- Faust creates topics through the producer's client, and the consumer's
  own metadata does not see them until its next refresh: on a brand-new
  broker the group leader assigned only the topics it saw, and the training
  partition stayed unowned for minutes. Here every topic is created first
  (``provision``), the consumer waits until every partition it will read
  has a leader in its own metadata, and only then joins.
- Faust's stop and revocation wait (``wait_empty``) for every unacknowledged
  message, without a bound: a record acknowledged only by a later snapshot
  kept a stopping worker alive forever. Here ``settle`` runs the revocation
  hooks (the learner's final snapshot), waits a bounded time for what is in
  flight, and commits what is safe; what is not acknowledged by then is read
  again by the next owner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from aiokafka import AIOKafkaProducer
from faust.exceptions import ConsumerNotStarted, NotReady
from faust.transport import drivers
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

from app import metrics
from app.intake import Message

log = logging.getLogger(__name__)

Partitions = set[Any]
"""Faust ``TP``s: ``(topic, partition)`` named tuples."""

LEADER_POLL_SECONDS = 0.2


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

    async def wait_for_leaders(self, topics: set[str]) -> None:
        """Until every partition of ``topics`` has a leader in the metadata
        of this consumer's own client: the client whose view the group
        leader assigns from. Runs on the consumer's thread."""
        client = self._ensure_consumer()._client
        for topic in topics:
            client.add_topic(topic)
        waited, noted = time.monotonic(), 0.0
        while True:
            await client.force_metadata_update()
            cluster = client.cluster
            missing = sorted(
                t
                for t in topics
                if not cluster.partitions_for_topic(t)
                or cluster.available_partitions_for_topic(t) != cluster.partitions_for_topic(t)
            )
            if not missing:
                return
            if time.monotonic() - noted > 5:
                noted = time.monotonic()
                log.warning(
                    "waiting %.0f s for leaders of %s in the consumer's metadata",
                    noted - waited,
                    ", ".join(missing),
                )
            await asyncio.sleep(LEADER_POLL_SECONDS)


class BatchConsumer(faust_aiokafka.Consumer):  # type: ignore[misc]
    """Faust's aiokafka consumer: provisions before it joins, delivers batch
    topics a fetch at a time, and settles before every revocation."""

    def _new_consumer_thread(self) -> BatchConsumerThread:
        thread = BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)
        # mode waits 60 s for the thread to stop; aiokafka's leaving the
        # group waits that long when the broker is gone, and the stop with it.
        thread.shutdown_timeout = self.app.stop_timeout
        return thread

    async def subscribe(self, topics: Iterable[str]) -> None:
        names = set(topics)
        app: BatchApp = self.app
        await app.provision()
        thread: BatchConsumerThread = self._thread
        await thread.call_thread(thread.wait_for_leaders, names)
        log.info("topics ready, joining group %s: %s", app.conf.id, ", ".join(sorted(names)))
        await super().subscribe(names)

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        """Settle what is in flight, then let Faust revoke.

        Faust (0.15) forgets the acknowledged offsets of revoked partitions
        *before* it waits for in-flight messages and commits, and under
        Kafka's eager rebalancing every partition is revoked: whatever was
        handled since the last periodic commit was handled again after each
        rebalance, by this process or the next owner. Here the flow stops,
        the hooks run, in-flight batches are acknowledged and committed first.
        """
        if self.assignment():
            app: BatchApp = self.app
            await app.settle(set(revoked), app.rebalance_timeout)
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any], generation_id: int = 0) -> None:
        # The hooks run first: Faust resumes the flow while it handles the
        # assignment, and an agent must not see a record of a partition its
        # process does not know it holds yet.
        app: BatchApp = self.app
        for callback in app.assigned_callbacks:
            try:
                callback(set(assigned))
            except Exception:
                log.exception("assignment hook %r failed", callback)
        await super().on_partitions_assigned(assigned, generation_id)
        app.assigned_once = True

    async def _fetch(self, wait: float) -> list[tuple[Any, list[Any]]]:
        """Faust's ``Consumer.getmany`` (faust-streaming 0.15), a partition
        at a time: its high watermark is read and reported to Faust's
        monitor once per partition and fetch, not once per record (each
        read three calls deep into the consumer's thread object: 4% of a
        scorer's time), and records are not interleaved across partitions
        (a batch topic's records are gathered into one list anyway)."""
        records, active = await self._wait_next_records(wait)
        if records is None or self.should_stop:
            return []
        if not self.flow_active:
            # As Faust: a fetch while the flow is stopped seeks back.
            try:
                await self.perform_seek()
            except Exception as exc:
                log.warning("seek while the flow was stopped failed: %r", exc)
            return []
        generation = self.app.consumer_generation_id
        to_message = self._to_message
        out = []
        for tp, batch in records.items():
            if not self.flow_active or self.app.consumer_generation_id != generation:
                break  # a rebalance began: the rest is read again after it
            if active is None or tp in active or tp in self._buffered_partitions:
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                out.append((tp, [to_message(tp, record) for record in batch]))
        return out

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
                    for tp, batch in await self._fetch(1.0):
                        route = tp.topic in routes
                        for message in batch:
                            offset = message.offset
                            last = read_offset[tp]
                            if last is not None and offset < last:
                                continue  # read already: Faust drops it too
                            if last and offset - last > 1 and acks_enabled_for(message.topic):
                                # Offsets with no record (compaction, transaction
                                # markers) must not hold commits back.
                                await self._add_gap(tp, last + 1, offset)
                            read_offset[tp] = offset
                            if route:
                                fetched.setdefault(tp.topic, []).append(message)
                            elif self.flow_active:
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


class BatchProducer(faust_aiokafka.Producer):  # type: ignore[misc]
    """Faust's aiokafka producer, with a second one for records a reader
    waits on (``producer(app, express=True)``), started and stopped with it.

    aiokafka sends one produce request per broker at a time, everything
    queued since the last one riding in the next: a training record
    published behind a batch of predictions waited for that batch's
    request, then its own. On a connection of its own it does not.
    """

    _express: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        await super().on_start()
        express = self._new_producer()
        self.beacon.add(express)
        await express.start()
        self._express = express

    async def on_stop(self) -> None:
        await super().on_stop()
        express, self._express = self._express, None
        if express is not None:
            await express.stop()

    def express(self) -> AIOKafkaProducer:
        if self._express is None:
            raise NotReady("Producer service not yet started")
        return self._express


class BatchTransport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer = BatchConsumer
    Producer = BatchProducer


RevokingHook = Callable[[Partitions], Awaitable[None]]
AssignedHook = Callable[[Partitions], None]


class BatchApp(faust.App):  # type: ignore[misc]
    """A Faust app whose consumer delivers topics in whole fetches, creates
    its topics before it joins, and settles within a bound when it stops or
    loses partitions."""

    def __init__(
        self,
        *args: Any,
        fetch_max_wait: float,
        stop_timeout: float,
        provision: Callable[[], Awaitable[None]],
        **kwargs: Any,
    ) -> None:
        # ``settle`` replaces Faust's unbounded wait for in-flight messages
        # at revocation and at stop; with it on, Faust would wait again.
        super().__init__(*args, stream_wait_empty=False, **kwargs)
        self.batch_routes: dict[str, Fetches] = {}
        self.fetch_max_wait = fetch_max_wait
        """Seconds the broker may hold a fetch with no new records."""
        self.stop_timeout = stop_timeout
        """Seconds a stop waits for the hooks and what is in flight."""
        self._provision = provision
        self._provisioned: asyncio.Future[None] | None = None
        self.assigned_callbacks: list[AssignedHook] = []
        self.revoking_callbacks: list[RevokingHook] = []
        self.assigned_once = False

    @property
    def rebalance_timeout(self) -> float:
        """A revocation must be done well within the session timeout, or the
        group moves on without this process."""
        return min(self.stop_timeout, float(self.conf.broker_session_timeout) / 2)

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

    def when_assigned(self, callback: AssignedHook) -> None:
        """``callback(assigned)`` after every assignment (it must not block)."""
        self.assigned_callbacks.append(callback)

    def when_revoking(self, callback: RevokingHook) -> None:
        """``await callback(revoked)`` before partitions are given up, at a
        rebalance or a stop, before in-flight work is awaited and committed."""
        self.revoking_callbacks.append(callback)

    async def provision(self) -> None:
        """Create the topics, once per process (every subscription waits)."""
        if self._provisioned is None:
            self._provisioned = asyncio.ensure_future(self._provision())
        await asyncio.shield(self._provisioned)

    async def settle(self, partitions: Partitions, within: float) -> None:
        """Stop the flow, run the revoking hooks, wait up to ``within``
        seconds for what is in flight to be acknowledged, and commit what is
        safe."""
        consumer = self.consumer
        consumer.stop_flow()
        self.flow_control.suspend()
        self.flow_control.clear()
        deadline = time.monotonic() + within
        for callback in self.revoking_callbacks:
            try:
                await asyncio.wait_for(callback(partitions), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                log.warning("revocation hook %r did not finish within %.1f s", callback, within)
            except Exception:
                log.exception("revocation hook %r failed", callback)
        try:
            await asyncio.wait_for(consumer.wait_empty(), max(deadline - time.monotonic(), 0))
        except TimeoutError:
            left = sum(1 for m in consumer.unacked if not m.acked)
            log.warning(
                "%d records still in flight after %.1f s: not committed, they will be read again",
                left,
                within,
            )
        try:  # a broker that does not answer must not hold the stop either
            await asyncio.wait_for(consumer.commit(), max(deadline - time.monotonic(), 1.0))
        except TimeoutError:
            log.warning("offsets not committed in %.1f s: what was handled is read again", within)

    async def on_stop(self) -> None:
        consumer = self._consumer
        if consumer is not None:
            try:
                assigned = consumer.assignment()
            except ConsumerNotStarted:
                assigned = set()
            if assigned:
                log.info("stopping: settling %d partitions", len(assigned))
                await self.settle(set(assigned), self.stop_timeout)
        await super().on_stop()


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
    # Faust's ``track_message`` without its sensors: Faust's own monitor
    # counted each record in (2 to 3% of a scorer's time) and never out, as
    # messages are acknowledged here rather than through Faust's streams.
    # The worker's metrics are its own.
    unacked = consumer._unacked_messages
    for message in kept:
        message.tracked = True
        unacked.add(message)
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


def forget(app: Any, messages: Iterable[Any]) -> None:
    """Stop tracking messages this process will not handle (its partition
    was revoked while they waited): never acknowledged, so never committed,
    and no longer awaited by ``settle``. The next owner reads them again."""
    unacked = cast(Any, app.consumer)._unacked_messages
    for message in messages:
        unacked.discard(message)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A fetch's messages, tracked: acknowledged once what they taught is
    safe, or given back unhandled."""

    app: Any
    messages: Sequence[Any]

    def ack(self) -> None:
        ack(self.app, self.messages)

    def forget(self) -> None:
        forget(self.app, self.messages)


_positions: dict[tuple[str, int], int] = {}
"""Next offset to read, per (topic, partition) this process consumed: for the lag."""


def messages(fetched: Sequence[Any]) -> list[Message]:
    """Faust's consumer messages as the core's plain ``Message``s."""
    out = [Message(m.key, m.value, m.topic, m.partition, m.offset, m.timestamp) for m in fetched]
    for m in out:
        _positions[m.topic, m.partition] = m.offset + 1
    if out:
        metrics.events_consumed.labels(out[0].topic).inc(len(out))
    return out


def producer(app: Any, *, express: bool = False) -> AIOKafkaProducer:
    """The aiokafka producer under Faust's (started with the app); with
    ``express``, the one of its own for records a reader waits on
    (``BatchProducer``)."""
    if express:
        return cast(BatchProducer, app.producer).express()
    return cast(AIOKafkaProducer, app.producer._ensure_producer())


def assignment(app: Any) -> Partitions:
    """The partitions this process holds (empty before it has joined)."""
    try:
        return set(app.consumer.assignment())
    except ConsumerNotStarted:
        return set()


def joined(app: Any) -> bool:
    """Whether this process holds the assignment of the group's current
    generation: it has been assigned once, and no rebalance is under way."""
    return bool(app.assigned_once) and not app.rebalancing and not app.should_stop


def lag(app: Any) -> dict[tuple[str, int], int]:
    """Records behind the high watermark, per partition this process holds
    and has read from."""
    out = {}
    for tp in assignment(app):
        position = _positions.get((tp.topic, tp.partition))
        highwater = app.consumer.highwater(tp)
        if position is not None and highwater is not None:
            out[tp.topic, tp.partition] = highwater - position
    return out
