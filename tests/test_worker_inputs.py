"""Bad input and awkward labels through a running worker: dead letters with
reasons and coordinates, outcomes counted, the stream never stops."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer

from app.selection import sampled
from app.settings import Settings
from app.store import Store
from tests.harness import Reader, Worker, eventually, produce, wait_assigned

pytestmark = pytest.mark.integration

BAD_FEATURES: dict[str, bytes] = {
    "invalid_json": b'{"event_id": "bad-1", "features": {',
    "schema_violation": b'{"event_id": "bad-2", "features": [1, 2]}',
    "missing_event_id": b'{"features": {"x": 1.0}}',
    "non_finite_value": b'{"event_id": "bad-4", "features": {"x": NaN}}',
    "oversize_payload": json.dumps(
        {"event_id": "bad-5", "features": {"x": 1.0, "pad": "p" * 2000}}
    ).encode(),
    "too_many_features": json.dumps(
        {"event_id": "bad-6", "features": {f"f{i}": i for i in range(20)}}
    ).encode(),
}


def feature(i: int) -> bytes:
    return json.dumps(
        {"event_id": f"ok-{i}", "features": {"x": float(i % 7), "c": "ab"[i % 2]}}
    ).encode()


async def test_bad_input_is_dead_lettered_and_labels_are_counted(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(
        max_payload_bytes=1024,
        max_event_features=10,
        label_max_delay_seconds=60,
        pending_ttl_seconds=600,
        label_wait_seconds=1,
    )
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = {}
        # Bad events between good ones, all on partition 0: the stream must go on.
        for i in range(10):
            await producer.send_and_wait(settings.topic_features, feature(i), partition=0)
        for reason, raw in BAD_FEATURES.items():
            meta = await producer.send_and_wait(settings.topic_features, raw, partition=0)
            sent[reason] = (meta.offset, raw)
        for i in range(10, 20):
            await producer.send_and_wait(settings.topic_features, feature(i), partition=0)

        async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
            await reader.until("20 predictions", lambda v: len(v) >= 20, 30)
            assert sorted(p["event_id"] for p in reader.values) == sorted(
                f"ok-{i}" for i in range(20)
            )

        async with Reader(settings.kafka_bootstrap, settings.topic_dead_letter) as reader:
            letters = await reader.until("6 dead letters", lambda v: len(v) >= 6, 30)
        by_reason = {d["reason"]: d for d in letters}
        assert set(by_reason) == set(BAD_FEATURES)
        for reason, (offset, raw) in sent.items():
            letter = by_reason[reason]
            assert letter["source"] == {
                "topic": settings.topic_features,
                "partition": 0,
                "offset": offset,
            }
            assert letter["error"]
            if reason == "oversize_payload":
                assert letter["payload_truncated"] is True
                assert letter["payload"].encode() == raw[: settings.max_payload_bytes]
            else:
                assert letter["payload"].encode() == raw

        now_ms = int(time.time() * 1000)
        labels = [
            (b"ok-0", {"event_id": "ok-0", "label": True}, now_ms),
            (b"ok-1", {"event_id": "ok-1", "label": False}, now_ms),
            (b"ok-0", {"event_id": "ok-0", "label": False}, now_ms),  # duplicate
            (b"nobody", {"event_id": "nobody", "label": True}, now_ms),  # unknown
            (b"ok-2", {"event_id": "ok-2", "label": True}, now_ms + 3_600_000),  # an hour late
            (b"ok-3", {"event_id": "ok-3", "label": 0.5}, now_ms),  # not a class
            (b"ok-4", {"event_id": "ok-4"}, now_ms),  # no label
        ]
        for key, label, ts in labels:
            # One partition keeps their order: the duplicate comes second.
            await producer.send_and_wait(
                settings.topic_labels,
                json.dumps(label).encode(),
                key=key,
                partition=0,
                timestamp_ms=ts,
            )
    finally:
        await producer.stop()

    async def counted() -> dict[str, int] | None:
        meta = await store.head_meta(settings.model)
        outcomes: dict[str, int] = meta["outcomes"] if meta else {}
        return outcomes if sum(outcomes.values()) >= 5 else None

    outcomes = await eventually("5 label outcomes", counted, 30)
    assert outcomes == {
        "joined": 2,
        "duplicate": 1,
        "unknown": 1,
        "expired": 1,
        "invalid": 0,
        "overflow": 0,
        "failed": 0,
        "frozen": 0,
        "unsampled": 0,
    }
    meta = await store.head_meta(settings.model)
    assert meta is not None and meta["learned"] == 2

    async with Reader(settings.kafka_bootstrap, settings.topic_dead_letter) as reader:
        letters = await reader.until("8 dead letters", lambda v: len(v) >= 8, 30)
    label_letters = {d["reason"] for d in letters if d["source"]["topic"] == settings.topic_labels}
    assert label_letters == {"label_type_mismatch", "schema_violation"}
    assert worker.alive()


async def test_a_sampled_share_of_events_keeps_features_and_the_others_labels_count_unsampled(
    make_settings: Callable[..., Settings], spawn: Callable[[Settings], Worker], store: Store
) -> None:
    settings = make_settings(pending_sample=0.3, label_wait_seconds=30)
    worker = spawn(settings)
    await wait_assigned([worker], {settings.topic_features: 4, settings.topic_training: 1})
    ids = [f"ok-{i}" for i in range(200)]
    kept = [e for e in ids if sampled(e, 0.3)]
    assert 30 < len(kept) < 90
    records = [(settings.topic_features, e, feature(i)) for i, e in enumerate(ids)]
    records += [
        (settings.topic_labels, e, json.dumps({"event_id": e, "label": True}).encode()) for e in ids
    ]
    await produce(settings.kafka_bootstrap, records)

    async with Reader(settings.kafka_bootstrap, settings.topic_predictions) as reader:
        await reader.until("every event predicted", lambda v: len(v) >= len(ids), 30)

    async def settled() -> dict[str, int] | None:
        meta = await store.head_meta(settings.model) or {}
        outcomes = meta.get("outcomes", {})
        done = outcomes.get("joined", 0) + outcomes.get("unsampled", 0)
        return outcomes if done == len(ids) else None

    # Unsampled labels do not wait out EDDY_LABEL_WAIT_SECONDS (30 s here).
    outcomes = await eventually("every label's outcome", settled, 20)
    assert outcomes["joined"] == len(kept) and outcomes["unsampled"] == len(ids) - len(kept)
    assert outcomes["unknown"] == 0
    assert await store.count_pending(settings.pending_ttl_seconds) == len(kept)
