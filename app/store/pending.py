"""Pending features and claims: what each scored event keeps until its
label comes, the label's claim on it (learned at most once), and what
became of the labels of a ``POST /learn`` request.

Keys (``P`` is ``EDDY_REDIS_PREFIX``):

============================  ===========================================
``P:pending:<event id>``      what was scored: features, served prediction,
                              model version, time, challengers' shadow
                              predictions (JSON; first write wins)
``P:pending-count:<minute>``  events first stored that minute (minutes since
                              the epoch): what ``count_pending`` adds up
``P:claim:<event id>``        training-topic offset of the label that
                              claimed the event (learned at most once)
``P:reply:<request>``         each label's outcome, by its index
============================  ===========================================
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import cast

from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from app.store.base import Keyspace

DUPLICATE = b"D"
"""What ``join`` returns for an event already claimed by another offset."""


class PendingStore(Keyspace):
    @functools.cached_property
    def _put(self) -> AsyncScript:
        return self._script("put")

    @functools.cached_property
    def _join(self) -> AsyncScript:
        return self._script("join")

    async def _queue_pending(
        self, pipe: Pipeline, records: Sequence[tuple[str, bytes]], ttl: int
    ) -> None:
        """Queue the storing of ``records`` (a redelivered event keeps its
        first record) on ``pipe``: sent with whatever else it holds."""
        keys = [self._key("pending", event_id) for event_id, _ in records]
        keys.append(self._key("pending-count", int(time.time() // 60)))
        put: list[bytes | int] = [ttl, *(record for _, record in records)]
        # Queued on the pipeline, not sent: the await only registers it.
        await self._put(keys=keys, args=put, client=pipe)

    async def count_pending(self, ttl: int) -> int:
        """Scored events whose features are still kept, to the minute: the
        counters of the minutes within ``ttl``, one round trip (no scan)."""
        now = int(time.time() // 60)
        keys = [self._key("pending-count", m) for m in range(now - ttl // 60, now + 1)]
        counts = await self._call("count_pending", lambda: self._redis.mget(keys))
        return sum(int(c) for c in counts if c)

    async def join(self, claims: Sequence[tuple[str, int]], ttl: int) -> list[bytes | None]:
        """Claim each ``(event id, training offset)`` and return its pending
        record: ``None`` if unknown, ``DUPLICATE`` if claimed by another offset."""
        if not claims:
            return []
        keys = [self._key("pending", e) for e, _ in claims]
        keys += [self._key("claim", e) for e, _ in claims]
        args: list[str | int] = [offset for _, offset in claims]
        args.append(ttl)
        result = await self._call("join", lambda: self._join(keys=keys, args=args))
        return [r if r else None for r in result]

    async def put_replies(self, replies: Sequence[tuple[str, str]], ttl: int) -> None:
        """Each ``("<request>:<index>", outcome)``: what became of the labels
        of a ``POST /learn`` request, for it to answer (kept ``ttl`` s)."""
        pipe = self._redis.pipeline(transaction=False)
        for reply, outcome in replies:
            request, index = reply.rsplit(":", 1)
            key = self._key("reply", request)
            pipe.hsetnx(key, index, outcome)  # the first outcome: a redelivery's is not it
            pipe.expire(key, ttl)
        await self._call("reply", pipe.execute)

    async def replies(self, request: str) -> dict[int, str]:
        """The outcomes written so far for ``request``, by label index."""
        key = self._key("reply", request)
        raw = await self._call("reply", lambda: self._redis.hgetall(key))
        found = cast(dict[bytes, bytes], raw)
        return {int(k): v.decode() for k, v in found.items()}
