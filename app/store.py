"""The only user of Redis: pending features, label claims, model snapshots.

Keys (``P`` is ``EDDY_REDIS_PREFIX``, ``M`` the model's name):

============================  ===========================================
``P:pending:<event id>``      what was scored: features, served prediction,
                              model version, time (JSON; first write wins)
``P:pending-count:<minute>``  events first stored that minute (minutes since
                              the epoch): what ``count_pending`` adds up
``P:claim:<event id>``        training-topic offset of the label that
                              claimed the event (learned at most once)
``P:model:M:head``            newest version and its metadata (hash)
``P:model:M:snap:<version>``  pickled learner state of that version
``P:model:M:serve:<version>`` pickled model of that version: what
                              serving loads
``P:model:M:shadow:<version>`` pickled models of its challengers: what
                              scoring in shadow loads (all three signed:
                              ``app.signing``; absent without challengers)
``P:model:M:versions``        log of every version's metadata (sorted set)
``P:model:M:new`` (channel)   each new version's number, published as it
                              is written: processes load it at once
``P:model:M:kept``            versions whose model is kept past the
                              history, for rollbacks and pins (sorted set)
``P:model:M:commands``        operators' commands, for the learner (list)
``P:model:M:done:<id>``       what became of a command (expires)
``P:learner``                 who owns the learning now (expires unless
                              its owner renews it: a stopped or revoked
                              owner simply stops renewing)
============================  ===========================================

Each method is one round trip. Redis errors become ``StoreUnavailable``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import redis.asyncio as redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from app import metrics
from app.errors import BadSnapshot, SnapshotConflict, StoreUnavailable
from app.settings import Settings
from app.signing import Signer

T = TypeVar("T")

VERSION_LOG_LENGTH = 100_000
DRIFT_EVENTS_KEPT = 100
Counts = Mapping[str, Mapping[str, int]]
"""Drift histograms: ``{subject: {bucket: count}}``."""


@dataclass(frozen=True, slots=True)
class Window:
    """The drift window a batch's histograms go to."""

    id: int
    ttl: int
    max_subjects: int
    max_buckets: int


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
local head, snap, serve, log, old, old_serve, kept, shadow, old_shadow =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local base, version, blob, model, meta, keep, channel, oldest, keep_this, kept_max, serve_prefix,
  shadows = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9],
  ARGV[10], ARGV[11], ARGV[12]
local current = redis.call('HGET', head, 'version')
if (current or '') ~= base then
  return {0, current or ''}
end
redis.call('SET', snap, blob)
redis.call('SET', serve, model)
if shadows ~= '' then redis.call('SET', shadow, shadows) else redis.call('DEL', shadow) end
redis.call('HSET', head, 'version', version, 'meta', meta)
redis.call('ZADD', log, version, meta)
redis.call('ZREMRANGEBYRANK', log, 0, -tonumber(keep) - 1)
if keep_this == '1' then
  redis.call('ZADD', kept, version, version)
  while redis.call('ZCARD', kept) > tonumber(kept_max) do
    local gone = redis.call('ZPOPMIN', kept)[1]
    if tonumber(gone) < tonumber(oldest) then redis.call('DEL', serve_prefix .. gone) end
  end
end
if old ~= snap then
  redis.call('DEL', old, old_shadow)
  if not redis.call('ZSCORE', kept, oldest) then redis.call('DEL', old_serve) end
end
redis.call('PUBLISH', channel, version)
return {1, version}
"""


# Stores a batch's pending records, each only if absent (a redelivered event
# keeps its first record): one command to send instead of one per event.
# Each record under its declared key, first write wins; the new ones are
# counted in the minute's counter (the last key), which outlives them.
_PUT = """
local ttl, n, new = ARGV[1], #KEYS - 1, 0
for i = 1, n do
  if redis.call('SET', KEYS[i], ARGV[i + 1], 'NX', 'EX', ttl) then new = new + 1 end
end
if new > 0 then
  redis.call('INCRBY', KEYS[n + 1], new)
  redis.call('EXPIRE', KEYS[n + 1], ttl + 120)
end
return new
"""

# Adds a batch's drift histograms to the window's counts. Bounded: at most
# max_subjects features are watched, each with at most max_buckets buckets.
_COUNT = """
local subjects, base = KEYS[1], ARGV[1]
local ttl, max_subjects, max_buckets = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local touched = {}
for i = 5, #ARGV, 3 do
  local subject, b, n = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local known = redis.call('SISMEMBER', subjects, subject) == 1
  if not known and redis.call('SCARD', subjects) < max_subjects then
    redis.call('SADD', subjects, subject)
    known = true
  end
  if known then
    local key = base .. subject
    if redis.call('HEXISTS', key, b) == 0 and redis.call('HLEN', key) >= max_buckets then
      b = 'other'
    end
    redis.call('HINCRBY', key, b, n)
    if not touched[key] then
      touched[key] = true
      redis.call('EXPIRE', key, ttl)
    end
  end
