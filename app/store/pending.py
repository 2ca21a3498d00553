"""Pending features and claims: what each scored event keeps until its
label comes, the label's claim on it (learned at most once), and what
became of the labels of a ``POST /learn`` request.

Keys (``P`` is ``EDDY_REDIS_PREFIX``):

============================  ===========================================
``P:pending:<event id>``      what was scored: features, served prediction,
                              model version, time, challengers' shadow
                              predictions (JSON; first write wins)
``P:pending-count:<minute>``  events first stored that minute (minutes since
                              the epoch), and ``P:pending-hour:<hour>``
                              that hour: what ``count_pending`` adds up
``P:claim:<event id>``        training-topic offset of the label that
                              claimed the event (learned at most once)
``P:reply:<request>``         each label's outcome, by its index
============================  ===========================================

On a Redis Cluster an event's keys and its minute's counter are in one of
``BUCKETS`` groups, by a hash of the event id (``P:{e<k>}:pending:<event
id>``, ``P:{e<k>}:claim:<event id>``, ``P:{e<k>}:pending-count:<minute>``):
each script touches one group's keys, and the groups spread over the nodes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio.cluster import RedisCluster

from app.store.base import BUCKETS, Keyspace

DUPLICATE = b"D"
"""What ``join`` returns for an event already claimed by another offset."""


class PendingStore(Keyspace):
    def _count_key(self, bucket: int, minute: int, per: str = "pending-count") -> str:
        """Events first stored in ``minute`` (of one group, on a cluster);
        with ``per="pending-hour"``, in that hour (``minute`` is the hour)."""
        if not self._cluster:
            return self._key(per, minute)
        return self._in(f"e{bucket}", per, minute)

    def _by_bucket(self, event_ids: Sequence[str]) -> dict[int, list[int]]:
        """The positions of ``event_ids`` by group, in order."""
        groups: dict[int, list[int]] = {}
        for i, event_id in enumerate(event_ids):
            groups.setdefault(self._bucket(event_id), []).append(i)
        return groups

    def _queue_pending(self, pipe: Any, records: Sequence[tuple[str, bytes]], ttl: int) -> None:
        """Queue the storing of ``records`` (a redelivered event keeps its
        first record) on ``pipe``, one script call per group: sent with
        whatever else it holds."""
        minute = int(time.time() // 60)
        for bucket, where in self._by_bucket([e for e, _ in records]).items():
            keys = [self._event_key("pending", records[i][0]) for i in where]
            keys.append(self._count_key(bucket, minute))
            keys.append(self._count_key(bucket, minute // 60, "pending-hour"))
            self._eval(pipe, "put", keys, [ttl, *(records[i][1] for i in where)])

    async def count_pending(self, ttl: int) -> int:
        """Scored events whose features are still kept, to the minute: the
        counters of the minutes within ``ttl``, read as whole hours where
        they can be (the hour's counter) and minutes at the start (at most
        85 counters for a day), one round trip (no scan; on a cluster, one
        ``MGET`` per slot)."""
        now = int(time.time() // 60)
        first = now - ttl // 60
        hour = -(-first // 60)  # the first whole hour within the window
        minutes = range(first, min(hour * 60, now + 1))
        hours = range(hour, now // 60 + 1)
        keys = []
        for b in range(BUCKETS) if self._cluster else range(1):
            keys += [self._count_key(b, m) for m in minutes]
            keys += [self._count_key(b, h, "pending-hour") for h in hours]
        if self._cluster:
            cluster = cast(RedisCluster, self._redis)
            counts = await self._call("count_pending", lambda: cluster.mget_nonatomic(keys))
        else:
            counts = await self._call("count_pending", lambda: self._redis.mget(keys))
        return sum(int(c) for c in counts if c)

    async def join(self, claims: Sequence[tuple[str, int]], ttl: int) -> list[bytes | None]:
        """Claim each ``(event id, training offset)`` and return its pending
        record: ``None`` if unknown, ``DUPLICATE`` if claimed by another
        offset. One script call per group (one in all on a single server)."""
        if not claims:
            return []
        groups = list(self._by_bucket([e for e, _ in claims]).values())

        def call(client: Any, where: list[int]) -> Any:
            keys = [self._event_key("pending", claims[i][0]) for i in where]
            keys += [self._event_key("claim", claims[i][0]) for i in where]
            return self._eval(client, "join", keys, [*(claims[i][1] for i in where), ttl])

        async def send() -> list[list[bytes | int]]:
            if len(groups) == 1:
                return [await call(self._redis, groups[0])]
            pipe = self._redis.pipeline(transaction=False)
            for where in groups:
                call(pipe, where)
            return cast(list[list[bytes | int]], await pipe.execute())

        out: list[bytes | None] = [None] * len(claims)
        for where, result in zip(groups, await self._call("join", send), strict=True):
            for i, r in zip(where, result, strict=True):
                out[i] = cast(bytes, r) if r else None
        return out

    async def put_replies(self, replies: Sequence[tuple[str, str]], ttl: int) -> None:
        """Each ``("<request>:<index>", outcome)``: what became of the labels
        of a ``POST /learn`` request, for it to answer (kept ``ttl`` s)."""

        async def send() -> Any:
            pipe = self._redis.pipeline(transaction=False)
            for reply, outcome in replies:
                request, index = reply.rsplit(":", 1)
                key = self._key("reply", request)
                pipe.hsetnx(key, index, outcome)  # the first outcome: a redelivery's is not it
                pipe.expire(key, ttl)
            return await pipe.execute()

        await self._call("reply", send)

    async def replies(self, request: str) -> dict[int, str]:
        """The outcomes written so far for ``request``, by label index."""
        key = self._key("reply", request)
        raw = await self._call("reply", lambda: self._redis.hgetall(key))
        found = cast(dict[bytes, bytes], raw)
        return {int(k): v.decode() for k, v in found.items()}
