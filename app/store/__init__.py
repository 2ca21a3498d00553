"""The only user of Redis, split by what it stores: pending features and
claims (``app.store.pending``), the model registry (``app.store.registry``)
and drift windows (``app.store.drift``), over one shared connection
(``app.store.base``) to a Redis server or a Redis Cluster
(``EDDY_REDIS_CLUSTER``). Their Lua scripts are the ``.lua`` files beside
them, read once and sent to Redis when it lacks them; each declares every
key it touches, and those keys share a slot.

Each method is one round trip. Redis errors become ``StoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from app.settings import Settings
from app.signing import Signer
from app.store.base import Client, Keyspace
from app.store.drift import DRIFT_EVENTS_KEPT, Clock, Counts, DriftStore, DriftWindows, Window
from app.store.pending import DUPLICATE, PendingStore
from app.store.registry import VERSION_LOG_LENGTH, ModelRegistry, Snapshot

__all__ = [
    "DRIFT_EVENTS_KEPT",
    "DUPLICATE",
    "VERSION_LOG_LENGTH",
    "Clock",
    "Counts",
    "DriftWindows",
    "Snapshot",
    "Store",
    "Window",
]


class Store(PendingStore, ModelRegistry, DriftStore):
    """Every store of a process, on one connection."""

    def __init__(
        self,
        client: Client,
        prefix: str,
        snapshot_history: int,
        keep_every: int = 600,
        models_kept: int = 100,
        *,
        signer: Signer,
    ) -> None:
        Keyspace.__init__(self, client, prefix)
        self._signer = signer
        self._history = snapshot_history
        self._keep_every = keep_every
        self._models_kept = models_kept

    @classmethod
    def connect(
        cls,
        url: str,
        prefix: str,
        timeout: float,
        snapshot_history: int,
        keep_every: int = 600,
        models_kept: int = 100,
        *,
        signer: Signer,
        cluster: bool = False,
    ) -> Store:
        # redis-py's defaults wait far too long on a frozen server: bound every
        # call, retry briefly, then let the caller decide.
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError],
            "health_check_interval": 30,
        }
        client: Client = (
            RedisCluster.from_url(url, **options)
            if cluster
            else redis.Redis.from_url(url, **options)
        )
        return cls(client, prefix, snapshot_history, keep_every, models_kept, signer=signer)

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls.connect(
            settings.redis_url,
            settings.redis_prefix,
            settings.redis_timeout_seconds,
            settings.snapshot_history,
            settings.model_keep_every,
            settings.models_kept,
            signer=Signer.from_settings(settings),
            cluster=settings.redis_cluster,
        )

    async def close(self) -> None:
        await self._redis.aclose()

    async def put_pending(
        self,
        records: Sequence[tuple[str, bytes]],
        ttl: int,
        windows: Mapping[int, Counts] | None = None,
        limits: Window | None = None,
        clocks: Mapping[int, float] | None = None,
    ) -> None:
        """Store what was scored, per event id (a redelivered event keeps its
        first record), add the batch's drift histograms to their windows
        and move the event-time clock of each partition in ``clocks``, in
        one round trip."""
        if not records and not windows and not clocks:
            return

        async def send() -> Any:
            pipe = self._redis.pipeline(transaction=False)
            if records:
                self._queue_pending(pipe, records, ttl)
            if limits is not None:
                self._queue_counts(pipe, windows or {}, limits, clocks or {})
            return await pipe.execute()

        await self._call("put_pending", send)
