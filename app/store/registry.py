"""The model registry: versions (the learner's state, the model, its
challengers' models, signed), their log, the versions kept for rollbacks
and pins, their announcements, the operators' commands, and who learns.

Keys (``P`` is ``EDDY_REDIS_PREFIX``, ``M`` the model's line, ``EDDY_MODEL``):

=============================== ===========================================
``P:model:M:head``              newest version and its metadata (hash)
``P:model:M:snap:<version>``    pickled learner state of that version
``P:model:M:serve:<version>``   pickled model of that version: what
                                serving loads
``P:model:M:shadow:<version>``  pickled models of its challengers: what
                                scoring in shadow loads (all three signed:
                                ``app.signing``; absent without challengers)
``P:model:M:versions``          log of every version's metadata (sorted set)
``P:model:M:new`` (channel)     each new version's number, published as it
                                is written: processes load it at once
``P:model:M:kept``              versions whose model is kept past the
                                history, for rollbacks and pins (sorted set)
``P:model:M:commands``          operators' commands, for the learner (list)
``P:model:M:done:<id>``         what became of a command (expires)
``P:learner``                   who owns the learning now (expires unless
                                its owner renews it: a stopped or revoked
                                owner simply stops renewing)
=============================== ===========================================

On a Redis Cluster a model's keys are one group, ``P:{model:M}:...``: one
slot, so a version is written by one script, all or nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio.cluster import RedisCluster

from app.errors import BadSnapshot, SnapshotConflict
from app.signing import Signer
from app.store.base import Keyspace

VERSION_LOG_LENGTH = 100_000


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


class ModelRegistry(Keyspace):
    _signer: Signer
    _history: int
    """Versions whose learner state is kept."""
    _keep_every: int
    _models_kept: int

    def _model_key(self, model: str, *parts: str | int) -> str:
        """A key of ``model``'s line: all of them one group (one slot)."""
        return self._in(f"model:{model}", *parts)

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
            "head", lambda: self._redis.hget(self._model_key(model, "head"), "version")
        )
        return None if raw is None else int(raw)

    async def head_meta(self, model: str) -> dict[str, Any] | None:
        """The newest version's metadata (what it learned, its quality), without its blob."""
        raw = await self._call(
            "head", lambda: self._redis.hget(self._model_key(model, "head"), "meta")
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
        keep_this = keep or version % self._keep_every == 0
        # Kept past the history: the versions it pushes out of the kept
        # ones, named here so that the script declares every key it
        # touches (only the learner writes versions, so they stay so).
        gone = await self._kept_out(model) if keep_this else []
        keys = [
            self._model_key(model, "head"),
            self._model_key(model, "snap", version),
            self._model_key(model, "serve", version),
            self._model_key(model, "versions"),
            self._model_key(model, "snap", oldest),
            self._model_key(model, "serve", oldest),
            self._model_key(model, "kept"),
            self._model_key(model, "shadow", version),
            self._model_key(model, "shadow", oldest),
            *(self._model_key(model, "serve", v) for v in gone),
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
            "1" if keep_this else "0",
            self._models_kept,
            self._signer.sign(f"{model}:shadow:{version}", shadow) if shadow else b"",
            *gone,
        ]
        written, head = await self._call(
            "snapshot", lambda: self._eval(self._redis, "snapshot", keys, args)
        )
        if not written:
            current = int(head) if head else None
            raise SnapshotConflict(f"{model}: head is version {current}, not {base}", current)

    async def _kept_out(self, model: str) -> list[int]:
        """The oldest kept versions, as many as one more kept would push
        past ``models_kept``."""
        kept = await self.kept(model)  # about models_kept versions: one read
        return kept[: max(len(kept) + 1 - self._models_kept, 0)]

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
        pipe.get(self._model_key(model, "serve", version))
        if shadow:
            pipe.get(self._model_key(model, "shadow", version))
        if state:
            pipe.get(self._model_key(model, "snap", version))
        pipe.zrange(self._model_key(model, "versions"), version, version, byscore=True)
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
        key = self._model_key(model, "kept")
        raw = await self._call("kept", lambda: self._redis.zrange(key, 0, -1))
        return [int(cast(bytes, v)) for v in raw]

    async def loadable(self, model: str, version: int) -> bool:
        """Whether ``version``'s model is still in Redis."""
        key = self._model_key(model, "serve", version)
        return bool(await self._call("loadable", lambda: self._redis.exists(key)))

    # -- operators' commands ---------------------------------------------

    async def send_command(self, model: str, command: dict[str, Any]) -> None:
        """Queue a command for the learner (it takes them in order)."""
        key = self._model_key(model, "commands")
        await self._call("command", lambda: self._redis.lpush(key, json.dumps(command)))

    async def next_command(self, model: str) -> dict[str, Any] | None:
        """The oldest command not taken yet, taken."""
        key = self._model_key(model, "commands")
        raw = await self._call("command", lambda: self._redis.rpop(key))
        return None if raw is None else cast(dict[str, Any], json.loads(cast(bytes, raw)))

    async def retake_command(self, model: str, command: dict[str, Any]) -> None:
        """Put a taken command back, first in line (it was not carried out)."""
        key = self._model_key(model, "commands")
        await self._call("command", lambda: self._redis.rpush(key, json.dumps(command)))

    async def command_done(self, model: str, command_id: str, result: dict[str, Any]) -> None:
        """What became of a command (kept an hour)."""
        key = self._model_key(model, "done", command_id)
        await self._call("command", lambda: self._redis.set(key, json.dumps(result), ex=3600))

    async def command_result(self, model: str, command_id: str) -> dict[str, Any] | None:
        key = self._model_key(model, "done", command_id)
        raw = await self._call("command", lambda: self._redis.get(key))
        return None if raw is None else cast(dict[str, Any], json.loads(cast(bytes, raw)))

    def channel(self, model: str) -> str:
        """Where each new version of ``model`` is announced."""
        return self._key("model", model, "new")  # a channel, not a key: no group

    async def announced(self, model: str) -> AsyncGenerator[int | None, None]:
        """The versions of ``model`` as they are written: a push, not a poll.
        Yields None first, once subscribed: what was written before is the
        caller's to read. Raises ``StoreUnavailable`` when the connection is
        lost: what is published meanwhile is not replayed, so subscribe
        again and read the head."""
        if isinstance(self._redis, RedisCluster):
            # Its map of slots to nodes, which a subscription needs, comes
            # with the first command: this may be the first.
            await self._call("subscribe", self._redis.initialize)
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

    async def versions(
        self, model: str, first: int | None = None, last: int | None = None
    ) -> list[dict[str, Any]]:
        """Metadata of every logged version (from ``first`` to ``last``, if
        given), oldest first."""
        key = self._model_key(model, "versions")
        if first is None and last is None:
            raw = await self._call("versions", lambda: self._redis.zrange(key, 0, -1))
        else:
            low, high = "-inf" if first is None else first, "+inf" if last is None else last
            raw = await self._call(
                "versions", lambda: self._redis.zrange(key, low, high, byscore=True)
            )
        return [json.loads(cast(bytes, r)) for r in raw]
