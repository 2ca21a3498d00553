"""What the stores share: one Redis connection, the key prefix, and how a
Redis error becomes ``StoreUnavailable``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TypeVar

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from app import metrics
from app.errors import StoreUnavailable

T = TypeVar("T")


class Keyspace:
    """One connection and one prefix, shared by every store of a process."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, *parts: str | int) -> str:
        return ":".join((self._prefix, *map(str, parts)))

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        try:
            return await op()
        except (RedisError, OSError) as exc:
            metrics.redis_errors.labels(what).inc()
            raise StoreUnavailable(f"redis {what} failed: {exc!r}") from exc

    def _script(self, name: str) -> AsyncScript:
        """The Lua script ``<name>.lua`` beside the stores, registered on
        this connection (sent once, then called by its digest)."""
        return self._redis.register_script(SCRIPTS[name])


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.lua").read_text()


SCRIPTS = {name: _read(name) for name in ("join", "put", "count", "snapshot")}
"""Read once, when the stores are imported."""
