"""The only user of Redis: pending features, label claims, model snapshots.

Keys (``P`` is ``EDDY_REDIS_PREFIX``, ``M`` the model's name):

============================  ===========================================
``P:pending:<event id>``      what was scored: features, served prediction,
                              model version, time (JSON; first write wins)
``P:claim:<event id>``        training-topic offset of the label that
                              claimed the event (learned at most once)
``P:model:M:head``            newest version and its metadata (hash)
``P:model:M:snap:<version>``  pickled learner state of that version
``P:model:M:versions``        log of every version's metadata (sorted set)
============================  ===========================================

Each method is one round trip. Redis errors become ``StoreUnavailable``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import redis.asyncio as redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from app.errors import SnapshotConflict, StoreUnavailable

T = TypeVar("T")

VERSION_LOG_LENGTH = 100_000

# Claims a label's event for one training-topic offset. Re-claiming with the
# same offset succeeds: that is the learner replaying records that its last
# snapshot did not cover, after a crash.
_JOIN = """
local out = {}
local n = #ARGV - 1
local ttl = ARGV[#ARGV]
for i = 1, n do
  local pending = redis.call('GET', KEYS[i])
  if not pending then
    out[i] = false
  else
    local offset = ARGV[i]
    local claim = KEYS[n + i]
    if redis.call('SET', claim, offset, 'NX', 'EX', ttl) or redis.call('GET', claim) == offset then
      out[i] = pending
    else
      out[i] = 'D'
    end
  end
end
return out
"""

# Writes a new version only on top of the version the learner started from:
# a learner that lost its partition cannot fork the model.
_SNAPSHOT = """
local head, snap, log, old = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local base, version, blob, meta, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local current = redis.call('HGET', head, 'version')
if (current or '') ~= base then
  return {0, current or ''}
end
redis.call('SET', snap, blob)
redis.call('HSET', head, 'version', version, 'meta', meta)
redis.call('ZADD', log, version, meta)
redis.call('ZREMRANGEBYRANK', log, 0, -tonumber(keep) - 1)
if old ~= snap then redis.call('DEL', old) end
return {1, version}
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    blob: bytes
    meta: dict[str, Any]


DUPLICATE = b"D"
"""What ``join`` returns for an event already claimed by another offset."""


class Store:
    def __init__(self, client: redis.Redis, prefix: str, snapshot_history: int) -> None:
        self._redis = client
        self._prefix = prefix
        self._history = snapshot_history
        self._join = client.register_script(_JOIN)
        self._snapshot = client.register_script(_SNAPSHOT)

    @classmethod
    def connect(cls, url: str, prefix: str, timeout: float, snapshot_history: int) -> Store:
        # redis-py's defaults wait far too long on a frozen server: bound every
        # call, retry briefly, then let the caller decide.
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=30,
        )
        return cls(client, prefix, snapshot_history)

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        try:
            return await op()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis {what} failed: {exc!r}") from exc

    def _key(self, *parts: str | int) -> str:
        return ":".join((self._prefix, *map(str, parts)))

    # -- pending features -------------------------------------------------

    async def put_pending(self, records: Sequence[tuple[str, bytes]], ttl: int) -> None:
        """Store what was scored, per event id; a redelivered event keeps its
        first record."""
        if not records:
            return
        pipe = self._redis.pipeline(transaction=False)
        for event_id, record in records:
            pipe.set(self._key("pending", event_id), record, nx=True, ex=ttl)
        await self._call("put_pending", pipe.execute)

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

    # -- model snapshots --------------------------------------------------

    async def head_version(self, model: str) -> int | None:
        raw = await self._call(
            "head", lambda: self._redis.hget(self._key("model", model, "head"), "version")
        )
        return None if raw is None else int(raw)

    async def save_snapshot(
        self, model: str, base: int | None, version: int, blob: bytes, meta: dict[str, Any]
    ) -> None:
        """Write ``version`` if the head is still ``base``; else ``SnapshotConflict``."""
        meta = {"version": version, "created_at": time.time(), **meta}
        keys = [
            self._key("model", model, "head"),
            self._key("model", model, "snap", version),
            self._key("model", model, "versions"),
            self._key("model", model, "snap", max(version - self._history, 0)),
        ]
        args = ["" if base is None else base, version, blob, json.dumps(meta), VERSION_LOG_LENGTH]
        written, head = await self._call("snapshot", lambda: self._snapshot(keys=keys, args=args))
        if not written:
            raise SnapshotConflict(f"{model}: head is version {head!r}, not {base}")

    async def load_snapshot(self, model: str, version: int | None = None) -> Snapshot | None:
        """The given version, or the newest; ``None`` if there is none."""
        if version is None:
            version = await self.head_version(model)
            if version is None:
                return None
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._key("model", model, "snap", version))
        pipe.zrange(self._key("model", model, "versions"), version, version, byscore=True)
        blob, metas = await self._call("load_snapshot", pipe.execute)
        blob = cast(bytes | None, blob)
        if blob is None:
            return None
        meta = json.loads(metas[0]) if metas else {"version": version}
        return Snapshot(version, blob, meta)

    async def versions(self, model: str) -> list[dict[str, Any]]:
        """Metadata of every logged version, oldest first."""
        key = self._key("model", model, "versions")
        raw = await self._call("versions", lambda: self._redis.zrange(key, 0, -1))
        return [json.loads(cast(bytes, r)) for r in raw]