end
return 0
"""


@dataclass(frozen=True, slots=True)
class DriftWindows:
    """What a drift check reads: per subject, the closed window's histogram,
    the reference histogram and the window the reference came from."""

    current: dict[str, dict[str, int]]
    reference: dict[str, dict[str, int]]
    reference_window: dict[str, int]


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    blob: bytes
    """The learner's state (or, before ``model`` was kept apart, state and model)."""
    meta: dict[str, Any]
    model: bytes | None = None
    """The model alone (None in snapshots written before it was kept apart)."""
    refusal: BadSnapshot | None = None
    """Why its blobs were refused unread (signature), if they were: then
    ``blob`` and ``model`` are empty."""
    shadow: bytes | None = None
    """Its challengers' models (None: it has none, or they were not asked for)."""


DUPLICATE = b"D"
"""What ``join`` returns for an event already claimed by another offset."""


class Store:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        snapshot_history: int,
        keep_every: int = 600,
        models_kept: int = 100,
        *,
        signer: Signer,
    ) -> None:
        self._redis = client
        self._signer = signer
        self._prefix = prefix
        self._history = snapshot_history
        self._keep_every = keep_every
        self._models_kept = models_kept
        self._join = client.register_script(_JOIN)
        self._snapshot = client.register_script(_SNAPSHOT)
        self._count = client.register_script(_COUNT)
        self._put = client.register_script(_PUT)

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
    ) -> Store:
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
        )

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        try:
            return await op()
        except (RedisError, OSError) as exc:
            metrics.redis_errors.labels(what).inc()
            raise StoreUnavailable(f"redis {what} failed: {exc!r}") from exc

    def _key(self, *parts: str | int) -> str:
        return ":".join((self._prefix, *map(str, parts)))

    # -- pending features -------------------------------------------------

    async def put_pending(
        self,
        records: Sequence[tuple[str, bytes]],
        ttl: int,
        counts: Counts | None = None,
        window: Window | None = None,
    ) -> None:
        """Store what was scored, per event id (a redelivered event keeps its
        first record), and add the batch's drift histograms to ``window``,
        in one round trip."""
        if not records and not counts:
            return
        pipe = self._redis.pipeline(transaction=False)
        if records:
            keys = [self._key("pending", event_id) for event_id, _ in records]
            keys.append(self._key("pending-count", int(time.time() // 60)))
            put: list[bytes | int] = [ttl, *(record for _, record in records)]
            # Queued on the pipeline, not sent: the await only registers it.
            await self._put(keys=keys, args=put, client=pipe)
        if counts and window is not None:
            args: list[str | int] = [
                self._key("drift", "win", window.id, ""),
                window.ttl,
                window.max_subjects,
                window.max_buckets,
            ]
            for subject, hist in counts.items():
                for name, n in hist.items():
                    args += (subject, name, n)
            await self._count(keys=[self._key("drift", "subjects")], args=args, client=pipe)
        await self._call("put_pending", pipe.execute)

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

    # -- the learner's heartbeat ---------------------------------------------

    async def beat(self, owner: str, ttl: float) -> None:
        """``owner`` learns, for the next ``ttl`` seconds unless it beats again."""
        key = self._key("learner")
        await self._call("beat", lambda: self._redis.set(key, owner, px=round(ttl * 1000)))

    async def learner(self) -> str | None:
        """Who owns the learning, if a live process does."""
        raw = await self._call("learner", lambda: self._redis.get(self._key("learner")))
        return None if raw is None else cast(bytes, raw).decode()

    # -- model snapshots --------------------------------------------------

    async def head_version(self, model: str) -> int | None:
        raw = await self._call(
            "head", lambda: self._redis.hget(self._key("model", model, "head"), "version")
        )
        return None if raw is None else int(raw)

    async def head_meta(self, model: str) -> dict[str, Any] | None:
        """The newest version's metadata (what it learned, its quality), without its blob."""
        raw = await self._call(
            "head", lambda: self._redis.hget(self._key("model", model, "head"), "meta")
        )
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    async def save_snapshot(
        self,
        model: str,
        base: int | None,
        version: int,
        blob: bytes,
        meta: dict[str, Any],
        served: bytes = b"",
        shadow: bytes = b"",
        *,
        keep: bool = False,
    ) -> None:
        """Write ``version`` (the learner's state ``blob``, the ``served``
        model and its challengers' models, ``shadow``) if the head is still
        ``base``, and publish its number; else
        ``SnapshotConflict``. Its model is kept past the history if ``keep``
        (or if the version is one of every ``keep_every``)."""
        meta = {"version": version, "created_at": time.time(), **meta}
        oldest = max(version - self._history, 0)
        keys = [
            self._key("model", model, "head"),
            self._key("model", model, "snap", version),
            self._key("model", model, "serve", version),
            self._key("model", model, "versions"),
            self._key("model", model, "snap", oldest),
            self._key("model", model, "serve", oldest),
            self._key("model", model, "kept"),
            self._key("model", model, "shadow", version),
            self._key("model", model, "shadow", oldest),
        ]
        args = [
            "" if base is None else base,
            version,
            self._signer.sign(f"{model}:state:{version}", blob),
            self._signer.sign(f"{model}:model:{version}", served) if served else b"",
            json.dumps(meta),
            VERSION_LOG_LENGTH,
            self.channel(model),
            oldest,
            "1" if keep or version % self._keep_every == 0 else "0",
            self._models_kept,
            self._key("model", model, "serve", ""),
            self._signer.sign(f"{model}:shadow:{version}", shadow) if shadow else b"",
        ]
        written, head = await self._call("snapshot", lambda: self._snapshot(keys=keys, args=args))
        if not written:
            current = int(head) if head else None
            raise SnapshotConflict(f"{model}: head is version {current}, not {base}", current)

    async def load_snapshot(
        self, model: str, version: int | None = None, *, state: bool = True, shadow: bool = True
    ) -> Snapshot | None:
        """The given version, or the newest; ``None`` if there is none.
        Without ``state``, only the model (``blob`` is empty), unless the
        snapshot predates keeping the model apart; without ``shadow``, not
        the challengers' models (a state always has them)."""
        if version is None:
            version = await self.head_version(model)
            if version is None:
                return None
        shadow = shadow or state
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._key("model", model, "serve", version))
        if shadow:
            pipe.get(self._key("model", model, "shadow", version))
        if state:
            pipe.get(self._key("model", model, "snap", version))
        pipe.zrange(self._key("model", model, "versions"), version, version, byscore=True)
        found = iter(await self._call("load_snapshot", pipe.execute))
        served = next(found)
        shadows = next(found) if shadow else None
        blob = next(found) if state else b""
        metas = next(found)
        if not state and not served:  # an older snapshot: the model is inside the state
            return await self.load_snapshot(model, version)
        if blob is None:
            return None
        meta = json.loads(metas[0]) if metas else {"version": version}
        try:
            if blob:
                blob = self._signer.open(f"{model}:state:{version}", cast(bytes, blob))
            if served:
                served = self._signer.open(f"{model}:model:{version}", cast(bytes, served))
            if shadows:
                shadows = self._signer.open(f"{model}:shadow:{version}", cast(bytes, shadows))
        except BadSnapshot as exc:  # nothing of it is read
            return Snapshot(version, b"", meta, None, refusal=exc)
        return Snapshot(
            version, cast(bytes, blob), meta, cast(bytes, served) or None, None, shadows or None
        )

    async def kept(self, model: str) -> list[int]:
        """Versions whose model is kept past the history, oldest first."""
        key = self._key("model", model, "kept")
        raw = await self._call("kept", lambda: self._redis.zrange(key, 0, -1))
        return [int(cast(bytes, v)) for v in raw]

    async def loadable(self, model: str, version: int) -> bool:
        """Whether ``version``'s model is still in Redis."""
        key = self._key("model", model, "serve", version)
        return bool(await self._call("loadable", lambda: self._redis.exists(key)))

    # -- operators' commands ---------------------------------------------

    async def send_command(self, model: str, command: dict[str, Any]) -> None:
        """Queue a command for the learner (it takes them in order)."""
        key = self._key("model", model, "commands")
        await self._call("command", lambda: self._redis.lpush(key, json.dumps(command)))

    async def next_command(self, model: str) -> dict[str, Any] | None:
        """The oldest command not taken yet, taken."""
        key = self._key("model", model, "commands")
        raw = await self._call("command", lambda: self._redis.rpop(key))
        return None if raw is None else cast(dict[str, Any], json.loads(cast(bytes, raw)))

    async def retake_command(self, model: str, command: dict[str, Any]) -> None:
        """Put a taken command back, first in line (it was not carried out)."""
        key = self._key("model", model, "commands")
        await self._call("command", lambda: self._redis.rpush(key, json.dumps(command)))

    async def command_done(self, model: str, command_id: str, result: dict[str, Any]) -> None:
        """What became of a command (kept an hour)."""
        key = self._key("model", model, "done", command_id)
        await self._call("command", lambda: self._redis.set(key, json.dumps(result), ex=3600))

    async def command_result(self, model: str, command_id: str) -> dict[str, Any] | None:
        key = self._key("model", model, "done", command_id)
        raw = await self._call("command", lambda: self._redis.get(key))
        return None if raw is None else cast(dict[str, Any], json.loads(cast(bytes, raw)))

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

    def channel(self, model: str) -> str:
        """Where each new version of ``model`` is announced."""
        return self._key("model", model, "new")

    async def announced(self, model: str) -> AsyncGenerator[int | None, None]:
        """The versions of ``model`` as they are written: a push, not a poll.
        Yields None first, once subscribed: what was written before is the
        caller's to read. Raises ``StoreUnavailable`` when the connection is
        lost: what is published meanwhile is not replayed, so subscribe
        again and read the head."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await self._call("subscribe", lambda: pubsub.subscribe(self.channel(model)))
            yield None
            while True:
                # A bounded wait, so a dead connection is noticed by the
                # health check rather than waited on for good.
                message = await self._call("announced", lambda: pubsub.get_message(timeout=5.0))
                if message is not None:
                    yield int(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    # -- drift windows ------------------------------------------------------

    async def claim_drift_check(self, window: int, ttl: int) -> bool:
        """True for the one process that checks ``window``."""
        key = self._key("drift", "checked", window)
        return bool(
            await self._call("claim_drift_check", lambda: self._redis.set(key, 1, nx=True, ex=ttl))
        )

    async def drift_checked(self, window: int) -> bool:
        """Whether some process has checked ``window``."""
        key = self._key("drift", "checked", window)
        return bool(await self._call("drift_checked", lambda: self._redis.exists(key)))

    async def unclaim_drift_check(self, window: int) -> None:
        """Give ``window`` back to the next check (its results were not written)."""
        key = self._key("drift", "checked", window)
        # If this fails too, the window stays claimed, and is not judged.
        with contextlib.suppress(StoreUnavailable):
            await self._call("unclaim_drift_check", lambda: self._redis.delete(key))

    async def drift_windows(self, window: int) -> DriftWindows:
        subjects_key = self._key("drift", "subjects")
        raw = await self._call("drift_subjects", lambda: self._redis.smembers(subjects_key))
        subjects = sorted(s.decode() for s in cast(set[bytes], raw))
        pipe = self._redis.pipeline(transaction=False)
        for subject in subjects:
            pipe.hgetall(self._key("drift", "win", window, subject))
            pipe.hgetall(self._key("drift", "ref", subject))
        pipe.hgetall(self._key("drift", "refwin"))
        *hists, refwin = await self._call("drift_windows", pipe.execute)

        def decode(h: dict[bytes, bytes]) -> dict[str, int]:
            return {k.decode(): int(v) for k, v in h.items()}

        return DriftWindows(
            current={s: decode(hists[2 * i]) for i, s in enumerate(subjects)},
            reference={s: decode(hists[2 * i + 1]) for i, s in enumerate(subjects)},
            reference_window={k.decode(): int(v) for k, v in refwin.items()},
        )

    async def save_drift(
        self,
        references: dict[str, tuple[dict[str, int], int]],
        statistics: dict[str, dict[str, Any]],
        events: Sequence[str],
        ttl: int,
    ) -> None:
        """New references ``{subject: (histogram, window)}``, the latest
        statistics, and drift events (the newest ``DRIFT_EVENTS_KEPT`` are kept)."""
        pipe = self._redis.pipeline(transaction=True)
        for subject, (hist, window) in references.items():
            key = self._key("drift", "ref", subject)
            pipe.delete(key)
            if hist:
                pipe.hset(key, mapping=cast(Any, hist))
                pipe.expire(key, ttl)
            pipe.hset(self._key("drift", "refwin"), subject, window)
        if statistics:
            pipe.hset(
                self._key("drift", "stats"),
                mapping={k: json.dumps(v) for k, v in statistics.items()},
            )
        if events:
            pipe.lpush(self._key("drift", "events"), *events)
            pipe.ltrim(self._key("drift", "events"), 0, DRIFT_EVENTS_KEPT - 1)
        await self._call("save_drift", pipe.execute)

    async def drift_status(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The latest statistics per subject, and the newest drift events."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self._key("drift", "stats"))
        pipe.lrange(self._key("drift", "events"), 0, -1)
        stats, events = await self._call("drift_status", pipe.execute)
        return (
            {k.decode(): json.loads(v) for k, v in stats.items()},
            [json.loads(e) for e in events],
        )

    async def versions(
        self, model: str, first: int | None = None, last: int | None = None
    ) -> list[dict[str, Any]]:
        """Metadata of every logged version (from ``first`` to ``last``, if
        given), oldest first."""
        key = self._key("model", model, "versions")
        if first is None and last is None:
            raw = await self._call("versions", lambda: self._redis.zrange(key, 0, -1))
        else:
            low, high = "-inf" if first is None else first, "+inf" if last is None else last
            raw = await self._call(
                "versions", lambda: self._redis.zrange(key, low, high, byscore=True)
            )
        return [json.loads(cast(bytes, r)) for r in raw]
