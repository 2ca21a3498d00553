"""Redis semantics the worker relies on, against the real server and the
real Redis Cluster (every test on both)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import cast

import pytest
from redis.asyncio.cluster import RedisCluster

from app.errors import SnapshotConflict
from app.store import DUPLICATE, Store
from app.store import pending as pending_store
from tests.conftest import both_redis

pytestmark = [pytest.mark.integration, both_redis]


async def test_first_scoring_wins_and_each_event_is_claimed_once(store: Store) -> None:
    await store.put_pending([("a", b"first"), ("b", b"b")], ttl=60)
    await store.put_pending([("a", b"second")], ttl=60)  # a redelivered feature event

    assert await store.join([("a", 5), ("z", 6)], ttl=60) == [b"first", None]
    # The same offset again (a learner replaying after a crash) still owns it;
    # any other offset is a duplicate.
    assert await store.join([("a", 5), ("a", 9), ("b", 7)], ttl=60) == [b"first", DUPLICATE, b"b"]


async def test_pending_events_are_counted_without_a_scan(store: Store) -> None:
    assert await store.count_pending(ttl=3600) == 0
    await store.put_pending([("a", b"1"), ("b", b"2"), ("a", b"again")], ttl=3600)
    await store.put_pending([("b", b"redelivered"), ("c", b"3")], ttl=3600)
    assert await store.count_pending(ttl=3600) == 3  # each event once
    # The minute's counter outlives the records it counts (the puts may have
    # fallen in the minute before this one).
    minute = int(time.time() // 60)
    counter = [store._count_key(store._bucket("c"), m) for m in (minute - 1, minute)]
    ttls = [await store._redis.ttl(key) for key in counter]
    assert any(3600 < t <= 3720 for t in ttls)


async def test_pending_records_expire(store: Store) -> None:
    await store.put_pending([("a", b"x")], ttl=60)
    ttl = await store._redis.ttl(store._event_key("pending", "a"))
    assert 0 < ttl <= 60


async def test_snapshots_are_compare_and_set(store: Store) -> None:
    await store.save_snapshot("m", None, 0, b"v0", {"learned": 0})
    await store.save_snapshot("m", 0, 1, b"v1", {"learned": 10})
    with pytest.raises(SnapshotConflict):
        await store.save_snapshot("m", 0, 1, b"fork", {"learned": 5})
    with pytest.raises(SnapshotConflict):
        await store.save_snapshot("m", None, 0, b"again", {})

    head = await store.load_snapshot("m")
    assert head is not None and head.version == 1 and head.blob == b"v1"
    assert head.meta["learned"] == 10
    assert [v["version"] for v in await store.versions("m")] == [0, 1]


async def test_old_snapshots_are_trimmed_but_versions_are_logged(store: Store) -> None:
    await store.save_snapshot("m", None, 0, b"v0", {})
    for v in range(1, 15):
        await store.save_snapshot("m", v - 1, v, f"v{v}".encode(), {})
    kept = store._history  # the fixture's snapshot_history
    assert await store.load_snapshot("m", 14 - kept) is None
    oldest_kept = await store.load_snapshot("m", 15 - kept)
    assert oldest_kept is not None and oldest_kept.blob == f"v{15 - kept}".encode()
    assert len(await store.versions("m")) == 15


async def test_each_new_version_is_announced_once_written(store: Store) -> None:
    announced = store.announced("m")
    assert await anext(announced) is None  # subscribed: what came before is read from the head
    await store.save_snapshot("m", None, 0, b"state 0", {}, b"model 0")
    with pytest.raises(SnapshotConflict):
        await store.save_snapshot("m", None, 0, b"fork", {}, b"fork")  # refused: not announced
    await store.save_snapshot("m", 0, 1, b"state 1", {}, b"model 1")
    assert [await anext(announced), await anext(announced)] == [0, 1]
    await announced.aclose()


async def test_serving_reads_the_model_alone(store: Store) -> None:
    await store.save_snapshot("m", None, 0, b"state", {"learned": 3}, b"model")
    alone = await store.load_snapshot("m", 0, state=False)
    assert alone is not None and (alone.blob, alone.model) == (b"", b"model")
    assert alone.meta["learned"] == 3
    whole = await store.load_snapshot("m", 0)
    assert whole is not None and (whole.blob, whole.model) == (b"state", b"model")


async def test_challengers_models_are_kept_and_trimmed_with_their_version(store: Store) -> None:
    await store.save_snapshot("m", None, 0, b"state 0", {}, b"model 0", b"shadow 0")
    alone = await store.load_snapshot("m", 0, state=False)
    assert alone is not None and (alone.model, alone.shadow) == (b"model 0", b"shadow 0")
    bare = await store.load_snapshot("m", 0, state=False, shadow=False)
    assert bare is not None and bare.model == b"model 0" and bare.shadow is None
    whole = await store.load_snapshot("m", 0)
    assert whole is not None and whole.shadow == b"shadow 0"
    await store.save_snapshot("m", 0, 1, b"state 1", {}, b"model 1")  # challengers dropped
    dropped = await store.load_snapshot("m", 1, state=False)
    assert dropped is not None and dropped.shadow is None
    for v in range(2, store._history + 2):
        await store.save_snapshot("m", v - 1, v, b"s", {}, b"m", b"shadow")
    assert not await store._redis.exists(store._model_key("m", "shadow", 0))
    assert await store._redis.exists(store._model_key("m", "shadow", store._history + 1))


async def test_a_tampered_challengers_blob_refuses_its_version(store: Store) -> None:
    await store.save_snapshot("m", None, 0, b"state", {}, b"model", b"shadow")
    key = store._model_key("m", "shadow", 0)
    signed = cast(bytes, await store._redis.get(key))
    await store._redis.set(key, signed[:-1] + b"!")
    snapshot = await store.load_snapshot("m", 0, state=False)
    assert snapshot is not None and snapshot.refusal is not None and snapshot.shadow is None


async def test_fewer_models_kept_pushes_the_oldest_kept_out_at_the_next_kept_version(
    store: Store,
) -> None:
    # Every version kept (keep_every 1), five at most, two versions of history.
    wide = Store(store._redis, store._prefix, 2, 1, 5, signer=store._signer)
    await wide.save_snapshot("m", None, 0, b"s", {}, b"m0")
    for v in range(1, 7):
        await wide.save_snapshot("m", v - 1, v, b"s", {}, f"m{v}".encode())
    assert await wide.kept("m") == [2, 3, 4, 5, 6]
    # The operator lowers EDDY_MODELS_KEPT to 2: the next kept version
    # pushes out the three oldest, and their models (past the history) go.
    narrow = Store(store._redis, store._prefix, 2, 1, 2, signer=store._signer)
    await narrow.save_snapshot("m", 6, 7, b"s", {}, b"m7")
    assert await narrow.kept("m") == [6, 7]
    assert [await narrow.loadable("m", v) for v in range(2, 8)] == [False] * 4 + [True] * 2


async def test_a_batch_spread_over_the_clusters_nodes_is_stored_and_joined_in_order(
    store: Store, redis_kind: str
) -> None:
    ids = [f"event-{i}" for i in range(300)]
    await store.put_pending([(e, e.encode()) for e in ids], ttl=600)
    assert await store.count_pending(ttl=600) == 300
    claims = [(e, i) for i, e in enumerate(reversed(ids))]
    assert await store.join(claims, ttl=600) == [e.encode() for e in reversed(ids)]
    # Each event's record and claim share a slot; on the cluster the batch
    # spreads over the groups, and so over every node.
    keys = [store._event_key(kind, e) for e in ids for kind in ("pending", "claim")]
    if redis_kind == "redis-cluster":
        cluster = cast(RedisCluster, store._redis)
        nodes = {getattr(cluster.get_node_from_key(k), "name", None) for k in keys}
        assert len(nodes) == 3
        for e in ids:
            pending, claim = store._event_key("pending", e), store._event_key("claim", e)
            assert cluster.keyslot(pending) == cluster.keyslot(claim)
    else:
        assert all("{" not in k for k in keys)  # one server: the names as they always were


async def test_scripts_lost_by_redis_are_sent_again(store: Store) -> None:
    await store.put_pending([("a", b"1")], ttl=60)
    await store._redis.script_flush()  # a restarted server, or a new primary, has none
    await store.put_pending([("b", b"2")], ttl=60)
    assert await store.join([("a", 1), ("b", 2)], ttl=60) == [b"1", b"2"]


async def test_pending_counted_by_hours_and_the_minutes_at_the_windows_start(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Events stored at 10:50, 11:10 and 12:05 (minutes of a made-up day).
    clock = {"now": 0.0}
    monkeypatch.setattr(pending_store, "time", SimpleNamespace(time=lambda: clock["now"]))
    base = 1_000_000 * 60.0  # a whole hour
    for at, ids in ((50, "abc"), (70, "de"), (125, "f")):
        clock["now"] = base + at * 60
        await store.put_pending([(i, b"x") for i in ids], ttl=10 * 3600)
    clock["now"] = base + 130 * 60  # 12:10
    # Kept for the last 85, 79, 60 or 5 minutes: the window starts before
    # 10:50, just after it, at 11:10 (mid-hour each time), or inside the
    # current hour; whole hours are read from the hour's counters.
    counted = [await store.count_pending(ttl=m * 60) for m in (85, 79, 60, 5)]
    assert counted == [6, 3, 3, 1]
