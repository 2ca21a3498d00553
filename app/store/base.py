"""What the stores share: one Redis connection (a server, or a Redis
Cluster), the key prefix, the Lua scripts, and how a Redis error becomes
``StoreUnavailable``.

Keys a script or a transaction touches together belong to one group. On a
Redis Cluster the group is the key's hash tag (``P:{model:M}:head``), so
they share a slot; on a single server keys carry no braces
(``P:model:M:head``), as they always have.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError

from app import metrics
from app.errors import StoreUnavailable

T = TypeVar("T")
Client = redis.Redis | RedisCluster

BUCKETS = 64
"""On a Redis Cluster, the groups pending records are spread over (by a
hash of the event id): a batch is one script call per group present, and
64 groups spread evenly enough over the cluster's slots and nodes."""


class Keyspace:
    """One connection and one prefix, shared by every store of a process."""

    def __init__(self, client: Client, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._cluster = isinstance(client, RedisCluster)

    def _key(self, *parts: str | int) -> str:
        """A key of no group: touched alone."""
        return ":".join((self._prefix, *map(str, parts)))

    def _in(self, group: str, *parts: str | int) -> str:
        """A key of ``group``: on a cluster, in the group's slot."""
        return self._key(f"{{{group}}}" if self._cluster else group, *parts)

    def _bucket(self, event_id: str) -> int:
        """The group of an event's keys on a cluster (0 on one server)."""
        return zlib.crc32(event_id.encode()) % BUCKETS if self._cluster else 0

    def _event_key(self, kind: str, event_id: str) -> str:
        if not self._cluster:
            return self._key(kind, event_id)
        return self._in(f"e{self._bucket(event_id)}", kind, event_id)

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        """``op`` (which builds what it sends each time it is called), its
        scripts sent to Redis first if Redis lost them (a restart, a new
        primary), or ``StoreUnavailable``."""
        try:
            try:
                return await op()
            except NoScriptError:
                for text in SCRIPTS.values():
                    await self._redis.script_load(text)  # every primary, on a cluster
                return await op()
        except (RedisError, OSError) as exc:
            metrics.redis_errors.labels(what).inc()
            raise StoreUnavailable(f"redis {what} failed: {exc!r}") from exc

    @staticmethod
    def _eval(client: Any, name: str, keys: list[str], args: list[Any]) -> Awaitable[Any]:
        """Run the script ``<name>.lua`` by its digest on ``client`` (a
        connection or a pipeline): ``_call`` sends it when Redis lacks it."""
        # As a raw command: redis-py refuses ``evalsha`` on a cluster's
        # pipeline (it cannot know a script's keys), but routes EVALSHA by
        # its declared keys, which is what the scripts' keys are for.
        return client.execute_command(  # type: ignore[no-any-return]
            "EVALSHA", DIGESTS[name], len(keys), *keys, *args
        )


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.lua").read_text()


SCRIPTS = {name: _read(name) for name in ("join", "put", "count", "snapshot", "clock")}
"""Read once, when the stores are imported."""
DIGESTS = {name: hashlib.sha1(text.encode()).hexdigest() for name, text in SCRIPTS.items()}
"""What each script is called by (``EVALSHA``)."""
